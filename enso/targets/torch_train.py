"""Shared machinery of the targets that fine-tune a source model (``finetune``, ``setfit``, ``lora``).

Everything a training loop over a transformer encoder needs, and nothing about any one recipe:

- **Determinism** (``seeded``): a context that seeds torch's global generator from the target's
  ``random_state`` (``torch.manual_seed``: dropout, head initialisation), turns on
  ``torch.use_deterministic_algorithms(True, warn_only=True)`` (ops with no deterministic
  kernel warn instead of failing) and restores both afterwards, so a fit leaves the process as
  it found it. Shuffling uses a ``numpy.random.Generator`` from the same seed (``batch_order``).
  The number of threads is what the worker set (``torch.get_num_threads()``; the engine gives a
  fine-tuning cell ``cores // jobs``): nothing here changes it. On CPU, two fits with the same
  seed and thread count give identical weights (tested in ``tests/test_targets_finetune.py``).
- **The source model** (``load_encoder``): ``AutoModel`` from ``SourceModel.transformer`` and
  the tokenizer from the same folder (``enso.features.encoder.load_tokenizer``, the one the
  frozen featurizer uses), with the featurizer's pooling, L2 normalisation and ``max_length``
  (``SourceModel.settings``), so the fine-tuned encoder embeds texts exactly as the frozen
  featurizer does before its first step (``Encoder.embed``). ``SourceModel.random_seed`` set
  (``random-encoder``): the architecture initialised from its config with that seed.
- **Layers** (``layer_groups``): the encoder's parameters from the bottom up: the embeddings,
  then each transformer block; the head (the target's own) goes on top.
- **Discriminative rates** (``discriminative_groups``): the top group gets ``lr``, each group
  below gets the rate of the one above divided by ``layer_lr_decay`` (ULMFiT: 2.6), so the
  embeddings get the lowest.
- **Schedules** (``schedule_factor``, ``make_scheduler``): ``slanted-triangular`` (ULMFiT,
  Howard & Ruder 2018: a linear rise over the first ``cut_frac`` of the steps, from
  ``lr / ratio`` to ``lr``, then a linear fall back to ``lr / ratio``; ULMFiT uses
  ``cut_frac = 0.1``, ``ratio = 32``), ``linear`` (linear warm-up over ``cut_frac`` of the
  steps from 0, then linear decay to 0, as BERT does) and ``constant``.
- **Gradual unfreezing** (``GradualUnfreezer``): in epoch 0 only the head and the top group
  train, each later epoch one more group below is unfrozen, until every group trains.
- **The optimiser** (``make_optimizer``): ``torch.optim.AdamW`` (decoupled weight decay,
  Loshchilov & Hutter). Its update has Adam's bias correction built in (torch's AdamW always
  divides the moment estimates by ``1 - beta**t``); the ``BertAdam`` that early BERT
  fine-tuning used omitted it, which Mosbach et al. (2021) found makes small-data fine-tuning
  unstable. No weight decay on biases and LayerNorm weights.
- **Precision** (``training_precision``, ``autocast``, ``grad_scaler``): on CUDA, autocast to bf16
  where the device has it natively (Ampere and later), else fp16 with a gradient scaler; on CPU,
  fp32 (no autocast).
- **Batches** (``tokenize_batch``, ``batch_order``, ``predict_batches``): padded token tensors,
  seeded shuffling, length-sorted batches for inference.
- **Cost** (``STEP_SECONDS``, ``TEXT_SECONDS``, ``LOAD_SECONDS``, ``planned_params``): the constants of
  the targets' ``estimate_seconds`` for ``--dry-run``.
- **Inner validation** (``stratified_holdout``): a stratified, seeded split of the *training
  sample* for early stopping (the test rows are never seen by a target).

torch and transformers are imported inside functions, so importing this module is cheap.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

SCHEDULES = ("slanted-triangular", "linear", "constant")
POOLINGS = ("auto", "mean", "cls")
#: Parameter names that get no weight decay (as BERT's recipe and the transformers Trainer do).
NO_DECAY = ("bias", "LayerNorm.weight", "layer_norm.weight", "LayerNorm.bias", "norm.weight")


# -- determinism ----------------------------------------------------------------------------------

def torch_seed(random_state: int | None) -> int:
    """The torch seed of a target's ``random_state`` (None: 0, so an unseeded fit is still repeatable)."""
    return int(random_state or 0) % (2**63 - 1)


