"""Torch targets: a one-hidden-layer MLP, and a learned mix of a transformer's layers.

torch is imported inside ``fit`` so that listing or validating targets stays fast.
Both stop early on a stratified inner validation split of the training sample (when every
class has at least two examples), or on a given validation set, and record the epoch they
kept. The split is made on the sample as given; the resampler then acts on its training
part only, so no early-stopping row has a copy among the rows trained on.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import ClassVar

import numpy as np
import scipy.sparse as sp

from enso.params import Number, Positive
from enso.targets.base import COMMON_CONSTRAINTS, Target, TargetTags
from enso.targets.search import FINAL_STREAM, resample_rows


def _validation_split(y_codes: np.ndarray, fraction: float, seed: int):
    """Train and validation positions, stratified; ``None`` when a class has fewer than 2 examples."""
    _, counts = np.unique(y_codes, return_counts=True)
    if counts.min() < 2 or fraction <= 0:
        return None
    from sklearn.model_selection import train_test_split

    n_val = max(round(fraction * len(y_codes)), len(counts))
    if len(y_codes) - n_val < len(counts):
        return None
    train, val = train_test_split(np.arange(len(y_codes)), test_size=n_val, stratify=y_codes, random_state=seed)
    return np.sort(train), np.sort(val)


def _dense_rows(X, rows=None) -> np.ndarray:
    part = X if rows is None else X[rows]
    if sp.issparse(part):
        part = part.toarray()
    return np.ascontiguousarray(part, dtype=np.float32)


def _thread_limit(default: int) -> int:
    """torch's own thread pool follows the BLAS/OpenMP limit the engine set for this worker."""
    from threadpoolctl import threadpool_info

    limits = [info["num_threads"] for info in threadpool_info() if info.get("user_api") in ("blas", "openmp")]
    return max(1, min(limits)) if limits else default


# torch's random generator and thread count are process-wide: cells that share a process
# (threads of a Dask worker) take turns, so each fit sees only its own seed.
_TORCH_LOCK = threading.Lock()


@contextlib.contextmanager
def _torch_threads():
    """Fit and predict with the same thread count wherever a cell runs, so sums add up in one order."""
    import torch

    with _TORCH_LOCK:
        previous = torch.get_num_threads()
        torch.set_num_threads(_thread_limit(previous))
        try:
            yield
        finally:
            torch.set_num_threads(previous)


#: A validation loss must fall by more than this to count as an improvement.
MIN_IMPROVEMENT = 1e-6


def train_early_stopped(network, max_epochs: int, patience: int, train_epoch: Callable[[], None],
                        validation_loss: Callable[[], float] | None) -> tuple[int, list[float]]:
    """Train ``network`` epoch by epoch and keep its best state by validation loss: the epoch loop of every torch
    target (``mlp``, ``layer-mix``, ``bilstm``).

    Each epoch runs ``train_epoch()`` in train mode, then ``validation_loss()`` in eval mode without gradients;
    training stops after ``patience`` epochs without an improvement of more than ``MIN_IMPROVEMENT``, and the
    best epoch's weights are loaded back. Without ``validation_loss`` it trains ``max_epochs`` epochs. Returns
    the epoch kept (``max_epochs`` when none was validated) and the validation losses; the network is left in
    eval mode.
    """
    import torch

    best_loss, best_epoch, best_state, waited, history = np.inf, int(max_epochs), None, 0, []
    for epoch in range(1, int(max_epochs) + 1):
        network.train()
        train_epoch()
        if validation_loss is None:
            continue
        network.eval()
        with torch.no_grad():
            val_loss = validation_loss()
        history.append(val_loss)
        if val_loss < best_loss - MIN_IMPROVEMENT:
            best_loss, best_epoch, waited = val_loss, epoch, 0
            best_state = {k: v.detach().clone() for k, v in network.state_dict().items()}
        else:
            waited += 1
            if waited >= int(patience):
                break
    if best_state is not None:
        network.load_state_dict(best_state)
    network.eval()
    return best_epoch, history


_TORCH_CONSTRAINTS = {
    **COMMON_CONSTRAINTS,
    "lr": Positive(), "weight_decay": Number(0, float("inf")), "max_epochs": Positive(integer=True),
    "patience": Positive(integer=True), "batch_size": Positive(integer=True),
    "validation_fraction": Number(0, 1, high_open=True),
}


