"""Features per token (sequence labelling): one row per word, for every word of every sentence.

A featurizer that can give per-token rows has ``"token"`` in ``tags.units`` and implements
``featurize_tokens(token_lists)`` (``Featurizer.featurize_tokens_into`` streams it into the
cache's memory map). The rows of sentence ``i`` follow those of sentence ``i - 1``: the cache
stores one flat ``(n_tokens, d)`` (or ``(n_tokens, layers, d)``, or CSR) matrix per
(featurizer, dataset) beside the sentence offsets. Three kinds live here:

- **transformer encoders** (``minilm``, ``hf-encoder``, ``random-encoder``): each sentence's
  words go through the tokenizer as pre-split words (``is_pretokenized``, the fast
  tokenizer's ``is_split_into_words``); ``word_ids`` map sub-words back to words, and a word's
  vector is its **first** sub-word's hidden state (``subword = "first"``, the default, as in
  BERT's NER recipe) or the **mean** of its sub-words' (``subword = "mean"``). With
  ``layers = "all"`` each word gets every layer's vector (embeddings and each block):
  ``(n_tokens, layers + 1, d)``. Vectors are not normalised. Special tokens are never a word.
  *No word is dropped*: a sentence longer than ``max_length`` sub-words is cut into
  consecutive windows of whole words, each encoded on its own with its special tokens (a
  word near a window edge sees less context; ``sentences_in_windows`` counts them); a single
  word longer than a window keeps its first sub-words; a word the tokenizer turns into no
  sub-word at all (a lone zero-width character) is encoded as the unknown token
  (``words_as_unknown`` counts them).
- **static vectors** (``glove-6b-50d``, ``static-vectors``): the word's vector (lowercased
  when the featurizer lowercases); a word without one gets the **zero vector** (fastText
  models build one from character n-grams instead); ``oov_share`` is recorded.
- **word-shape** (in-domain, sparse): the baseline of hand-made features every NER system
  before neural ones used: the word (lowercased), its shape (``Xxxx``, ``dd-dd``), prefixes
  and suffixes up to ``affix_length``, capitalisation, digit and punctuation flags, and the
  words and shapes of the ``window`` neighbours each side (``<s>``/``</s>`` beyond the
  sentence). The feature vocabulary is fit on the training sentences only (features seen at
  least ``min_count`` times there); a feature only test sentences have is no column.
  Binary CSR rows.
"""

from __future__ import annotations

import contextlib
import re
from collections import Counter
from collections.abc import Callable, Sequence
from typing import ClassVar

import numpy as np

from enso.features.base import Allocate, Featurizer, FeaturizerTags
from enso.params import Bool, Integer

SUBWORD_MODES = ("first", "mean")
_TOKENIZE_CHUNK = 1024


def flatten(token_lists: Sequence[Sequence[str]]) -> tuple[list[str], np.ndarray]:
    """Every token in order, and the sentence offsets (``len(token_lists) + 1`` entries)."""
    lengths = np.fromiter((len(t) for t in token_lists), dtype=np.int64, count=len(token_lists))
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    return [token for tokens in token_lists for token in tokens], offsets


# -- transformer encoders ----------------------------------------------------------------------


class _Window:
    """Whole words ``words[start:stop]`` of one sentence, encoded: their sub-word ids and, per sub-word, its word."""

    __slots__ = ("first_token", "ids", "word_of")

    def __init__(self, first_token: int, ids: np.ndarray, word_of: np.ndarray):
        self.first_token = first_token  # flat index of the window's first word
        self.ids = ids  # int64 sub-word ids, special tokens included
        self.word_of = word_of  # int64, one per sub-word: the word's index in the window, -1 for special tokens


def _unknown_token(tokenizer) -> str:
    model = getattr(tokenizer, "model", None)
    return getattr(model, "unk_token", None) or "[UNK]"


def _encoding_words(encoding) -> tuple[np.ndarray, np.ndarray]:
    word_of = np.asarray([-1 if w is None else w for w in encoding.word_ids], dtype=np.int64)
    return np.asarray(encoding.ids, dtype=np.int64), word_of


