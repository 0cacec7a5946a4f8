"""Sequence-labelling targets on frozen per-token features: a tag for every token of a sentence.

``X`` is a :class:`enso.tasks.Ragged` of per-token feature rows (``values`` ``(n_tokens, d)``, or
``(n_tokens, layers, d)`` for ``bilstm-mix``), one sequence per sentence; ``y`` a ``Ragged`` of
tag strings (IOB2). ``predict`` gives a ``Ragged`` of tags with the sentences' offsets and
``predict_proba`` (so ``scores``) a ``Ragged`` of per-token probabilities, columns in
``classes_`` order (the sorted tags seen in training).

- ``token-logreg``: softmax regression on each token's vector alone (scikit-learn's L-BFGS
  multinomial logistic regression on the flat token matrix), the per-token probe. ``C`` is
  chosen by inner CV over **sentences** (``cv`` folds of whole sentences, never splitting one),
  scored by a sequence metric (``scoring``, default ``span_f1``), walking each fold's path of
  ``Cs`` from the smallest up with warm starts as ``logreg`` does; ties go to the larger C. Cost:
  ``cv`` warm-started paths plus one final fit, about ``cv + 1`` times a single fit's time
  (on 200k CoNLL-2003 tokens x 384 floats, minutes on one core); pass ``C`` to fit once. The
  path (``linear.warm_path``) and the pick (``search.pick_best``) are ``logreg``'s own.
- ``crf``: a linear-chain CRF (python-crfsuite, L-BFGS) whose state features are the token's
  dense vector (each dimension a named float attribute, standardised on the training tokens,
  plus a bias) and whose transition weights are learnt between every pair of tags. ``c1``/``c2``
  (L1/L2) are fixed parameters, not searched: one fit per cell. L-BFGS stops at the first of
  crfsuite's tests: the objective test (the loss fell by less than ``delta`` of its value over
  the last ``period`` iterations; 1e-5 over 10, crfsuite's defaults), the gradient test
  (``epsilon``) or ``max_iterations``; ``chosen_params`` record the iterations used and
  ``stopped_by`` (``delta``, ``epsilon``, ``max_iterations``; ``converged`` is true for the first two).
  Sentences are read from ``X`` and handed to crfsuite one at a time, so Python never holds the
  attribute dicts of the whole set, nor (from an ``enso.tasks.FileRows``) its feature rows while
  crfsuite fills; crfsuite keeps each value as a double (16 bytes with its id), 1.24 GB for
  CoNLL-2003's training set at d=384. The model file is written in a temporary folder removed
  after training and kept as bytes (``Tagger.open_inmemory``): no pickle.
- ``bilstm`` / ``bilstm-mix``: a small task-specific BiLSTM over the frozen features (the ELMo
  recipe: frozen source, a task RNN on top): a linear projection, one bidirectional LSTM layer,
  dropout, a per-token softmax; Adam; early stopping on the loss of an inner validation split of
  the training **sentences** (or a given validation set), keeping the best epoch (the epoch loop
  is ``neural.train_early_stopped``, ``mlp``'s and ``layer-mix``'s). ``bilstm-mix``
  takes ``(n_tokens, layers, d)`` features (``layers = "all"``) and learns ELMo's scalar mix,
  ``gamma * sum_l softmax(w)_l h_l``, jointly with the tagger. Deterministic on CPU for a given
  ``random_state`` and thread count (seeded generator, the torch thread lock of ``neural``).

Every target here takes ``random_state`` and ``resampler``; resamplers balance one label per
row, so any other than ``"none"`` is refused (the engine refuses them on per-token tasks first).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from enso.params import Bool, Grid, Number, Positive
from enso.targets.base import COMMON_CONSTRAINTS, SCORING_CONSTRAINT, Target, TargetTags
from enso.targets.linear import DEFAULT_CS, warm_path
from enso.targets.neural import _torch_threads, train_early_stopped
from enso.targets.search import fit_quietly, pick_best

SEQUENCE_TASKS = ("sequence-labelling",)


def _ragged(X, what: str = "X"):
    from enso.tasks import Ragged

    if not isinstance(X, Ragged):
        raise TypeError(f"{what} must be a Ragged of per-token rows (one sequence per sentence), got {type(X).__name__}")
    return X


def _flat_tags(y) -> np.ndarray:
    return np.asarray(_ragged(y, "y").values).astype(str)


def _dense(values, ndim: int, name: str) -> np.ndarray:
    import scipy.sparse as sp

    if sp.issparse(values):
        values = values.toarray()
    _check_ndim(values, ndim, name)
    return np.asarray(values, dtype=np.float32)


def _check_ndim(values, ndim: int, name: str) -> tuple[int, ...]:
    """``values.shape``, refused unless it has ``ndim`` dimensions (read without reading the values)."""
    shape = tuple(values.shape)
    if len(shape) != ndim:
        wanted = "(n_tokens, layers, d)" if ndim == 3 else "(n_tokens, d)"
        fix = ("featurize with layers = \"all\"" if ndim == 3 else "use bilstm-mix for per-layer features")
        raise ValueError(f"{name} needs {wanted} per-token features, got shape {shape}; {fix}")
    return shape


def _sentence_folds(n_sentences: int, cv: int, seed: int | None):
    """``cv`` folds of whole sentences, shuffled; None when there are fewer sentences than folds."""
    if cv < 2 or n_sentences < cv:
        return None
    from sklearn.model_selection import KFold

    return list(KFold(cv, shuffle=True, random_state=seed).split(np.zeros(n_sentences)))


def _validation_sentences(n_sentences: int, fraction: float, seed: int):
    """Train and validation sentence indices (sorted); None with under 2 sentences or fraction 0."""
    if fraction <= 0 or n_sentences < 2:
        return None
    n_val = min(max(1, round(fraction * n_sentences)), n_sentences - 1)
    order = np.random.default_rng(seed).permutation(n_sentences)
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def _score(metric, y_true: np.ndarray, y_pred: np.ndarray, offsets: np.ndarray, classes, proba) -> float:
    if metric.needs == "spans":
        return metric(y_true, y_pred, offsets=offsets)
    if metric.needs == "labels":
        return metric(y_true, y_pred, classes)
    return metric(y_true, y_pred, classes, ("proba", proba))


class SequenceTarget(Target):
    """Shared parts: Ragged in and out, classes, the resampler refusal, scores per token."""

    tags: ClassVar[TargetTags] = TargetTags(accepts_sparse=False, input_ndim=2, tasks=SEQUENCE_TASKS, proba=True)

    def _check_together(self) -> None:
        super()._check_together()
        from enso.metrics import METRICS

        if self.get_params(deep=False).get("resampler", "none") != "none":
            raise ValueError(f"resampler: {self.name} labels tokens, and resamplers balance one label per row; "
                             "use resampler = \"none\"")
        scoring = self.get_params(deep=False).get("scoring")
        if scoring is not None and SEQUENCE_TASKS[0] not in METRICS.get(scoring).tasks:
            raise ValueError(f"scoring: {METRICS.get(scoring).name} scores one label per row; "
                             "choose a sequence metric (span_f1, token_accuracy)")

    def _start(self, X, y):
        self._validate_params()
        X, y = _ragged(X), _ragged(y, "y")
        if not np.array_equal(X.offsets, y.offsets):
            raise ValueError("X and y have different sentence lengths (their offsets differ)")
        tags = _flat_tags(y)
        self.classes_ = np.unique(tags)
        return X, y, tags

    def predict(self, X):
        from enso.tasks import Ragged

        X = _ragged(X)
        proba = self._proba(X)
        codes = proba.argmax(axis=1) if len(proba) else np.zeros(0, dtype=np.int64)
        return Ragged(self.classes_[codes], X.offsets)

    def predict_proba(self, X):
        from enso.tasks import Ragged

        X = _ragged(X)
        return Ragged(self._proba(X), X.offsets)

    def scores(self, X):
        """``("proba", Ragged)``: per-token probabilities, columns in ``classes_`` order."""
        return "proba", self.predict_proba(X)

    def _proba(self, X) -> np.ndarray:
        raise NotImplementedError


# -- per-token softmax regression ------------------------------------------------------------------


class TokenLogReg(SequenceTarget):
    """Multinomial logistic regression on each token's vector; C by inner CV over sentences (or fixed)."""

    name = "token-logreg"
    #: seconds a + b * training sentences + c * test sentences (ner.toml on 2 idle cores: 0.8 s at 100, 12 s at 1,600)
    cost: ClassVar[tuple[float, float, float]] = (0.1, 0.008, 0.0002)
    _parameter_constraints: ClassVar[dict] = {
        **COMMON_CONSTRAINTS, **SCORING_CONSTRAINT,
        "C": Positive(allow_none=True), "Cs": Grid(), "cv": Positive(integer=True),
        "max_iter": Positive(integer=True), "tol": Positive(),
    }

    def __init__(self, C=None, Cs=DEFAULT_CS, cv=3, max_iter=1000, tol=1e-4, scoring="span_f1", resampler="none",
                 random_state=None):
        self.C = C
        self.Cs = Cs
        self.cv = cv
        self.max_iter = max_iter
        self.tol = tol
        self.scoring = scoring
        self.resampler = resampler
        self.random_state = random_state

    def _estimator(self, C, warm_start=False):
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=C, max_iter=self.max_iter, tol=self.tol, warm_start=warm_start)

    def _path_scores(self, Cs, parts, metric) -> np.ndarray:
        """Mean score of each C over ``parts`` ((fit positions, val positions, val offsets)), warm-started up the path."""
        totals = np.zeros(len(Cs))
        for fit_values, fit_tags, val_values, val_tags, val_offsets in parts:
            if len(np.unique(fit_tags)) < 2:
                return np.full(len(Cs), np.nan)
            for i, model in warm_path(self._estimator, Cs, fit_values, fit_tags):
                proba = model.predict_proba(val_values)
                proba = _expand(proba, model.classes_, self.classes_)
                predicted = self.classes_[proba.argmax(axis=1)]
                totals[i] += _score(metric, val_tags, predicted, val_offsets, self.classes_, proba)
        return totals / len(parts)

    def fit(self, X, y, *, validation=None):
        from enso.metrics import METRICS

        X, y, tags = self._start(X, y)
        values = _dense(X.values, 2, self.name)
        metric = METRICS.get(self.scoring)
        info: dict[str, Any]
        if self.C is not None:
            C, info = float(self.C), {"search": "fixed"}
        elif len(self.classes_) < 2:
            C, info = 1.0, {"search": "defaults: one tag in the training sample"}
        else:
            Cs = np.asarray([float(c) for c in (self.Cs if isinstance(self.Cs, (list, tuple)) else [self.Cs])])
            parts, description = self._parts(X, y, values, tags, validation)
            if parts is None:
                C, info = 1.0, {"search": description}
            else:
                scores = self._path_scores(Cs, parts, metric)
                best = pick_best(scores, metric.greater_is_better, lambda i: Cs[i])  # ties: the larger C
                C = float(Cs[best])
                where = "validation" if validation is not None else "cv"
                info = {"search": description, f"{where}_{metric.name}": round(float(scores[best]), 6),
                        f"{where}_scores": {str(c): round(float(s), 6) for c, s in zip(Cs, scores, strict=True)}}
        if len(self.classes_) < 2:
            self.model_ = None
        else:
            self.model_ = fit_quietly(self._estimator(C), values, tags)
        self.n_fit_ = len(y)
        converged = self.model_ is None or bool(np.max(self.model_.n_iter_) < self.max_iter)
        self.chosen_params_ = {"C": C, **info, "converged": converged}
        return self

    def _parts(self, X, y, values, tags, validation):
        if validation is not None:
            X_val, y_val = _ragged(validation[0]), _ragged(validation[1], "y")
            return [(values, tags, _dense(X_val.values, 2, self.name), _flat_tags(y_val), y_val.offsets)], \
                "given validation split"
        folds = _sentence_folds(len(y), self.cv, self.random_state)
        if folds is None:
            return None, f"defaults: {len(y)} sentences, fewer than cv={self.cv} folds"
        parts = []
        for fit, val in folds:
            fit_positions, val_positions = y.positions(fit), y.positions(val)
            val_offsets = np.concatenate([[0], np.cumsum(y.lengths[val])]).astype(np.int64)
            parts.append((values[fit_positions], tags[fit_positions], values[val_positions], tags[val_positions],
                          val_offsets))
        return parts, f"{len(folds)}-fold inner CV over sentences, shuffled"

    def _proba(self, X) -> np.ndarray:
        values = _dense(X.values, 2, self.name)
        if self.model_ is None:
            return np.ones((len(values), 1), dtype=np.float64)
        return _expand(self.model_.predict_proba(values), self.model_.classes_, self.classes_)


