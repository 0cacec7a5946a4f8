"""``lora``: parameter-efficient fine-tuning of the source model (LoRA through ``peft``) with a linear head.

``finetune``'s target (the source featurizer's encoder, its pooling and normalisation, a linear head
trained with cross-entropy, early stopping on an inner split of the training sample, the same
schedules and AdamW) with the encoder's own weights frozen: ``peft`` adds low-rank updates
``W + (alpha / r) * B A`` (Hu et al. 2021) to the modules ``target_modules`` names (the attention
projections ``query`` and ``value`` by default, as in the LoRA paper; BERT-style names), and only
those updates and the head train. ``A`` starts seeded-random and ``B`` at zero, so before the first
step the encoder embeds a text exactly as the frozen featurizer does. After training the updates are
merged into the weights (``merge_and_unload``), so predicting costs what the frozen encoder costs.

Deterministic on CPU like ``finetune`` (seeded split, resampling, batch order, LoRA initialisation
and dropout; deterministic algorithms; the threads the engine gives the cell).
"""

from __future__ import annotations

import time
from typing import ClassVar

import numpy as np

from enso.params import Choice, Integer, ListOf, Number, Positive, Satisfies
from enso.targets.finetune import _BATCH_STREAM, FineTune, probe_head
from enso.targets.torch_train import POOLINGS, SCHEDULES

_MODULE_NAME = Satisfies(lambda v: isinstance(v, str) and bool(v.strip()),
                         "{name} must be a module name such as 'query', got {shown}", "a module name")