@contextlib.contextmanager
def seeded(random_state: int | None, *, device: str = "cpu") -> Iterator[int]:
    """Seed torch from ``random_state`` and ask for deterministic algorithms; restore both on exit.

    Yields the seed. The thread count is left as the worker set it.
    """
    import torch

    seed = torch_seed(random_state)
    devices = [torch.cuda.current_device()] if device.startswith("cuda") and torch.cuda.is_available() else []
    previous = torch.are_deterministic_algorithms_enabled()
    previous_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        torch.use_deterministic_algorithms(True, warn_only=True)
        try:
            yield seed
        finally:
            torch.use_deterministic_algorithms(previous, warn_only=previous_warn)


def resolve_device(device: str = "auto") -> str:
    """``auto``: cuda when torch sees a GPU, else cpu."""
    import torch

    if device in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


# -- the source model -----------------------------------------------------------------------------

def source_settings(source, *, pooling: str = "auto", max_length: int | None = None) -> dict[str, Any]:
    """The pooling, normalisation and ``max_length`` a fine-tuned encoder uses: the target's, else the source's."""
    settings = dict(getattr(source, "settings", {}) or {})
    chosen_pooling = (settings.get("pooling") or "mean") if pooling in (None, "auto") else pooling
    length = max_length or settings.get("max_length") or 256
    return {"pooling": chosen_pooling, "normalize": bool(settings.get("normalize", False)),
            "max_length": int(length)}


def load_encoder(source, *, device: str = "cpu", pooling: str = "auto", max_length: int | None = None):
    """``(Encoder, tokenizer)`` of a ``SourceModel``: its weights (or a seeded random init), in fp32, train mode."""
    from pathlib import Path

    from enso.features.encoder import load_model, load_tokenizer

    settings = source_settings(source, pooling=pooling, max_length=max_length)
    transformer = Path(source.transformer)
    model = load_model(transformer, device, "fp32", source.random_seed)
    limit = getattr(model.config, "max_position_embeddings", None)
    if isinstance(limit, int) and settings["max_length"] > limit:
        settings["max_length"] = limit
    tokenizer = load_tokenizer(transformer, settings["max_length"])
    encoder = Encoder(model, tokenizer, **settings)
    return encoder.to(device).train(), tokenizer


def _module_class():
    import torch

    class _Encoder(torch.nn.Module):
        """A transformers encoder with the source featurizer's pooling and normalisation."""

        def __init__(self, model, tokenizer, pooling: str, normalize: bool, max_length: int):
            super().__init__()
            from enso.features.encoder import pad_token_id

            self.model = model
            self.pooling = pooling
            self.normalize = normalize
            self.max_length = max_length
            self.pad_id = pad_token_id(tokenizer, model)

        @property
        def dim(self) -> int:
            return int(self.model.config.hidden_size)

        def forward(self, input_ids, attention_mask):
            from enso.features.encoder import pool

            output = self.model(input_ids=input_ids, attention_mask=attention_mask)
            pooled = pool(output.last_hidden_state, attention_mask, self.pooling)
            if self.normalize:
                pooled = torch.nn.functional.normalize(pooled, p=2, dim=-1)
            return pooled

    return _Encoder


_ENCODER_CLASS = None


def Encoder(model, tokenizer, pooling: str, normalize: bool, max_length: int):  # noqa: N802 - a class factory
    """A ``torch.nn.Module``: ``forward(input_ids, attention_mask)`` -> pooled (normalised) embeddings, fp32."""
    global _ENCODER_CLASS
    if _ENCODER_CLASS is None:
        _ENCODER_CLASS = _module_class()
    return _ENCODER_CLASS(model, tokenizer, pooling, normalize, max_length)


# -- layers, rates, unfreezing --------------------------------------------------------------------

#: Where transformers models keep their list of blocks (BERT, RoBERTa, MiniLM, MPNet; DistilBERT; others).
_BLOCK_PATHS = ("encoder.layer", "transformer.layer", "encoder.layers", "layers", "layer", "h")


def _attribute(module, path: str):
    for part in path.split("."):
        module = getattr(module, part, None)
        if module is None:
            return None
    return module