def _expand(proba: np.ndarray, have: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Probability columns of ``have`` placed in the columns of ``classes`` (zeros for the others)."""
    if len(have) == len(classes) and np.array_equal(have, classes):
        return proba
    out = np.zeros((len(proba), len(classes)), dtype=proba.dtype)
    out[:, np.searchsorted(classes, have)] = proba
    return out


# -- linear-chain CRF (python-crfsuite) -----------------------------------------------------------------


#: crfsuite's L-BFGS stops at the first of: the gradient test (``epsilon``), the objective test (the loss fell by
#: less than ``delta`` of its value over the last ``period`` iterations) or ``max_iterations``.
MAX_ITERATIONS, DELTA, PERIOD = 1000, 1e-5, 10
_LBFGS_ENDS = {"L-BFGS resulted in convergence": "epsilon", "L-BFGS terminated with the stopping criteria": "delta",
               "L-BFGS terminated with the maximum number of iterations": "max_iterations"}


def _lbfgs_stop(log: list[str]) -> str:
    """Why crfsuite's L-BFGS stopped, from its training log: ``epsilon`` (the gradient test), ``delta`` (the
    objective test over ``period`` iterations), ``max_iterations``, or ``error: <crfsuite's line>``."""
    for line in reversed(log):
        line = line.strip()
        if line in _LBFGS_ENDS:
            return _LBFGS_ENDS[line]
        if line.startswith("L-BFGS terminated"):
            return f"error: {line}"
    return "unknown: no L-BFGS result in the training log"


