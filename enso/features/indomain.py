"""Word and document vectors trained on the dataset's own train split: word2vec, fastText, doc2vec (gensim).

Training is deterministic: one worker thread, a fixed seed, and a hash function for gensim's
seeded vectors that does not depend on ``PYTHONHASHSEED``, so the same texts give the same
vectors in any process.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from enso.features.base import Featurizer, FeaturizerTags, is_blank
from enso.features.tokens import tokenize_all
from enso.features.vectors import mean_of_vectors
from enso.params import Bool, Choice, Integer, Number, check_int
from enso.seeds import derive_seed


def stable_hashfxn(text: str) -> int:
    """A string hash that is the same in every process (Python's ``hash`` is salted per process)."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")


def _not_enough_text(name: str, texts: int, exc: Exception):
    from enso.errors import EnsoError
    return EnsoError(f"{name} could not train on {texts} train texts ({exc}); lower min_count")


#: Parameters every gensim featurizer takes.
_GENSIM_CONSTRAINTS = {
    "vector_size": Integer(1), "window": Integer(1), "min_count": Integer(1), "epochs": Integer(1),
    "negative": Integer(0), "sample": Number(0.0, 1.0), "seed": Integer(0), "lowercase": Bool(),
}


class _GensimFeaturizer(Featurizer):
    tags = FeaturizerTags(in_domain=True)

    def _common(self) -> dict[str, Any]:
        return {"vector_size": self.vector_size, "window": self.window, "min_count": self.min_count,
                "epochs": self.epochs, "negative": self.negative, "sample": self.sample,
                "seed": self.seed, "workers": 1, "hashfxn": stable_hashfxn}

    def _fitted(self):
        if getattr(self, "model_", None) is None:
            raise RuntimeError(f"{self.name} must be fit on the train split before featurize")
        return self.model_


class Word2VecFeaturizer(_GensimFeaturizer):
    """word2vec trained on the train split (``algorithm``: skipgram or cbow); a text is the mean of its word vectors."""

    name = "word2vec"
    _parameter_constraints: ClassVar[dict] = {"algorithm": Choice("skipgram", "cbow"), **_GENSIM_CONSTRAINTS}

    def __init__(self, algorithm: str = "skipgram", vector_size: int = 100, window: int = 5, min_count: int = 2,
                 epochs: int = 10, negative: int = 5, sample: float = 1e-3, seed: int = 0, lowercase: bool = True):
        self.algorithm = algorithm
        self.vector_size = vector_size
        self.window = window
        self.min_count = min_count
        self.epochs = epochs
        self.negative = negative
        self.sample = sample
        self.seed = seed
        self.lowercase = lowercase

    def _train(self, sentences: list[list[str]]):
        from gensim.models import Word2Vec

        return Word2Vec(sentences, sg=int(self.algorithm == "skipgram"), **self._common())

    def fit(self, texts: Sequence[str]) -> Word2VecFeaturizer:
        sentences = tokenize_all(texts, self.lowercase)
        try:
            self.model_ = self._train(sentences)
        except RuntimeError as exc:
            raise _not_enough_text(self.name, len(sentences), exc) from exc
        self.stats_ = {"fit_texts": len(sentences), "vocabulary_size": len(self.model_.wv)}
        return self

    def featurize(self, texts: Sequence[str]) -> np.ndarray:
        wv = self._fitted().wv
        texts = list(texts)
        X, stats = mean_of_vectors(tokenize_all(texts, self.lowercase), wv,
                                   subword=hasattr(wv, "vectors_ngrams"))
        self.stats_ = {**getattr(self, "stats_", {}), **stats, "empty_texts": sum(map(is_blank, texts))}
        return X


class FastTextFeaturizer(Word2VecFeaturizer):
    """fastText trained on the train split: word vectors from character n-grams, so unseen words get one too."""

    name = "fasttext"
    _parameter_constraints: ClassVar[dict] = {**Word2VecFeaturizer._parameter_constraints,
                                              "min_n": Integer(1), "max_n": Integer(1), "bucket": Integer(1)}

    def __init__(self, algorithm: str = "skipgram", vector_size: int = 100, window: int = 5, min_count: int = 2,
                 epochs: int = 10, negative: int = 5, sample: float = 1e-3, min_n: int = 3, max_n: int = 6,
                 bucket: int = 200_000, seed: int = 0, lowercase: bool = True):
        super().__init__(algorithm, vector_size, window, min_count, epochs, negative, sample, seed, lowercase)
        self.min_n = min_n
        self.max_n = max_n
        self.bucket = bucket

    def _check_together(self) -> None:
        check_int("max_n", self.max_n, minimum=self.min_n)

    def _train(self, sentences: list[list[str]]):
        from gensim.models import FastText

        return FastText(sentences, sg=int(self.algorithm == "skipgram"), min_n=self.min_n, max_n=self.max_n,
                        bucket=self.bucket, **self._common())


class Doc2VecFeaturizer(_GensimFeaturizer):
    """doc2vec (paragraph vectors) trained on the train split; every text's vector is inferred the same way.

    ``algorithm``: pv-dbow (with ``dbow_words``, word vectors trained alongside) or pv-dm.
    Inference starts each text from a vector seeded by its own words, so a row does not depend
    on the rows around it.
    """

    name = "doc2vec"
    _parameter_constraints: ClassVar[dict] = {"algorithm": Choice("pv-dbow", "pv-dm"), **_GENSIM_CONSTRAINTS,
                                              "infer_epochs": Integer(1, allow_none=True), "dbow_words": Bool()}

    def __init__(self, algorithm: str = "pv-dbow", vector_size: int = 100, window: int = 5, min_count: int = 2,
                 epochs: int = 20, infer_epochs: int | None = None, dbow_words: bool = True, negative: int = 5,
                 sample: float = 1e-3, seed: int = 0, lowercase: bool = True):
        self.algorithm = algorithm
        self.vector_size = vector_size
        self.window = window
        self.min_count = min_count
        self.epochs = epochs
        self.infer_epochs = infer_epochs
        self.dbow_words = dbow_words
        self.negative = negative
        self.sample = sample
        self.seed = seed
        self.lowercase = lowercase

    def fit(self, texts: Sequence[str]) -> Doc2VecFeaturizer:
        from gensim.models.doc2vec import Doc2Vec, TaggedDocument

        documents = [TaggedDocument(words, [i]) for i, words in enumerate(tokenize_all(texts, self.lowercase))]
        try:
            self.model_ = Doc2Vec(documents, dm=int(self.algorithm == "pv-dm"), dbow_words=int(self.dbow_words),
                                  **self._common())
        except RuntimeError as exc:
            raise _not_enough_text(self.name, len(documents), exc) from exc
        self.stats_ = {"fit_texts": len(documents), "vocabulary_size": len(self.model_.wv)}
        return self

    def infer(self, words: list[str]) -> np.ndarray:
        """gensim's ``infer_vector``, with a start vector and random stream that are the same in every process."""
        from gensim.models.doc2vec_inner import train_document_dbow, train_document_dm
        from gensim.models.keyedvectors import pseudorandom_weak_vector

        model = self._fitted()
        key = " ".join(words)
        model.random = np.random.RandomState(derive_seed(self.seed, "doc2vec-infer", key))
        vector = pseudorandom_weak_vector(model.dv.vector_size, seed_string=key or "<empty>",
                                          hashfxn=stable_hashfxn).reshape(1, -1)
        lockf = np.ones(1, dtype=np.float32)
        work = np.zeros(model.layer1_size, dtype=np.float32)
        neu1 = np.zeros(model.layer1_size, dtype=np.float32)
        epochs = self.infer_epochs or model.epochs
        alpha, min_alpha = model.alpha, model.min_alpha
        step = (alpha - min_alpha) / max(epochs - 1, 1)
        for _ in range(epochs):
            if model.sg:
                train_document_dbow(model, words, [0], alpha, work, learn_words=False, learn_hidden=False,
                                    doctag_vectors=vector, doctags_lockf=lockf)
            else:
                train_document_dm(model, words, [0], alpha, work, neu1, learn_words=False, learn_hidden=False,
                                  doctag_vectors=vector, doctags_lockf=lockf)
            alpha -= step
        return vector[0]

    def featurize(self, texts: Sequence[str]) -> np.ndarray:
        model = self._fitted()
        texts = list(texts)
        vocab = model.wv.key_to_index
        X = np.zeros((len(texts), model.dv.vector_size), dtype=np.float32)
        tokens = oov = unknown_only = 0
        for i, words in enumerate(tokenize_all(texts, self.lowercase)):
            known = [w for w in words if w in vocab]
            tokens += len(words)
            oov += len(words) - len(known)
            if known:
                X[i] = self.infer(words)
            else:
                unknown_only += 1
        self.stats_ = {**getattr(self, "stats_", {}), "tokens": tokens, "oov_tokens": oov,
                       "oov_share": round(oov / tokens, 6) if tokens else 0.0,
                       "texts_without_vectors": unknown_only, "empty_texts": sum(map(is_blank, texts))}
        return X