def layer_groups(model) -> list[list[tuple[str, Any]]]:
    """The encoder's named parameters in groups from the bottom up: embeddings, then each block.

    Parameters outside the blocks (embeddings, and anything else such as a pooler, which mean or
    CLS pooling of the last hidden state does not use) go with the embeddings; a model without a
    known block list is one group.
    """
    import torch

    blocks = None
    for path in _BLOCK_PATHS:
        found = _attribute(model, path)
        if isinstance(found, torch.nn.ModuleList) and len(found):
            blocks = found
            break
    named = list(model.named_parameters())
    if blocks is None:
        return [named]
    in_block = {}
    for index, block in enumerate(blocks):
        for parameter in block.parameters():
            in_block[id(parameter)] = index
    groups: list[list[tuple[str, Any]]] = [[] for _ in range(len(blocks) + 1)]
    for name, parameter in named:
        index = in_block.get(id(parameter))
        groups[0 if index is None else index + 1].append((name, parameter))
    return groups


def layer_rates(n_groups: int, lr: float, layer_lr_decay: float) -> list[float]:
    """Rates of ``n_groups`` groups, bottom up: the top gets ``lr``, each one below that of the one above / decay."""
    return [lr / layer_lr_decay ** (n_groups - 1 - i) for i in range(n_groups)]


def discriminative_groups(groups: Sequence[Sequence[tuple[str, Any]]], lr: float, layer_lr_decay: float,
                          weight_decay: float, head: Sequence[tuple[str, Any]] = (), head_lr: float | None = None,
                          ) -> list[dict[str, Any]]:
    """AdamW parameter groups: discriminative rates per layer group (bottom up), the head on top.

    ``groups`` from ``layer_groups``; the top group gets ``lr``, each one below the rate above
    divided by ``layer_lr_decay``; the head gets ``head_lr`` (None: ``lr``). Biases and norm
    weights get no weight decay. Each dict carries ``layer`` (its index, the head is
    ``len(groups)``) so the unfreezer and the logs can find it.
    """
    rates = layer_rates(len(groups), lr, layer_lr_decay)
    out = []
    for index, (named, rate) in enumerate([*zip(groups, rates), (head, head_lr or lr)]):
        decay = [p for n, p in named if not any(key in n for key in NO_DECAY)]
        plain = [p for n, p in named if any(key in n for key in NO_DECAY)]
        for params, wd in ((decay, weight_decay), (plain, 0.0)):
            if params:
                out.append({"params": params, "lr": rate, "weight_decay": wd, "layer": index})
    return out


class GradualUnfreezer:
    """ULMFiT's gradual unfreezing: epoch 0 trains the head and the top group, each epoch one more below.

    ``groups``: the encoder's layer groups bottom up (``layer_groups``). Frozen parameters get
    ``requires_grad = False`` (no gradients, no optimiser updates, no weight decay: AdamW skips
    parameters without a gradient). ``enabled = False``: everything trains from the start.
    """

    def __init__(self, groups: Sequence[Sequence[tuple[str, Any]]], enabled: bool = True):
        self.groups = groups
        self.enabled = enabled

    def trainable_groups(self, epoch: int) -> int:
        """How many encoder groups (from the top) train in ``epoch`` (0-based)."""
        return len(self.groups) if not self.enabled else min(len(self.groups), epoch + 1)

    def set_epoch(self, epoch: int) -> int:
        top = self.trainable_groups(epoch)
        first = len(self.groups) - top
        for index, named in enumerate(self.groups):
            for _, parameter in named:
                parameter.requires_grad_(index >= first)
        return top


# -- schedules ------------------------------------------------------------------------------------

def schedule_factor(schedule: str, step: int, total: int, cut_frac: float = 0.1, ratio: float = 32.0) -> float:
    """The multiplier of the peak rate at ``step`` (0-based) of ``total`` steps.

    ``slanted-triangular`` (ULMFiT eq. 3): ``cut = floor(total * cut_frac)``; ``p = t / cut``
    before the cut, ``1 - (t - cut) / (cut * (1 / cut_frac - 1))`` after; factor
    ``(1 + p * (ratio - 1)) / ratio``: from ``1 / ratio`` up to 1 at the cut, back to
    ``1 / ratio`` at the end. ``linear``: ``t / warm-up`` over the first ``cut_frac`` of the
    steps, then linear decay to 0 at ``total``. ``constant``: 1.
    """
    total = max(1, int(total))
    if schedule == "constant":
        return 1.0
    if schedule == "slanted-triangular":
        cut = max(1, math.floor(total * cut_frac))
        if step < cut:
            p = step / cut
        else:
            p = 1.0 - (step - cut) / max(1e-12, cut * (1.0 / cut_frac - 1.0))
        p = min(1.0, max(0.0, p))
        return (1.0 + p * (ratio - 1.0)) / ratio
    if schedule == "linear":
        warmup = math.floor(total * cut_frac)
        if step < warmup:
            return (step + 1) / (warmup + 1)
        return max(0.0, (total - step) / max(1, total - warmup))
    raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, got {schedule!r}")