class _TorchTarget(Target):
    def _network(self, n_features, n_classes):
        raise NotImplementedError

    def _tensor(self, X, rows=None):
        import torch

        return torch.from_numpy(_dense_rows(X, rows))

    def fit(self, X, y, *, validation=None):
        """Train; ``validation=(X_val, y_val)`` is used for early stopping instead of an inner split."""
        self._validate_params()
        with _torch_threads():
            return self._fit(X, y, validation)

    def _fit(self, X, y, validation):
        import torch

        y = np.asarray(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        seed = 0 if self.random_state is None else int(self.random_state)
        torch.manual_seed(seed)
        generator = torch.Generator().manual_seed(seed)
        if validation is not None:
            X_given, y_given = validation[0], np.asarray(validation[1])
            known = np.flatnonzero(np.isin(y_given, self.classes_))  # a label never trained on has no output
            train_rows, val_rows = np.arange(len(codes)), known
            val_codes = np.searchsorted(self.classes_, y_given[known])
            search = "early stopping on the given validation split"
        else:
            split = _validation_split(codes, self.validation_fraction, seed)
            train_rows, val_rows = split if split is not None else (np.arange(len(codes)), None)
            X_given, val_codes = X, None if val_rows is None else codes[val_rows]
            search = ("early stopping on a stratified inner validation split" if val_rows is not None
                      else "defaults: a class has fewer than 2 examples, trained for max_epochs without early stopping")
        picked = resample_rows(self.resampler, codes[train_rows], seed, FINAL_STREAM)
        if picked is not None:
            train_rows = train_rows[picked]
        self.n_fit_ = len(train_rows)
        X_train, y_train = self._tensor(X, train_rows), torch.from_numpy(codes[train_rows].astype(np.int64))
        network = self._network(X_train.shape[-1], len(self.classes_))
        # Adam's weight_decay adds the L2 penalty's gradient: plain L2 regularisation
        optimizer = torch.optim.Adam(network.parameters(), lr=self.lr, weight_decay=self.weight_decay, foreach=True)
        loss_fn = torch.nn.CrossEntropyLoss()
        if val_rows is not None and len(val_rows) == 0:
            val_rows = None
        if val_rows is not None:
            X_val, y_val = self._tensor(X_given, val_rows), torch.from_numpy(val_codes.astype(np.int64))

        def train_epoch():
            order = torch.randperm(len(y_train), generator=generator)
            for start in range(0, len(order), self.batch_size):
                batch = order[start:start + self.batch_size]
                optimizer.zero_grad()
                loss_fn(network(X_train[batch]), y_train[batch]).backward()
                optimizer.step()

        def validation_loss():
            return float(loss_fn(network(X_val), y_val))

        best_epoch, _ = train_early_stopped(network, self.max_epochs, self.patience, train_epoch,
                                            None if val_rows is None else validation_loss)
        self.network_ = network
        self.chosen_params_ = {"epochs": int(best_epoch), "search": search, **self._describe()}
        return self

    def _describe(self) -> dict:
        return {}

    def predict_proba(self, X):
        import torch

        out = []
        with _torch_threads(), torch.no_grad():
            for start in range(0, X.shape[0], 4096):
                rows = np.arange(start, min(start + 4096, X.shape[0]))
                out.append(torch.softmax(self.network_(self._tensor(X, rows)), dim=1).numpy())
        return np.concatenate(out) if out else np.zeros((0, len(self.classes_)), dtype=np.float32)

    def predict(self, X):
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


class MLP(_TorchTarget):
    """One hidden ReLU layer with dropout, an L2 penalty and early stopping, trained with Adam."""

    name = "mlp"

    _parameter_constraints: ClassVar[dict] = {**_TORCH_CONSTRAINTS, "hidden": Positive(integer=True),
                              "dropout": Number(0, 1, high_open=True)}

    def __init__(self, hidden=256, dropout=0.5, weight_decay=1e-3, lr=1e-3, max_epochs=200, patience=10,
                 batch_size=32, validation_fraction=0.15, resampler="none", random_state=None):
        self.hidden = hidden
        self.dropout = dropout
        self.weight_decay = weight_decay
        self.lr = lr
        self.max_epochs = max_epochs
        self.patience = patience
        self.batch_size = batch_size
        self.validation_fraction = validation_fraction
        self.resampler = resampler
        self.random_state = random_state

    def _network(self, n_features, n_classes):
        import torch

        return torch.nn.Sequential(
            torch.nn.Linear(n_features, self.hidden), torch.nn.ReLU(), torch.nn.Dropout(self.dropout),
            torch.nn.Linear(self.hidden, n_classes),
        )


class LayerMix(_TorchTarget):
    """A softmax-weighted sum of per-layer features (ELMo-style scalar mix) and a linear classifier.

    Needs ``(n, layers, d)`` features: a transformer featurizer with ``layers = "all"``.
    """

    name = "layer-mix"
    tags = TargetTags(accepts_sparse=False, input_ndim=3)

    _parameter_constraints: ClassVar[dict] = _TORCH_CONSTRAINTS

    def __init__(self, weight_decay=1e-3, lr=1e-2, max_epochs=200, patience=10, batch_size=32,
                 validation_fraction=0.15, resampler="none", random_state=None):
        self.weight_decay = weight_decay
        self.lr = lr
        self.max_epochs = max_epochs
        self.patience = patience
        self.batch_size = batch_size
        self.validation_fraction = validation_fraction
        self.resampler = resampler
        self.random_state = random_state

    def _tensor(self, X, rows=None):
        import torch

        part = np.asarray(X if rows is None else X[rows], dtype=np.float32)
        if part.ndim != 3:
            raise ValueError(f"layer-mix needs (n, layers, d) features, got shape {part.shape}; "
                             "featurize with layers = \"all\"")
        return torch.from_numpy(np.ascontiguousarray(part))

    def _network(self, n_features, n_classes):
        import torch

        class ScalarMix(torch.nn.Module):
            def __init__(self, n_layers, d, k):
                super().__init__()
                self.logits = torch.nn.Parameter(torch.zeros(n_layers))
                self.gamma = torch.nn.Parameter(torch.ones(()))
                self.linear = torch.nn.Linear(d, k)

            def forward(self, x):
                mixed = torch.einsum("l,nld->nd", torch.softmax(self.logits, 0), x) * self.gamma
                return self.linear(mixed)

        return ScalarMix(self._n_layers, n_features, n_classes)

    def fit(self, X, y, *, validation=None):
        self._n_layers = int(np.shape(X)[1]) if np.ndim(X) == 3 else 0
        if np.ndim(X) != 3:
            raise ValueError(f"layer-mix needs (n, layers, d) features, got shape {np.shape(X)}; "
                             "featurize with layers = \"all\"")
        return super().fit(X, y, validation=validation)

    def _describe(self) -> dict:
        import torch

        weights = torch.softmax(self.network_.logits.detach(), 0).numpy()
        return {"layer_weights": [round(float(w), 4) for w in weights]}
