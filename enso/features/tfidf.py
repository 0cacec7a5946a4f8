"""TF-IDF over word n-grams: the count-based baseline, fit on the train split."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from enso.features.base import Featurizer, FeaturizerTags, is_blank
from enso.params import Bool, Choice, Integer, Number, check_int


class TfidfFeaturizer(Featurizer):
    """Word ``ngram_min``..``ngram_max``-grams, sublinear tf, idf and vocabulary from the train split.

    Rows are L2-normalised (``norm``); a text with no known n-gram is a zero row.
    """

    name = "tfidf"
    tags = FeaturizerTags(in_domain=True, sparse=True)
    _parameter_constraints: ClassVar[dict] = {
        "ngram_min": Integer(1), "ngram_max": Integer(1), "min_df": Integer(1), "max_df": Number(0.0, 1.0),
        "max_features": Integer(1, allow_none=True), "sublinear_tf": Bool(), "lowercase": Bool(),
        "norm": Choice("l2", "l1", None), "smooth_idf": Bool(),
    }

    def __init__(self, ngram_min: int = 1, ngram_max: int = 2, min_df: int = 1, max_df: float = 1.0,
                 max_features: int | None = None, sublinear_tf: bool = True, lowercase: bool = True,
                 norm: str | None = "l2", smooth_idf: bool = True):
        self.ngram_min = ngram_min
        self.ngram_max = ngram_max
        self.min_df = min_df
        self.max_df = max_df
        self.max_features = max_features
        self.sublinear_tf = sublinear_tf
        self.lowercase = lowercase
        self.norm = norm
        self.smooth_idf = smooth_idf

    def _check_together(self) -> None:
        check_int("ngram_max", self.ngram_max, minimum=self.ngram_min)

    def fit(self, texts: Sequence[str]) -> TfidfFeaturizer:
        from sklearn.feature_extraction.text import TfidfVectorizer

        texts = list(texts)
        vectorizer = TfidfVectorizer(
            ngram_range=(self.ngram_min, self.ngram_max), min_df=self.min_df, max_df=float(self.max_df),
            max_features=self.max_features, sublinear_tf=self.sublinear_tf, lowercase=self.lowercase,
            norm=self.norm, smooth_idf=self.smooth_idf, dtype=np.float32,
        )
        try:
            vectorizer.fit(texts)
        except ValueError as exc:  # empty vocabulary, or min_df/max_df leaving nothing
            from enso.errors import EnsoError
            raise EnsoError(f"tfidf could not fit on {len(texts)} train texts: {exc}; "
                            "lower min_df or raise max_df") from exc
        self.vectorizer_ = vectorizer
        self.stats_ = {"fit_texts": len(texts), "vocabulary_size": len(vectorizer.vocabulary_)}
        return self

    def featurize(self, texts: Sequence[str]):
        if not hasattr(self, "vectorizer_"):
            raise RuntimeError("tfidf must be fit on the train split before featurize")
        texts = list(texts)
        X = self.vectorizer_.transform(texts).astype(np.float32).tocsr()
        X.sort_indices()
        self.stats_ = {**getattr(self, "stats_", {}), "empty_texts": sum(map(is_blank, texts)),
                       "zero_rows": int(np.sum(np.diff(X.indptr) == 0))}
        return X