def make_scheduler(optimizer, schedule: str, total_steps: int, cut_frac: float = 0.1, ratio: float = 32.0):
    """A ``torch.optim.lr_scheduler.LambdaLR`` applying ``schedule_factor`` to every group's own peak rate."""
    import torch

    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: schedule_factor(schedule, step, total_steps, cut_frac, ratio))


def make_optimizer(param_groups: list[dict[str, Any]], *, betas=(0.9, 0.999), eps: float = 1e-8):
    """``torch.optim.AdamW`` over ``param_groups`` (bias correction built in; see the module docstring)."""
    import torch

    groups = [{k: v for k, v in g.items() if k != "layer"} for g in param_groups]
    try:  # the fused kernel: one pass over every parameter (5x faster on CPU than the loop), elementwise
        optimizer = torch.optim.AdamW(groups, betas=betas, eps=eps, fused=True)
    except (RuntimeError, ValueError):  # a device or dtype without it
        optimizer = torch.optim.AdamW(groups, betas=betas, eps=eps)
    for group, given in zip(optimizer.param_groups, param_groups):
        group["layer"] = given.get("layer")
    return optimizer


# -- precision ------------------------------------------------------------------------------------

def training_precision(device: str) -> str:
    """``bf16`` on a CUDA device with native bf16 (Ampere and later), else ``fp16`` on CUDA; ``fp32`` on CPU.

    ``torch.cuda.is_bf16_supported()`` alone also says yes where bf16 is only emulated (V100, T4: since
    torch 2.3 it counts emulation by default), which would train slowly in emulated bf16 instead of fp16
    with a gradient scaler.
    """
    if not device.startswith("cuda"):
        return "fp32"
    import torch

    try:
        native = torch.cuda.is_bf16_supported(including_emulation=False)
    except TypeError:  # torch before 2.3: no such argument, and the answer was native support only
        native = torch.cuda.is_bf16_supported()
    return "bf16" if native else "fp16"


def autocast(device: str):
    """Autocast to the device's half precision on CUDA; a no-op context on CPU (fp32)."""
    precision = training_precision(device)
    if precision == "fp32":
        return contextlib.nullcontext()
    import torch

    return torch.autocast("cuda", dtype=torch.bfloat16 if precision == "bf16" else torch.float16)


def grad_scaler(device: str):
    """A ``torch.amp.GradScaler`` for fp16 training, else None (bf16 and fp32 need none)."""
    if training_precision(device) != "fp16":
        return None
    import torch

    return torch.amp.GradScaler("cuda")


def backward_step(loss, optimizer, scaler=None, max_grad_norm: float | None = 1.0, parameters=None) -> None:
    """``loss.backward()``, gradient clipping at ``max_grad_norm`` (None: none), one optimiser step, zeroed grads."""
    import torch

    if scaler is not None:
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
    else:
        loss.backward()
    if max_grad_norm and parameters is not None:
        torch.nn.utils.clip_grad_norm_([p for p in parameters if p.grad is not None], max_grad_norm)
    if scaler is not None:
        scaler.step(optimizer)
        scaler.update()
    else:
        optimizer.step()
    optimizer.zero_grad(set_to_none=True)


# -- batches --------------------------------------------------------------------------------------

def tokenize(tokenizer, texts: Sequence[str]) -> list[np.ndarray]:
    """Token ids per text (special tokens added, truncated to the tokenizer's ``max_length``)."""
    from enso.features.encoder import tokenize as encode_ids

    return encode_ids(tokenizer, [text if isinstance(text, str) else " ".join(text) for text in texts])