class CRF(SequenceTarget):
    """A linear-chain CRF on the dense token vectors (crfsuite's L-BFGS); fixed c1/c2, one fit."""

    name = "crf"
    #: (ner.toml: 16 s at 100, 69 s at 1,600 sentences; 733 s on all 14,041, loaded)
    cost: ClassVar[tuple[float, float, float]] = (2.0, 0.04, 0.003)
    _parameter_constraints: ClassVar[dict] = {
        **COMMON_CONSTRAINTS,
        "c1": Number(0, float("inf")), "c2": Number(0, float("inf")), "max_iterations": Positive(integer=True),
        "epsilon": Positive(), "delta": Positive(), "period": Positive(integer=True), "standardize": Bool(),
        "all_transitions": Bool(),
    }

    def __init__(self, c1=0.0, c2=1.0, max_iterations=MAX_ITERATIONS, epsilon=1e-5, delta=DELTA, period=PERIOD,
                 standardize=True, all_transitions=True, resampler="none", random_state=None):
        self.c1 = c1
        self.c2 = c2
        self.max_iterations = max_iterations
        self.epsilon = epsilon
        self.delta = delta
        self.period = period
        self.standardize = standardize
        self.all_transitions = all_transitions
        self.resampler = resampler
        self.random_state = random_state

    def _scaled(self, values, start: int, end: int) -> list[list[float]]:
        part = _dense(values[start:end], 2, self.name).astype(np.float64)
        if self.scale_ is not None:
            part = (part - self.scale_[0]) / self.scale_[1]
        return part.tolist()

    def _items(self, values, start: int, end: int):
        import pycrfsuite

        names = self.attributes_  # the d feature names, then "bias" (a constant 1: per-tag bias weights)
        return pycrfsuite.ItemSequence([dict(zip(names, [*row, 1.0])) for row in self._scaled(values, start, end)])

    def fit(self, X, y, *, validation=None):
        import pycrfsuite

        X, y, tags = self._start(X, y)
        values = X.values  # read a sentence at a time below (a FileRows stays out of memory while crfsuite fills)
        d = _check_ndim(values, 2, self.name)[1]
        self.attributes_ = [f"f{j}" for j in range(d)] + ["bias"]
        if self.standardize and len(values):
            dense = _dense(values, 2, self.name)  # one copy, gone before crfsuite takes its 1.24 GB on CoNLL-2003
            mean = dense.mean(axis=0, dtype=np.float64)
            std = dense.std(axis=0, dtype=np.float64)
            del dense
            self.scale_ = (mean, np.where(std > 0, std, 1.0))
        else:
            self.scale_ = None
        trainer = pycrfsuite.Trainer(algorithm="lbfgs", verbose=False)
        trainer.set_params({"c1": float(self.c1), "c2": float(self.c2), "max_iterations": int(self.max_iterations),
                            "epsilon": float(self.epsilon), "delta": float(self.delta), "period": int(self.period),
                            "feature.possible_transitions": bool(self.all_transitions)})
        offsets = y.offsets
        for i in range(len(y)):  # one sentence at a time: crfsuite copies it, Python frees the dicts
            start, end = int(offsets[i]), int(offsets[i + 1])
            if end > start:
                trainer.append(self._items(values, start, end), tags[start:end].tolist())
        with tempfile.TemporaryDirectory(prefix="enso-crf-") as folder:
            path = Path(folder) / "model.crfsuite"
            trainer.train(str(path))
            self.model_ = path.read_bytes()
        iterations = trainer.logparser.iterations
        stopped_by = _lbfgs_stop(trainer.logparser.log)
        self._tagger = None
        self.n_fit_ = len(y)
        self.chosen_params_ = {"c1": float(self.c1), "c2": float(self.c2), "max_iterations": int(self.max_iterations),
                               "epsilon": float(self.epsilon), "delta": float(self.delta), "period": int(self.period),
                               "search": "fixed", "iterations": len(iterations),
                               "loss": round(float(iterations[-1]["loss"]), 4) if iterations else None,
                               "stopped_by": stopped_by, "converged": stopped_by in ("epsilon", "delta")}
        if validation is not None:
            self.chosen_params_["validation"] = "not used: c1/c2 and max_iterations are fixed"
        return self

    def _open(self):
        import pycrfsuite

        if getattr(self, "_tagger", None) is None:
            tagger = pycrfsuite.Tagger()
            tagger.open_inmemory(self.model_)
            self._tagger = tagger
            self._labels = list(tagger.labels())
        return self._tagger

    def _tag(self, X):
        """Viterbi tags and per-token marginals of every sentence (computed once per X)."""
        cached = getattr(self, "_last", None)
        if cached is not None and cached[0] is X:
            return cached[1], cached[2]
        tagger = self._open()
        values = X.values
        n = _check_ndim(values, 2, self.name)[0]
        predicted = np.empty(n, dtype=object)
        proba = np.zeros((n, len(self.classes_)), dtype=np.float64)
        columns = np.searchsorted(self.classes_, self._labels)
        offsets = X.offsets
        for i in range(len(X)):
            start, end = int(offsets[i]), int(offsets[i + 1])
            if end == start:
                continue
            predicted[start:end] = tagger.tag(self._items(values, start, end))
            for label, column in zip(self._labels, columns, strict=True):
                proba[start:end, column] = [tagger.marginal(label, t) for t in range(end - start)]
        self._last = (X, predicted.astype(str), proba)
        return self._last[1], proba

    def predict(self, X):
        from enso.tasks import Ragged

        X = _ragged(X)
        return Ragged(self._tag(X)[0], X.offsets)

    def _proba(self, X) -> np.ndarray:
        return self._tag(X)[1]

    def __getstate__(self):  # the tagger is a C object: reopened from the model bytes when needed
        state = dict(self.__dict__)
        state.pop("_tagger", None)
        state.pop("_last", None)
        return state