def plan_windows(token_lists: Sequence[Sequence[str]], tokenizer, max_length: int,
                 stats: Counter) -> list[_Window]:
    """Each sentence as one encoded window, or as consecutive windows of whole words when it is too long.

    ``tokenizer`` is a ``tokenizers.Tokenizer`` without truncation or padding.
    """
    unknown = _unknown_token(tokenizer)
    windows: list[_Window] = []
    start = 0
    for chunk_start in range(0, len(token_lists), _TOKENIZE_CHUNK):
        chunk = [list(t) for t in token_lists[chunk_start:chunk_start + _TOKENIZE_CHUNK]]
        encodings = tokenizer.encode_batch(chunk, is_pretokenized=True, add_special_tokens=True)
        for words, encoding in zip(chunk, encodings):
            ids, word_of = _encoding_words(encoding)
            present = np.zeros(len(words), dtype=bool)
            present[word_of[word_of >= 0]] = True
            if not present.all():  # a word with no sub-word: encode it as the unknown token
                stats["words_as_unknown"] += int((~present).sum())
                words = [w if ok else unknown for w, ok in zip(words, present)]
                ids, word_of = _encoding_words(tokenizer.encode(words, is_pretokenized=True))
            if len(ids) <= max_length:
                windows.append(_Window(start, ids, word_of))
            else:
                stats["sentences_in_windows"] += 1
                windows.extend(_split(words, word_of, start, tokenizer, max_length, stats))
            start += len(words)
    return windows


def _split(words: list[str], word_of: np.ndarray, start: int, tokenizer, max_length: int,
           stats: Counter) -> list[_Window]:
    specials = int((word_of < 0).sum())
    budget = max(1, max_length - specials)
    counts = np.bincount(word_of[word_of >= 0], minlength=len(words))
    pieces: list[tuple[int, int]] = []
    begin, used = 0, 0
    for j, count in enumerate(counts.tolist()):
        if j > begin and used + count > budget:
            pieces.append((begin, j))
            begin, used = j, 0
        used += count
    pieces.append((begin, len(words)))
    out = []
    for a, b in pieces:
        encoding = tokenizer.encode(words[a:b], is_pretokenized=True)
        ids, of = _encoding_words(encoding)
        if len(ids) > max_length:  # one word longer than a window: keep its first sub-words and the last special
            stats["words_truncated"] += 1
            keep = np.r_[np.arange(max_length - 1), len(ids) - 1]
            ids, of = ids[keep], of[keep]
        out.append(_Window(start + a, ids, of))
    return out


