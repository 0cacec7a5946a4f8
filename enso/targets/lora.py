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

from typing import ClassVar

from enso.params import Choice, Integer, ListOf, Number, Positive, Satisfies
from enso.targets.finetune import FineTune
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

    # -- finetune's hooks: LoRA on the encoder, only the updates train, merged at the end --

    def _prepare_encoder(self, encoder, device: str):
        """The encoder wrapped with LoRA; the updates grouped by block (bottom up), the frozen weights left out."""
        from enso.targets import torch_train as tt

        encoder = self._with_lora(encoder).to(device)
        groups = [[(n, p) for n, p in group if p.requires_grad] for group in tt.layer_groups(encoder.model)]
        return encoder, [group for group in groups if group]

    def _encoder_state(self, encoder) -> dict:
        return {n: p.detach().clone() for n, p in encoder.named_parameters() if p.requires_grad}

    def _load_encoder_state(self, encoder, state: dict) -> None:
        encoder.load_state_dict(state, strict=False)

    def _finish_encoder(self, encoder):
        encoder.model = encoder.model.merge_and_unload()  # W + (alpha / r) B A, then the plain encoder
        return encoder

    def _chosen_extras(self, encoder_parameters: int, trainable_parameters: int) -> dict:
        return {"trainable_parameters": trainable_parameters, "encoder_parameters": encoder_parameters,
                "target_modules": [str(m) for m in self.target_modules], "r": int(self.r), "alpha": float(self.alpha)}


def _linear_names(model) -> set[str]:
    import torch

    return {name.rsplit(".", 1)[-1] for name, module in model.named_modules() if isinstance(module, torch.nn.Linear)}


__all__ = ["LoRA"]