def padded(ids: Sequence[np.ndarray], rows: Sequence[int], pad_id: int, device: str = "cpu"):
    """``(input_ids, attention_mask)`` int64 tensors of the texts ``rows`` of ``ids``, padded to the longest."""
    import torch

    width = max(1, max(len(ids[i]) for i in rows))
    input_ids = np.full((len(rows), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    for row, i in enumerate(rows):
        input_ids[row, :len(ids[i])] = ids[i]
        mask[row, :len(ids[i])] = 1
    return torch.from_numpy(input_ids).to(device), torch.from_numpy(mask).to(device)


def batch_order(n: int, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """One epoch's batches: a seeded permutation of ``range(n)`` cut into ``batch_size`` pieces."""
    order = rng.permutation(n)
    return [order[start:start + batch_size] for start in range(0, n, batch_size)]


def steps_per_epoch(n: int, batch_size: int) -> int:
    return max(1, math.ceil(n / batch_size))


def predict_batches(ids: Sequence[np.ndarray], batch_size: int) -> list[np.ndarray]:
    """Positions grouped by similar length (little padding) for inference, longest first."""
    lengths = np.asarray([len(x) for x in ids], dtype=np.int64)
    order = np.argsort(-lengths, kind="stable")
    return [order[start:start + batch_size] for start in range(0, len(order), batch_size)]


def embed(encoder, ids: Sequence[np.ndarray], *, batch_size: int = 64, device: str = "cpu",
          head=None) -> np.ndarray:
    """Pooled embeddings (or, with ``head``, head outputs) of every text, in order, float32; eval mode inside."""
    import torch

    was_training = encoder.training
    encoder.eval()
    out = None
    try:
        with torch.inference_mode(), autocast(device):
            for rows in predict_batches(ids, batch_size):
                input_ids, mask = padded(ids, rows, encoder.pad_id, device)
                values = encoder(input_ids, mask)
                if head is not None:
                    values = head(values)
                values = values.float().cpu().numpy()
                if out is None:
                    out = np.zeros((len(ids), values.shape[1]), dtype=np.float32)
                out[rows] = values
    finally:
        encoder.train(was_training)
    if out is None:
        width = head.out_features if head is not None else encoder.dim
        out = np.zeros((0, width), dtype=np.float32)
    return out


# -- the inner validation split --------------------------------------------------------------------

def stratified_holdout(y, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray] | None:
    """``(train positions, validation positions)`` of a stratified, seeded split of the training sample.

    Each class gives ``round(fraction * count)`` rows (at least one) to validation while keeping at
    least one for training; None when no class can spare a row or ``fraction`` is 0 (no early
    stopping then). Positions index ``y`` (the training sample), never anything else.
    """
    y = np.asarray(y).astype(str)
    if fraction <= 0 or len(y) < 2:
        return None
    rng = np.random.default_rng(seed)
    held = []
    for label in np.unique(y):
        rows = np.flatnonzero(y == label)
        take = min(len(rows) - 1, max(1, int(round(fraction * len(rows)))))
        if take > 0:
            held.append(rng.choice(rows, size=take, replace=False))
    if not held:
        return None
    validation = np.sort(np.concatenate(held))
    train = np.setdiff1d(np.arange(len(y)), validation)
    if not len(train) or len(np.unique(y[train])) < len(np.unique(y)):
        return None
    return train, validation


# -- cost (``--dry-run``) ---------------------------------------------------------------------------

#: Seconds of one optimiser step on 16 texts (forward, backward, AdamW), of encoding one text for inference,
#: and a cell's fixed cost (loading the model, reading its texts, scoring): all-MiniLM-L6-v2 on short texts
#: (sentences, tweets; ``max_length`` 64), one torch thread a cell at ``--jobs 2`` on a 2-core CPU. A
#: least-squares fit over the 61 fine-tuning cells of a 6-resample run of experiments/finetune.toml before the
#: machine got loaded (finetune and setfit cells alike; docs/finetuning.md, "Cost and memory").
STEP_SECONDS = 0.8
TEXT_SECONDS = 0.008
LOAD_SECONDS = 1.4


def planned_params(cls, params: dict[str, Any]) -> dict[str, Any]:
    """``params`` over the defaults of ``cls.__init__``: what a cell of the target ``cls`` will be fitted with."""
    import inspect

    values = {name: p.default for name, p in inspect.signature(cls.__init__).parameters.items()
              if p.default is not inspect.Parameter.empty}
    values.update(params)
    return values


def state_copy(module) -> dict[str, Any]:
    """A detached copy of ``module``'s state (to restore the best epoch's weights)."""
    return {name: value.detach().clone() for name, value in module.state_dict().items()}


__all__ = ["LOAD_SECONDS", "NO_DECAY", "POOLINGS", "SCHEDULES", "STEP_SECONDS", "TEXT_SECONDS", "Encoder",
           "GradualUnfreezer", "autocast", "backward_step", "batch_order", "discriminative_groups", "embed",
           "grad_scaler", "layer_groups", "layer_rates", "load_encoder", "make_optimizer", "make_scheduler", "padded",
           "planned_params", "predict_batches", "resolve_device", "schedule_factor", "seeded", "source_settings",
           "state_copy", "steps_per_epoch", "stratified_holdout", "tokenize", "torch_seed", "training_precision"]