def window_batches(lengths: np.ndarray, batch_size: int, per_window: int = 48, most: int = 8) -> list[np.ndarray]:
    """Windows grouped longest first: ``batch_size`` of them, or more when they are short.

    A batch of short windows takes as many as fit in ``batch_size * per_window`` padded sub-words
    (at most ``most * batch_size``): most CoNLL sentences are short, and a forward pass over 32
    sentences of 3 words costs little more than over 1. Each window's vectors do not depend on
    the batch it is in (padding is masked).
    """
    order = np.argsort(-lengths, kind="stable")
    budget = batch_size * per_window
    batches, start = [], 0
    while start < len(order):
        width = int(lengths[order[start]])
        size = int(min(most * batch_size, max(batch_size, budget // max(width, 1))))
        batches.append(order[start:start + size])
        start += size
    return batches


def transformer_tokens_into(featurizer, token_lists: Sequence[Sequence[str]], allocate: Allocate | None,
                            progress: Callable[[int], None] | None = None) -> np.ndarray:
    """Per-word vectors of a transformer featurizer (``minilm``, ``hf-encoder``, ``random-encoder``).

    ``featurizer.subword`` picks ``"first"`` or ``"mean"``; ``featurizer.layers`` ``"last"`` or
    ``"all"``. ``progress(k)`` is told whenever ``k`` more tokens are done.
    """
    import torch
    from tokenizers import Tokenizer

    from enso.features import encoder

    resolved = featurizer.resolved()
    model, tokenizer = featurizer._load(resolved)
    mode = getattr(featurizer, "subword", "first")
    if mode not in SUBWORD_MODES:
        raise ValueError(f"subword must be one of {', '.join(SUBWORD_MODES)}, got {mode!r}")
    max_length = int(resolved["max_length"])
    whole = Tokenizer.from_str(tokenizer.to_str())  # the same tokenizer, without truncation
    whole.no_truncation()
    whole.no_padding()
    stats: Counter = Counter()
    n_tokens = sum(len(t) for t in token_lists)
    dim = int(model.config.hidden_size)
    n_layers = int(model.config.num_hidden_layers) + 1
    all_layers = featurizer.layers == "all"
    shape = (n_tokens, n_layers, dim) if all_layers else (n_tokens, dim)
    out = np.zeros(shape, dtype=np.float32) if allocate is None else allocate(shape)
    if out.shape != shape:
        raise ValueError(f"output array has shape {out.shape}, expected {shape}")
    if not n_tokens:
        featurizer.stats_ = {"tokens": 0}
        return out
    windows = plan_windows(token_lists, whole, max_length, stats)
    device, batch_size = resolved["device"], resolved["batch_size"]
    pad_id = encoder.pad_token_id(tokenizer, model)
    lengths = np.asarray([len(w.ids) for w in windows], dtype=np.int64)
    stats["subwords"] = int(sum(int((w.word_of >= 0).sum()) for w in windows))
    done = np.zeros(n_tokens, dtype=bool)
    with torch.inference_mode(), (encoder.torch_threads() if device == "cpu" else contextlib.nullcontext()):
        for batch in window_batches(lengths, batch_size):
            width = int(lengths[batch].max())
            input_ids = np.full((len(batch), width), pad_id, dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.int64)
            positions, targets = [], []  # flat sub-word positions in the batch, and the flat token each belongs to
            for row, w in enumerate(batch.tolist()):
                window = windows[w]
                input_ids[row, :len(window.ids)] = window.ids
                mask[row, :len(window.ids)] = 1
                real = np.flatnonzero(window.word_of >= 0)
                positions.append(row * width + real)
                targets.append(window.first_token + window.word_of[real])
            positions_t = torch.from_numpy(np.concatenate(positions)).to(device)
            targets_np = np.concatenate(targets)
            ids_t, mask_t = torch.from_numpy(input_ids).to(device), torch.from_numpy(mask).to(device)
            unpadded = bool(lengths[batch].min() == width)
            output = model(input_ids=ids_t, attention_mask=None if unpadded else mask_t,
                           output_hidden_states=all_layers)
            if all_layers:
                hidden = torch.stack([h.float() for h in output.hidden_states], dim=2)  # (B, T, L, d)
            else:
                hidden = output.last_hidden_state.float()  # (B, T, d)
            flat = hidden.reshape(len(batch) * width, *hidden.shape[2:])[positions_t]
            tokens, inverse = np.unique(targets_np, return_inverse=True)
            inverse_t = torch.from_numpy(inverse).to(device)
            if mode == "mean":
                sums = torch.zeros((len(tokens), *flat.shape[1:]), dtype=flat.dtype, device=flat.device)
                sums.index_add_(0, inverse_t, flat)
                counts = torch.bincount(inverse_t, minlength=len(tokens)).to(flat.dtype)
                values = sums / counts.reshape(-1, *([1] * (flat.dim() - 1)))
            else:  # a word's first sub-word: sub-words are in order, so its first occurrence
                first = np.full(len(tokens), len(inverse), dtype=np.int64)
                np.minimum.at(first, inverse, np.arange(len(inverse), dtype=np.int64))
                values = flat[torch.from_numpy(first).to(device)]
            out[tokens] = values.cpu().numpy()
            done[tokens] = True
            if progress:
                progress(len(tokens))
    if not done.all():  # never silently: every token must have been written
        raise RuntimeError(f"{int((~done).sum())} of {n_tokens} tokens got no vector; this is a bug in per_token")
    featurizer.stats_ = {"tokens": n_tokens, "sentences": len(token_lists), "windows": len(windows),
                         "subwords": stats["subwords"], "sentences_in_windows": stats["sentences_in_windows"],
                         "words_truncated": stats["words_truncated"], "words_as_unknown": stats["words_as_unknown"],
                         "subword": mode, "device": device, "precision": resolved["precision"],
                         "batch_size": batch_size}
    return out


# -- static word vectors -------------------------------------------------------------------------


def static_vectors_tokens(featurizer, token_lists: Sequence[Sequence[str]]) -> np.ndarray:
    """The vector of each word (lowercased when ``featurizer`` lowercases), zeros for a word without one."""
    featurizer.prepare()
    kv = featurizer.kv_
    lowercase = featurizer._lowercase()
    words, _ = flatten(token_lists)
    vocab = kv.key_to_index
    keys = [w.lower() if lowercase else w for w in words]
    index = np.fromiter((vocab.get(k, -1) for k in keys), dtype=np.int64, count=len(keys))
    known = index >= 0
    X = np.zeros((len(words), int(kv.vector_size)), dtype=np.float32)
    if known.any():
        X[known] = np.asarray(kv.vectors[index[known]], dtype=np.float32)
    subword = hasattr(kv, "vectors_ngrams")
    if subword:  # fastText: unknown words get a vector from their character n-grams
        for i in np.flatnonzero(~known).tolist():
            X[i] = kv.get_vector(keys[i])
    oov = int((~known).sum())
    featurizer.stats_ = {"tokens": len(words), "oov_tokens": oov,
                         "oov_share": round(oov / len(words), 6) if words else 0.0,
                         "oov_vector": "subword" if subword else "zero", "vocabulary_size": len(kv)}
    return X


# -- the in-domain baseline: word shape, affixes, context ----------------------------------------

_UPPER, _LOWER, _DIGIT = re.compile(r"[A-Z\u00c0-\u00de]"), re.compile(r"[a-z\u00df-\u00ff]"), re.compile(r"[0-9]")


def word_shape(word: str) -> str:
    """``Xxxx`` style: capitals X, lower-case x, digits d, other characters kept; runs longer than 2 cut to 2."""
    mapped = _DIGIT.sub("d", _LOWER.sub("x", _UPPER.sub("X", word)))
    return re.sub(r"(.)\1{2,}", r"\1\1", mapped)


def token_feature_names(words: Sequence[str], window: int, affix_length: int, lowercase: bool) -> list[list[str]]:
    """The feature strings of each word of one sentence."""
    keys = [w.lower() if lowercase else w for w in words]
    shapes = [word_shape(w) for w in words]
    features = []
    n = len(words)
    for i, word in enumerate(words):
        own = [f"w={keys[i]}", f"shape={shapes[i]}", "bias"]
        own += [f"pre{k}={keys[i][:k]}" for k in range(1, affix_length + 1) if len(keys[i]) >= k]
        own += [f"suf{k}={keys[i][-k:]}" for k in range(1, affix_length + 1) if len(keys[i]) >= k]
        if word[:1].isupper():
            own.append("title" if word[1:].islower() or len(word) == 1 else "capital")
        if word.isupper() and any(c.isalpha() for c in word):
            own.append("upper")
        if any(c.isdigit() for c in word):
            own.append("all_digits" if word.isdigit() else "has_digit")
        if "-" in word:
            own.append("hyphen")
        if not any(c.isalnum() for c in word):
            own.append("punct")
        own.append(f"len={min(len(word), 8)}")
        if i == 0:
            own.append("first_word")
        for d in range(1, window + 1):
            for side, j in (("-", i - d), ("+", i + d)):
                if 0 <= j < n:
                    own += [f"w{side}{d}={keys[j]}", f"shape{side}{d}={shapes[j]}"]
                else:
                    own.append(f"w{side}{d}={'<s>' if j < 0 else '</s>'}")
        features.append(own)
    return features


_SHAPE_SPARSE = FeaturizerTags(in_domain=True, sparse=True, units=("token",))
_SHAPE_DENSE = FeaturizerTags(in_domain=True, sparse=False, units=("token",))
MAX_DENSE_FEATURES = 4096


class _ShapeTags:
    """``tags`` of word-shape: sparse on the class (what it is by default), dense for an instance with ``dense``."""

    def __get__(self, obj, cls=None) -> FeaturizerTags:
        return _SHAPE_DENSE if obj is not None and getattr(obj, "dense", False) is True else _SHAPE_SPARSE


class WordShapeFeaturizer(Featurizer):
    """Word, shape, affix and context features per token, the vocabulary fit on the training sentences only.

    ``window``: neighbours each side whose word and shape are features; ``affix_length``: the
    longest prefix and suffix; ``min_count``: a feature is a column when the training sentences
    have it at least so often; ``max_features``: keep only the most frequent ones (ties by
    name); ``lowercase``: words (and affixes) lowercased. Binary rows, sparse (CSR); with
    ``dense = true`` (which needs ``max_features`` <= 4096) a float32 matrix, written in chunks,
    for targets that take dense features only.
    """

    name = "word-shape"
    tags = _ShapeTags()
    _parameter_constraints: ClassVar[dict] = {"window": Integer(0, maximum=5), "affix_length": Integer(0, maximum=6),
                                              "min_count": Integer(1), "max_features": Integer(1, allow_none=True),
                                              "dense": Bool(), "lowercase": Bool()}

    def __init__(self, window: int = 1, affix_length: int = 3, min_count: int = 1, max_features: int | None = None,
                 dense: bool = False, lowercase: bool = True):
        self.window = window
        self.affix_length = affix_length
        self.min_count = min_count
        self.max_features = max_features
        self.dense = dense
        self.lowercase = lowercase

    def _check_together(self) -> None:
        if self.dense and (self.max_features is None or self.max_features > MAX_DENSE_FEATURES):
            raise ValueError(f"dense word-shape features need max_features <= {MAX_DENSE_FEATURES} "
                             f"(one float per feature and token), got {self.max_features}")

    def _names(self, token_lists) -> list[list[str]]:
        return [name for words in token_lists
                for name in token_feature_names(list(words), self.window, self.affix_length, self.lowercase)]

    def fit_tokens(self, token_lists: Sequence[Sequence[str]]) -> WordShapeFeaturizer:
        counts: Counter = Counter(name for names in self._names(token_lists) for name in names)
        kept = [name for name, count in counts.items() if count >= self.min_count]
        if self.max_features is not None:
            kept = sorted(kept, key=lambda name: (-counts[name], name))[:self.max_features]
        kept = sorted(kept)
        self.vocabulary_ = {name: i for i, name in enumerate(kept)}
        self.stats_ = {"fit_sentences": len(token_lists), "fit_tokens": sum(len(t) for t in token_lists),
                       "features": len(kept)}
        return self

    def fit(self, texts):
        from enso.errors import ConfigError

        raise ConfigError("featurizer word-shape gives features per token only (sequence-labelling datasets)")

    def featurize_tokens(self, token_lists: Sequence[Sequence[str]]):
        import scipy.sparse

        vocabulary = getattr(self, "vocabulary_", None)
        if vocabulary is None:
            raise RuntimeError("word-shape must be fit on the training sentences before featurize_tokens")
        indptr, indices = [0], []
        unknown = 0
        for names in self._names(token_lists):
            columns = sorted({vocabulary[n] for n in names if n in vocabulary})
            unknown += sum(n not in vocabulary for n in names)
            indices.extend(columns)
            indptr.append(len(indices))
        n = len(indptr) - 1
        X = scipy.sparse.csr_matrix((np.ones(len(indices), dtype=np.float32), np.asarray(indices, dtype=np.int32),
                                     np.asarray(indptr, dtype=np.int64)), shape=(n, len(vocabulary)))
        self.stats_ = {**getattr(self, "stats_", {}), "tokens": n, "unknown_feature_share":
                       round(unknown / max(1, unknown + len(indices)), 6)}
        return X.toarray() if self.dense else X

    def featurize_tokens_into(self, token_lists, allocate, progress=None):
        """Sparse: the CSR matrix. Dense: rows written into ``allocate`` a chunk of sentences at a time."""
        if not self.dense or allocate is None:
            return super().featurize_tokens_into(token_lists, allocate, progress)
        token_lists = list(token_lists)
        n_tokens = sum(len(t) for t in token_lists)
        out = allocate((n_tokens, len(self.vocabulary_)))
        row = 0
        for start in range(0, len(token_lists), 1000):
            chunk = self.featurize_tokens(token_lists[start:start + 1000])
            out[row:row + len(chunk)] = chunk
            row += len(chunk)
            if progress:
                progress(len(chunk))
        return out

    def featurize(self, texts):
        from enso.errors import ConfigError

        raise ConfigError("featurizer word-shape gives features per token only (sequence-labelling datasets)")


__all__ = ["SUBWORD_MODES", "WordShapeFeaturizer", "flatten", "plan_windows", "static_vectors_tokens",
           "token_feature_names", "transformer_tokens_into", "word_shape"]