class LoRA(FineTune):
    """LoRA updates on the source encoder's ``target_modules`` plus a linear head; the encoder's weights stay frozen.

    Parameters as ``finetune`` (``lr`` is the LoRA updates' peak rate, ``head_lr`` the head's;
    ``layer_lr_decay`` divides the rate of each block's updates going down, 1 by default), plus
    ``r`` (the rank of each update), ``alpha`` (its scale, ``alpha / r``), ``dropout`` (on the
    updates' input) and ``target_modules`` (names of the linear layers that get updates: for
    BERT/MiniLM ``query``, ``key``, ``value``, ``dense``). ``head_init = "probe"`` (the default, as
    ``finetune``'s): the head starts as a logistic regression on the frozen embeddings (LoRA's updates
    start at zero, so the probe sees the frozen encoder). No gradual unfreezing (nothing of the
    encoder is unfrozen). ``chosen_params_`` adds ``trainable_parameters`` and
    ``encoder_parameters``.
    """

    name = "lora"
    version: ClassVar[int] = 1
    cost: ClassVar[tuple[float, float, float]] = (20.0, 0.25, 0.01)
    _parameter_constraints: ClassVar[dict] = {
        **{k: v for k, v in FineTune._parameter_constraints.items() if k != "gradual_unfreeze"},
        "r": Integer(1, maximum=1024),
        "alpha": Positive(),
        "dropout": Number(0.0, 1.0, high_open=True),
        "target_modules": ListOf(_MODULE_NAME),
        "schedule": Choice(*SCHEDULES),
        "pooling": Choice(*POOLINGS),
    }

    def __init__(self, source: str = "minilm", r: int = 8, alpha: float = 16.0, dropout: float = 0.1,
                 target_modules=("query", "value"), lr: float = 5e-4, head_lr: float | None = 2e-3,
                 layer_lr_decay: float = 1.0, schedule: str = "linear", cut_frac: float = 0.1, ratio: float = 32.0,
                 epochs: int = 10, min_steps: int = 40, batch_size: int = 16, weight_decay: float = 0.01,
                 max_length: int | None = None, pooling: str = "auto", head_init: str = "probe", patience: int = 2,
                 validation_fraction: float = 0.2, max_grad_norm: float | None = 1.0, device: str = "auto",
                 random_state: int | None = None, resampler: str = "none"):
        self.source = source
        self.r = r
        self.alpha = alpha
        self.dropout = dropout
        self.target_modules = target_modules
        self.lr = lr
        self.head_lr = head_lr
        self.layer_lr_decay = layer_lr_decay
        self.schedule = schedule
        self.cut_frac = cut_frac
        self.ratio = ratio
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

    def _with_lora(self, encoder):
        """Wrap ``encoder.model`` with peft's LoRA on ``target_modules``; a module name it lacks is a clear error."""
        from peft import LoraConfig, get_peft_model

        wanted = [str(m) for m in self.target_modules]
        present = {name.rsplit(".", 1)[-1] for name, _ in encoder.model.named_modules()}
        missing = [m for m in wanted if m not in present]
        if missing:
            raise ValueError(f"target_modules {missing} are not modules of {type(encoder.model).__name__}; "
                             f"its linear layers include {', '.join(sorted(_linear_names(encoder.model)))}")
        config = LoraConfig(r=self.r, lora_alpha=self.alpha, lora_dropout=self.dropout, target_modules=wanted,
                            bias="none")
        encoder.model = get_peft_model(encoder.model, config)
        return encoder

    def fit(self, X, y, *, validation=None, source=None):
        import torch

        from enso.targets import torch_train as tt

        self._validate_params()
        started = time.perf_counter()
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != len(X):
            raise ValueError(f"lora needs one label per text: {len(X)} texts, labels of shape {y.shape}")
        self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise ValueError("lora needs at least two classes in the training sample")
        codes = np.searchsorted(self.classes_, y)
        source = self._source_model(source)
        device = tt.resolve_device(self.device)
        train, held, kind = self._split(y, validation)

        with tt.seeded(self.random_state, device=device) as seed:
            encoder, tokenizer = tt.load_encoder(source, device=device, pooling=self.pooling,
                                                 max_length=self.max_length)
            encoder_parameters = sum(p.numel() for p in encoder.parameters())
            encoder = self._with_lora(encoder).to(device)
            head = torch.nn.Linear(encoder.dim, len(self.classes_)).to(device)
            ids = tt.tokenize(tokenizer, list(X))
            if self.head_init == "probe":  # LP first (as finetune): the updates start at zero, so these are frozen
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
            # the LoRA updates, grouped by block (bottom up) for discriminative rates; the frozen weights left out
            groups = [[(n, p) for n, p in group if p.requires_grad] for group in tt.layer_groups(encoder.model)]
            groups = [group for group in groups if group]
            param_groups = tt.discriminative_groups(groups, self.lr, self.layer_lr_decay, self.weight_decay,
                                                    head=list(head.named_parameters()), head_lr=self.head_lr)
            optimizer = tt.make_optimizer(param_groups)
            per_epoch = tt.steps_per_epoch(len(train), self.batch_size)
            epochs = max(self.epochs, -(-self.min_steps // per_epoch))
            total = epochs * per_epoch
            scheduler = tt.make_scheduler(optimizer, self.schedule, total, self.cut_frac, self.ratio)
            scaler = tt.grad_scaler(device)
            rng = np.random.default_rng([seed, _BATCH_STREAM])
            loss_fn = torch.nn.CrossEntropyLoss()
            parameters = [p for g in param_groups for p in g["params"]]
            trainable = sum(p.numel() for p in parameters)

            def trained_state():
                return ({n: p.detach().clone() for n, p in encoder.named_parameters() if p.requires_grad},
                        tt.state_copy(head))

            best, best_loss, best_epoch, waited, steps, epochs_run = None, float("inf"), epochs, 0, 0, 0
            encoder.train()
            for epoch in range(epochs):
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
                    best = trained_state()
                else:
                    waited += 1
                    if waited >= self.patience:
                        break
            if best is not None and best_epoch != epochs_run:
                encoder.load_state_dict(best[0], strict=False)
                head.load_state_dict(best[1])
            encoder.model = encoder.model.merge_and_unload()  # W + (alpha / r) B A, then the plain encoder
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
            "trainable_parameters": int(trainable), "encoder_parameters": int(encoder_parameters),
            "target_modules": [str(m) for m in self.target_modules], "r": int(self.r), "alpha": float(self.alpha),
            "max_length": int(encoder.max_length), "pooling": encoder.pooling, "device": device,
            "precision": tt.training_precision(device), "threads": int(torch.get_num_threads()),
            "fit_seconds": round(time.perf_counter() - started, 3),
        }
        return self


def _linear_names(model) -> set[str]:
    import torch

    return {name.rsplit(".", 1)[-1] for name, module in model.named_modules() if isinstance(module, torch.nn.Linear)}


__all__ = ["LoRA"]