# -- BiLSTM over frozen features ------------------------------------------------------------------------


_BILSTM_CONSTRAINTS = {
    **COMMON_CONSTRAINTS,
    "hidden": Positive(integer=True), "projection": Positive(integer=True, allow_none=True),
    "dropout": Number(0, 1, high_open=True), "lr": Positive(), "weight_decay": Number(0, float("inf")),
    "max_epochs": Positive(integer=True), "patience": Positive(integer=True), "batch_size": Positive(integer=True),
    "validation_fraction": Number(0, 1, high_open=True),
}


class BiLSTM(SequenceTarget):
    """A one-layer BiLSTM tagger over frozen per-token features, early-stopped on held-out sentences."""

    name = "bilstm"
    #: (ner.toml: 9 s at 100, 68 s at 1,600 sentences; 560 s on all 14,041)
    cost: ClassVar[tuple[float, float, float]] = (1.0, 0.037, 0.001)
    _parameter_constraints: ClassVar[dict] = _BILSTM_CONSTRAINTS
    _input_ndim = 2

    def __init__(self, hidden=128, projection=128, dropout=0.25, lr=5e-3, weight_decay=0.0, max_epochs=30,
                 patience=3, batch_size=32, validation_fraction=0.1, resampler="none",
                 random_state=None):
        self.hidden = hidden
        self.projection = projection
        self.dropout = dropout
        self.lr = lr
        self.weight_decay = weight_decay
        self.max_epochs = max_epochs
        self.patience = patience
        self.batch_size = batch_size
        self.validation_fraction = validation_fraction
        self.resampler = resampler
        self.random_state = random_state

    def _network(self, shape, n_classes):
        import torch

        mix_layers = shape[1] if len(shape) == 3 else 0
        d = shape[-1]
        hidden, projection, dropout = int(self.hidden), self.projection, float(self.dropout)

        class Tagger(torch.nn.Module):
            def __init__(self):
                super().__init__()
                if mix_layers:  # ELMo's scalar mix: gamma * sum_l softmax(w)_l h_l
                    self.mix_logits = torch.nn.Parameter(torch.zeros(mix_layers))
                    self.gamma = torch.nn.Parameter(torch.ones(()))
                self.dropout = torch.nn.Dropout(dropout)
                self.project = torch.nn.Linear(d, projection) if projection else None
                self.lstm = torch.nn.LSTM(projection or d, hidden, batch_first=True, bidirectional=True)
                self.out = torch.nn.Linear(2 * hidden, n_classes)

            def forward(self, x, lengths):
                if mix_layers:
                    x = torch.einsum("l,btld->btd", torch.softmax(self.mix_logits, 0), x) * self.gamma
                x = self.dropout(x)
                if self.project is not None:
                    x = self.project(x)
                packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
                out, _ = self.lstm(packed)
                out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
                return self.out(self.dropout(out))

        return Tagger()

    def _batch(self, values, offsets, sentences):
        """Padded ``(b, t, ...)`` features, lengths, and the flat positions of the batch's tokens."""
        import torch

        lengths = (offsets[sentences + 1] - offsets[sentences]).astype(np.int64)
        width = int(lengths.max()) if len(lengths) else 0
        padded = np.zeros((len(sentences), width, *values.shape[1:]), dtype=np.float32)
        positions = []
        for j, s in enumerate(sentences):
            start, end = int(offsets[s]), int(offsets[s + 1])
            padded[j, :end - start] = values[start:end]
            positions.append(np.arange(start, end))
        mask = np.arange(width)[None, :] < lengths[:, None]
        return (torch.from_numpy(padded), torch.from_numpy(lengths), torch.from_numpy(mask),
                np.concatenate(positions) if positions else np.zeros(0, dtype=np.int64))

    def fit(self, X, y, *, validation=None):
        X, y, tags = self._start(X, y)
        values = _dense(X.values, self._input_ndim, self.name)
        with _torch_threads():
            return self._fit(X, y, values, np.searchsorted(self.classes_, tags), validation)

    def _fit(self, X, y, values, codes, validation):
        import torch

        seed = 0 if self.random_state is None else int(self.random_state)
        torch.manual_seed(seed)
        generator = torch.Generator().manual_seed(seed)
        offsets = y.offsets
        nonempty = np.flatnonzero(y.lengths > 0)
        if validation is not None:
            X_val, y_val = _ragged(validation[0]), _ragged(validation[1], "y")
            val_values = _dense(X_val.values, self._input_ndim, self.name)
            val_tags = _flat_tags(y_val)
            known = np.isin(val_tags, self.classes_)
            val_codes = np.where(known, np.searchsorted(self.classes_, val_tags), -100)  # unseen tags: ignored
            train_sentences, val_sentences, val_offsets = nonempty, np.flatnonzero(y_val.lengths > 0), y_val.offsets
            search = "early stopping on the given validation split"
        else:
            split = _validation_sentences(len(nonempty), self.validation_fraction, seed)
            if split is None:
                train_sentences, val_sentences = nonempty, None
                search = "no validation sentences: trained for max_epochs"
            else:
                train_sentences, val_sentences = nonempty[split[0]], nonempty[split[1]]
                search = f"early stopping on {len(val_sentences)} held-out training sentences"
            val_values, val_codes, val_offsets = values, codes, offsets
        network = self._network(values.shape, len(self.classes_))
        optimizer = torch.optim.Adam(network.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        loss_fn = torch.nn.CrossEntropyLoss(ignore_index=-100)
        target_codes = torch.from_numpy(codes.astype(np.int64))
        val_batches = None
        if val_sentences is not None and len(val_sentences):
            val_batches = [self._batch(val_values, val_offsets, val_sentences[i:i + 256])
                           for i in range(0, len(val_sentences), 256)]
            val_targets = torch.from_numpy(np.asarray(val_codes, dtype=np.int64))

        def train_epoch():
            order = train_sentences[torch.randperm(len(train_sentences), generator=generator).numpy()]
            for start in range(0, len(order), int(self.batch_size)):
                x, lengths, mask, positions = self._batch(values, offsets, order[start:start + int(self.batch_size)])
                optimizer.zero_grad()
                logits = network(x, lengths)[mask]
                loss_fn(logits, target_codes[torch.from_numpy(positions)]).backward()
                optimizer.step()

        def validation_loss():
            total, count = 0.0, 0
            for x, lengths, mask, positions in val_batches:
                wanted = val_targets[torch.from_numpy(positions)]
                kept = int((wanted != -100).sum())
                if kept:
                    logits = network(x, lengths)[mask]
                    total += float(loss_fn(logits, wanted)) * kept
                    count += kept
            return total / count if count else np.inf

        best_epoch, losses = train_early_stopped(network, self.max_epochs, self.patience, train_epoch,
                                                 None if val_batches is None else validation_loss)
        history = [round(loss, 5) for loss in losses]
        self.network_ = network
        self.n_fit_ = len(train_sentences)
        self.chosen_params_ = {"epochs": int(best_epoch), "search": search, "validation_loss": history,
                               **self._describe()}
        return self

    def _describe(self) -> dict[str, Any]:
        if not hasattr(self.network_, "mix_logits"):
            return {}
        import torch

        weights = torch.softmax(self.network_.mix_logits.detach(), 0).numpy()
        return {"layer_weights": [round(float(w), 4) for w in weights], "gamma": round(float(self.network_.gamma.detach()), 4)}

    def _proba(self, X) -> np.ndarray:
        import torch

        values = _dense(X.values, self._input_ndim, self.name)
        out = np.zeros((len(values), len(self.classes_)), dtype=np.float32)
        sentences = np.flatnonzero(X.lengths > 0)
        sentences = sentences[np.argsort(X.lengths[sentences], kind="stable")]  # similar lengths batch together
        with _torch_threads(), torch.no_grad():
            for i in range(0, len(sentences), 256):
                x, lengths, mask, positions = self._batch(values, X.offsets, sentences[i:i + 256])
                logits = self.network_(x, lengths)[mask]
                out[positions] = torch.softmax(logits, dim=1).numpy()
        return out


class BiLSTMMix(BiLSTM):
    """``bilstm`` on ``(n_tokens, layers, d)`` features with ELMo's learnt scalar mix of the layers."""

    name = "bilstm-mix"
    tags: ClassVar[TargetTags] = TargetTags(accepts_sparse=False, input_ndim=3, tasks=SEQUENCE_TASKS, proba=True)
    _input_ndim = 3


__all__ = ["CRF", "SEQUENCE_TASKS", "BiLSTM", "BiLSTMMix", "SequenceTarget", "TokenLogReg"]
