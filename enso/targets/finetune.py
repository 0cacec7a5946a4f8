"""``finetune``: the source model's encoder plus a linear head, every weight trained (ULMFiT's recipe).

See ``FineTune`` and docs/finetuning.md.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

import numpy as np

from enso.params import Bool, Choice, Integer, Number, Positive
from enso.targets.base import COMMON_CONSTRAINTS, SourceFeaturizer, Target, TargetTags
from enso.targets.torch_train import (LOAD_SECONDS, POOLINGS, SCHEDULES, STEP_SECONDS, TEXT_SECONDS,
                                      planned_params)

#: The linear probe's inverse regularisation (the head's start, ``head_init = "probe"``).
PROBE_C = 10.0
#: Seeds of the streams a fit draws from its ``random_state`` (the split, the resampling, the batches).
_SPLIT_STREAM, _RESAMPLE_STREAM, _BATCH_STREAM = 1, 2, 3


class FineTune(Target):
    """Fine-tune the encoder of the featurizer ``source`` names, with a linear head on its pooled output.

    The encoder is the source featurizer's model (its ``SourceModel``: folder, file hashes,
    pooling, normalisation and ``max_length``), so before the first step it embeds a text exactly
    as the frozen featurizer does; the head is a linear layer from that embedding to the classes,
    trained with cross-entropy together with every weight of the encoder.

    **The recipe (ULMFiT, Howard & Ruder 2018, as far as it carries over to a pretrained
    encoder; with Mosbach et al. 2021's advice for small samples):**

    - *Discriminative fine-tuning* (``layer_lr_decay``): the top transformer block gets the peak
      rate ``lr``; each block below gets the rate of the one above divided by ``layer_lr_decay``
      (ULMFiT: 2.6); the embeddings get the lowest, ``lr / layer_lr_decay ** n_blocks``. 1: one
      rate for all. The freshly initialised head has its own rate, ``head_lr``.
    - *Slanted triangular rates* (``schedule = "slanted-triangular"``, ``cut_frac`` 0.1,
      ``ratio`` 32, ULMFiT's values): every group's rate rises linearly from ``1 / ratio`` of its
      peak to the peak over the first ``cut_frac`` of the steps, then falls linearly back.
      ``schedule = "linear"``: BERT's linear warm-up from 0 over ``cut_frac`` of the steps, then
      linear decay to 0.
    - *Gradual unfreezing* (``gradual_unfreeze``): epoch 0 trains the head and the top block,
      each later epoch one more block below, the embeddings last. Off by default (every weight
      trains from the first step); ULMFiT's full recipe is ``gradual_unfreeze = true``.
    - *AdamW with bias correction* (``torch.optim.AdamW``: bias correction is built into its
      update; the ``BertAdam`` of early BERT fine-tuning lacked it, which Mosbach et al. found
      behind much of small-data instability), ``weight_decay`` except on biases and norm
      weights, gradients clipped to norm 1.
    - *Linear probe first* (``head_init = "probe"``, Kumar et al. 2022, LP-FT): the head starts
      as a logistic regression (C = 10) fitted on the frozen embeddings of the training part,
      so fine-tuning starts where the frozen target ends instead of from a random head whose
      gradients first distort the encoder. ``"random"``: torch's default initialisation.
    - *Train long enough*: ``epochs`` passes over the training part, but at least
      ``min_steps`` optimiser steps (small samples give few steps per epoch; Mosbach et al.).
    - *Early stopping* (``patience``): after each epoch the loss on an inner validation split is
      computed; training stops after ``patience`` epochs without improvement and the weights of
      the best epoch are restored. The split is a stratified, seeded ``validation_fraction`` of
      the *training sample* (never test rows), or the ``validation=`` the engine hands ``fit``
      when the protocol gives one. ``patience = 0`` or ``validation_fraction = 0`` (and no given
      validation set): no early stopping, the last epoch's weights.

    Deterministic on CPU: the split, the resampling, the batch order, dropout and the head's
    initialisation are seeded from ``random_state``; torch uses deterministic algorithms and
    the threads the engine gives the cell. On CUDA the forward passes run under bf16 (or fp16
    with a gradient scaler) autocast; on CPU in fp32.

    After ``fit``: ``classes_``; ``n_fit_`` (the rows trained on, after the validation split and
    resampling); ``chosen_params_`` with ``epochs_run``, ``best_epoch`` (1-based; what early
    stopping kept), ``steps``, ``validation`` (``"inner"``, ``"given"`` or ``"none"``),
    ``n_validation``, ``best_validation_loss``, ``max_length``, ``pooling``, ``device``,
    ``precision`` and ``threads``.
    """

    name = "finetune"
    #: Part of every fine-tuning cell's key: bump when a change to the training loop changes predictions.
    version: ClassVar[int] = 1
    tags: ClassVar[TargetTags] = TargetTags(input="texts", accepts_sparse=False, tasks=("classification",),
                                            proba=True)
    #: Seconds per cell ``a + b * n_train + c * n_test`` at the default parameters (MiniLM, 2 CPU cores): what
    #: a reader of ``cost`` gets; ``--dry-run`` uses ``estimate_seconds``, which follows the parameters.
    cost: ClassVar[tuple[float, float, float]] = (30.0, 0.65, 0.015)
    _parameter_constraints: ClassVar[dict] = {
        "source": SourceFeaturizer(),
        "lr": Positive(),
        "head_lr": Positive(allow_none=True),
        "layer_lr_decay": Number(1.0, float("inf")),
        "schedule": Choice(*SCHEDULES),
        "cut_frac": Number(0.0, 1.0, low_open=True, high_open=True),
        "ratio": Number(1.0, float("inf")),
        "gradual_unfreeze": Bool(),
        "epochs": Integer(1, maximum=1000),
        "min_steps": Integer(0, maximum=1_000_000),
        "batch_size": Integer(1, maximum=4096),
        "weight_decay": Number(0.0, float("inf")),
        "max_length": Integer(2, maximum=8192, allow_none=True),
        "pooling": Choice(*POOLINGS),
        "head_init": Choice("probe", "random"),
        "patience": Integer(0, maximum=1000),
        "validation_fraction": Number(0.0, 1.0, high_open=True),
        "max_grad_norm": Positive(allow_none=True),
        "device": Choice("auto", "cpu", "cuda"),
        **COMMON_CONSTRAINTS,
    }

    def __init__(self, source: str = "minilm", lr: float = 5e-5, head_lr: float | None = 2e-3,
                 layer_lr_decay: float = 2.6, schedule: str = "slanted-triangular", cut_frac: float = 0.1,
                 ratio: float = 32.0, gradual_unfreeze: bool = False, epochs: int = 10, min_steps: int = 40,
                 batch_size: int = 16, weight_decay: float = 0.01, max_length: int | None = None,
                 pooling: str = "auto", head_init: str = "probe", patience: int = 2, validation_fraction: float = 0.2,
                 max_grad_norm: float | None = 1.0, device: str = "auto", random_state: int | None = None,
                 resampler: str = "none"):
        self.source = source
        self.lr = lr
        self.head_lr = head_lr
        self.layer_lr_decay = layer_lr_decay
        self.schedule = schedule
        self.cut_frac = cut_frac
        self.ratio = ratio
        self.gradual_unfreeze = gradual_unfreeze
        self.epochs = epochs
        self.min_steps = min_steps
        self.batch_size = batch_size
        self.weight_decay = weight_decay
        self.max_length = max_length
        self.pooling = pooling
        self.head_init = head_init
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.max_grad_norm = max_grad_norm
        self.device = device
        self.random_state = random_state
        self.resampler = resampler

    #: Seconds of one optimiser step on 16 short texts, of encoding one text (inference), and a cell's fixed cost
    #: (loading the model): ``estimate_seconds``'s constants (``torch_train``'s: MiniLM, one thread a cell at
    #: ``--jobs 2`` on 2 cores, calibrated on experiments/finetune.toml's cells).
    STEP_SECONDS: ClassVar[float] = STEP_SECONDS
    TEXT_SECONDS: ClassVar[float] = TEXT_SECONDS
    LOAD_SECONDS: ClassVar[float] = LOAD_SECONDS

    @classmethod
    def estimate_seconds(cls, params: dict[str, Any], n_train: int, n_test: int) -> float:
        """A cell's rough seconds for ``--dry-run`` from its parameters: the steps it will take, the texts it encodes.

        The steps as ``fit`` plans them (``epochs`` passes over the training part, at least ``min_steps``;
        early stopping may stop sooner, so this is an upper end); the texts encoded are the probe's
        (``head_init = "probe"``), then the predictions on the training sample and the test rows.
        """
        values = planned_params(cls, params)
        held = values["validation_fraction"] if values["patience"] else 0.0
        n_fit = max(1, round(n_train * (1 - held)))
        per_epoch = -(-n_fit // values["batch_size"])
        steps = max(values["epochs"], -(-values["min_steps"] // per_epoch)) * per_epoch  # whole epochs, as fit
        step = cls.STEP_SECONDS * values["batch_size"] / 16
        encoded = n_fit * (values["head_init"] == "probe") + n_train + n_test  # the probe, then the predictions
        return cls.LOAD_SECONDS + steps * step + encoded * cls.TEXT_SECONDS

    # -- fitting --

    def _source_model(self, source):
        if source is not None:
            return source
        from enso.features import make_featurizer  # library use without the engine: the named featurizer's model

        return make_featurizer(self.source, {}).configure(device="cpu").source_model_folder()

    def _split(self, y: np.ndarray, validation) -> tuple[np.ndarray, Any, str]:
        """Training positions of the sample, the validation set ``(texts or positions, labels)``, and its kind."""
        from enso.targets.search import resample_rows
        from enso.targets.torch_train import stratified_holdout

        everything = np.arange(len(y))
        kind, held = "none", None
        if self.patience and validation is not None and len(validation[1]):
            kind, held = "given", validation
        elif self.patience and self.validation_fraction > 0:
            seed = None if self.random_state is None else [int(self.random_state), _SPLIT_STREAM]
            split = stratified_holdout(y, self.validation_fraction, int(np.random.default_rng(seed).integers(2**31)))
            if split is not None:
                everything, positions = split
                kind, held = "inner", positions
        picked = resample_rows(self.resampler, y[everything], self.random_state, _RESAMPLE_STREAM)
        train = everything if picked is None else everything[picked]
        return train, held, kind

    # -- the hooks a variant overrides (``lora``: LoRA updates on a frozen encoder) --

    def _prepare_encoder(self, encoder, device: str):
        """``(encoder to train, its trainable parameters in layer groups bottom up)``: here every weight.

        Called right after the encoder is loaded (before the head is initialised, inside the seeded
        context), so a variant that draws random weights here keeps the draws in a fixed order.
        """
        from enso.targets import torch_train as tt

        return encoder, tt.layer_groups(encoder.model)

    def _encoder_state(self, encoder) -> dict:
        """A copy of what training changes in ``encoder`` (to restore the best epoch): here its whole state."""
        from enso.targets import torch_train as tt

        return tt.state_copy(encoder)

    def _load_encoder_state(self, encoder, state: dict) -> None:
        encoder.load_state_dict(state)

    def _finish_encoder(self, encoder):
        """The encoder that predicts, after training and the best epoch's weights are back: here as trained."""
        return encoder

    def _chosen_extras(self, encoder_parameters: int, trainable_parameters: int) -> dict[str, Any]:
        """What a variant adds to ``chosen_params_`` (before ``max_length``): nothing here."""
        return {}

    def fit(self, X, y, *, validation=None, source=None):
        import torch

        from enso.targets import torch_train as tt

        self._validate_params()
        started = time.perf_counter()
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != len(X):
            raise ValueError(f"{self.name} needs one label per text: {len(X)} texts, labels of shape {y.shape}")
        self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise ValueError(f"{self.name} needs at least two classes in the training sample")
        codes = np.searchsorted(self.classes_, y)
        source = self._source_model(source)
        device = tt.resolve_device(self.device)
        train, held, kind = self._split(y, validation)

        with tt.seeded(self.random_state, device=device) as seed:
            encoder, tokenizer = tt.load_encoder(source, device=device, pooling=self.pooling,
                                                 max_length=self.max_length)
            encoder_parameters = sum(p.numel() for p in encoder.parameters())
            encoder, groups = self._prepare_encoder(encoder, device)
            head = torch.nn.Linear(encoder.dim, len(self.classes_)).to(device)
            ids = tt.tokenize(tokenizer, list(X))
            if self.head_init == "probe":  # on the embeddings before the first step (the frozen featurizer's)
                probe_head(head, tt.embed(encoder, [ids[i] for i in train], device=device), codes[train],
                           len(self.classes_), seed)
            val_ids, val_codes = [], np.zeros(0, dtype=np.int64)
            if kind == "given":
                known = np.isin(np.asarray(held[1]), self.classes_)
                given_ids = tt.tokenize(tokenizer, list(held[0]))
                val_ids = [given_ids[i] for i in np.flatnonzero(known)]
                val_codes = np.searchsorted(self.classes_, np.asarray(held[1])[known])
                if not len(val_codes):
                    kind = "none"
            elif kind == "inner":
                val_ids, val_codes = [ids[i] for i in held], codes[held]
            param_groups = tt.discriminative_groups(groups, self.lr, self.layer_lr_decay, self.weight_decay,
                                                    head=list(head.named_parameters()), head_lr=self.head_lr)
            optimizer = tt.make_optimizer(param_groups)
            per_epoch = tt.steps_per_epoch(len(train), self.batch_size)
            epochs = max(self.epochs, -(-self.min_steps // per_epoch))
            total = epochs * per_epoch
            scheduler = tt.make_scheduler(optimizer, self.schedule, total, self.cut_frac, self.ratio)
            scaler = tt.grad_scaler(device)
            unfreezer = tt.GradualUnfreezer(groups, enabled=bool(getattr(self, "gradual_unfreeze", False)))
            rng = np.random.default_rng([seed, _BATCH_STREAM])
            loss_fn = torch.nn.CrossEntropyLoss()
            parameters = [p for g in param_groups for p in g["params"]]
            best, best_loss, best_epoch, waited, steps, epochs_run = None, float("inf"), epochs, 0, 0, 0
            encoder.train()
            for epoch in range(epochs):
                unfreezer.set_epoch(epoch)
                for batch in tt.batch_order(len(train), self.batch_size, rng):
                    rows = train[batch]
                    input_ids, mask = tt.padded(ids, rows, encoder.pad_id, device)
                    target = torch.from_numpy(codes[rows].astype(np.int64)).to(device)
                    with tt.autocast(device):
                        logits = head(encoder(input_ids, mask))
                    loss = loss_fn(logits.float(), target)
                    tt.backward_step(loss, optimizer, scaler, self.max_grad_norm, parameters)
                    scheduler.step()
                    steps += 1
                epochs_run = epoch + 1
                if kind == "none":
                    continue
                logits = tt.embed(encoder, val_ids, batch_size=max(self.batch_size, 32), device=device, head=head)
                value = float(loss_fn(torch.from_numpy(logits), torch.from_numpy(val_codes.astype(np.int64))))
                if value < best_loss - 1e-6:
                    best_loss, best_epoch, waited = value, epoch + 1, 0
                    best = (self._encoder_state(encoder), tt.state_copy(head))
                else:
                    waited += 1
                    if waited >= self.patience:
                        break
            if best is not None and best_epoch != epochs_run:
                self._load_encoder_state(encoder, best[0])
                head.load_state_dict(best[1])
            encoder = self._finish_encoder(encoder)
            for parameter in [*encoder.parameters(), *head.parameters()]:
                parameter.requires_grad_(False)
        encoder.eval()
        self.encoder_, self.head_, self.tokenizer_, self.device_ = encoder, head, tokenizer, device
        self._cached = None
        self.n_fit_ = int(len(train))
        self.chosen_params_ = {
            "epochs_run": int(epochs_run), "best_epoch": int(best_epoch if kind != "none" else epochs_run),
            "epochs_planned": int(epochs), "steps": int(steps), "validation": kind,
            "n_validation": int(len(val_codes)) if kind != "none" else 0,
            "best_validation_loss": float(best_loss) if kind != "none" else None,
            **self._chosen_extras(int(encoder_parameters), int(sum(p.numel() for p in parameters))),
            "max_length": int(encoder.max_length), "pooling": encoder.pooling, "device": device,
            "precision": tt.training_precision(device), "threads": int(torch.get_num_threads()),
            "fit_seconds": round(time.perf_counter() - started, 3),
        }
        return self

    # -- predicting --

    def _check_fitted(self):
        if not hasattr(self, "head_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("this finetune target is not fitted yet; call fit first")

    def _logits(self, X) -> np.ndarray:
        """Head outputs for ``X`` (kept for the same object: the engine asks for labels, then scores)."""
        from enso.targets import torch_train as tt

        self._check_fitted()
        cached = getattr(self, "_cached", None)
        if cached is not None and cached[0] is X and cached[1] == len(X):
            return cached[2]
        ids = tt.tokenize(self.tokenizer_, list(X))
        logits = tt.embed(self.encoder_, ids, batch_size=max(32, self.batch_size), device=self.device_,
                          head=self.head_)
        self._cached = (X, len(X), logits)
        return logits

    def predict_proba(self, X) -> np.ndarray:
        logits = self._logits(X).astype(np.float64)
        logits -= logits.max(axis=1, keepdims=True) if len(logits) else 0.0
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)

    def decision_function(self, X) -> np.ndarray:
        return self._logits(X)

    def predict(self, X) -> np.ndarray:
        logits = self._logits(X)
        return self.classes_[np.argmax(logits, axis=1)] if len(logits) else self.classes_[:0]


def probe_head(head, embeddings: np.ndarray, codes: np.ndarray, n_classes: int, seed: int, C: float = PROBE_C) -> None:
    """Set the linear ``head`` to a logistic regression fitted on frozen ``embeddings`` (LP-FT's linear probe)."""
    import torch
    from sklearn.linear_model import LogisticRegression

    probe = LogisticRegression(C=C, max_iter=1000, random_state=seed % (2**32)).fit(embeddings, codes)
    weight, bias = probe.coef_, probe.intercept_
    if n_classes == 2 and weight.shape[0] == 1:  # one score for the second class: split it over two logits
        weight = np.vstack([-weight[0] / 2, weight[0] / 2])
        bias = np.asarray([-bias[0] / 2, bias[0] / 2])
    with torch.no_grad():
        head.weight.copy_(torch.as_tensor(weight, dtype=head.weight.dtype))
        head.bias.copy_(torch.as_tensor(bias, dtype=head.bias.dtype))


__all__ = ["FineTune", "probe_head"]
