"""Running a transformer encoder over many texts, fast: the engine behind minilm and hf-encoder.

Needs only numpy, torch, tokenizers and transformers (no pandas, scikit-learn or gensim), so
``benchmarks/featurize.py`` runs on a bare GPU machine. A background thread tokenizes
texts in chunks, sorts each chunk by token length so batches carry little padding, and pads
(on CUDA also pins and copies) the next batches while the model runs the current one.
Pooled rows go straight into the output array, which is usually a memory-mapped ``.npy``.
What a model folder holds (``ModelFolder``) is read in ``enso.features.model_folder``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np


log = logging.getLogger(__name__)

DEVICES = ("auto", "cpu", "cuda")
#: int8: dynamic quantization of linear layers, CPU; onnx-fp32: fp32 on ONNX Runtime, CPU (``onnx_runtime``)
PRECISIONS = ("auto", "fp32", "bf16", "fp16", "int8", "onnx-fp32")
CPU_ONLY = ("int8", "onnx-fp32")
POOLINGS = ("mean", "cls")
LAYERS = ("last", "all")
_TOKENIZE_CHUNK = 4096
_CUDA_FLUSH_EVERY = 32


def available_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def resolve_device(device: str | None) -> str:
    import torch

    device = device or "auto"
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        from enso.errors import ConfigError
        raise ConfigError("--device cuda was asked for but torch sees no CUDA device; "
                          "use --device cpu or auto")
    return device


def resolve_precision(precision: str | None, device: str) -> str:
    """An explicit precision as given; for ``auto`` the uncalibrated guess (fp32 on CPU, fp16 on CUDA).

    Featurizers resolve ``auto`` by calibration instead (``enso.features.precision``).
    """
    if precision in (None, "auto"):
        return "fp16" if device.startswith("cuda") else "fp32"
    if precision in CPU_ONLY and device.startswith("cuda"):
        from enso.errors import ConfigError
        raise ConfigError(f"precision {precision} runs on CPU only; use fp16 or bf16 on CUDA")
    return precision


def torch_dtype(precision: str):
    import torch

    return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16, "int8": torch.float32,
            "onnx-fp32": torch.float32}[precision]


def default_batch_size(device: str, precision: str = "fp32") -> int:
    """Measured on a 2-core AVX-512/AMX CPU: fp32 peaks near 32 texts; bf16 matmuls on AMX want larger batches."""
    if device.startswith("cuda"):
        return 256
    return 32 if precision in ("fp32", "onnx-fp32") else 128


def load_tokenizer(folder: Path, max_length: int):
    """A ``tokenizers.Tokenizer`` that adds special tokens, truncates, and does not pad."""
    tokenizer_file = folder / "tokenizer.json"
    if tokenizer_file.is_file():
        from tokenizers import Tokenizer
        tokenizer = Tokenizer.from_file(str(tokenizer_file))
    else:
        from transformers import AutoTokenizer
        loaded = AutoTokenizer.from_pretrained(str(folder), use_fast=True)
        if not getattr(loaded, "is_fast", False):
            from enso.errors import EnsoError
            raise EnsoError(f"{folder} has no fast tokenizer; add a tokenizer.json (save the tokenizer with "
                            "transformers' PreTrainedTokenizerFast) and rerun")
        tokenizer = loaded.backend_tokenizer
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=max_length)
    return tokenizer


def load_model(folder: Path, device: str, precision: str, random_seed: int | None = None):
    """The transformers model in eval mode; with ``random_seed``, its architecture freshly initialised.

    ``onnx-fp32``: an ``onnx_runtime.OnnxModel`` (the model exported once, run by ONNX Runtime; CPU).
    """
    if precision == "onnx-fp32":
        resolve_precision(precision, device)
        from enso.features import onnx_runtime

        return onnx_runtime.load(folder, random_seed)
    from transformers import AutoConfig, AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    dtype = torch_dtype(precision)
    if random_seed is None:
        model = AutoModel.from_pretrained(str(folder), dtype=dtype)
    else:
        config = AutoConfig.from_pretrained(str(folder))
        with _torch_seed(random_seed):
            model = AutoModel.from_config(config)
        model = model.to(dtype)
    model = model.eval().to(device)
    if precision == "int8":
        model = quantize_int8(model)
    return model


def quantize_int8(model):
    """Dynamic int8 quantization of the linear layers (weights int8, activations quantized per batch; CPU)."""
    import warnings

    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization's deprecation notes
        return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)


@contextlib.contextmanager
def _torch_seed(seed: int) -> Iterator[None]:
    import torch

    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        yield
    finally:
        torch.random.set_rng_state(state)


@contextlib.contextmanager
def torch_threads(n: int | None = None) -> Iterator[None]:
    """Use every core this process may run on, then restore the previous setting."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(n or available_cores())
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def tokenize(tokenizer, texts: Sequence[str | tuple[str, str]],
             type_ids: list[np.ndarray] | None = None) -> list[np.ndarray]:
    """Token ids per text (int32), in chunks so Encoding objects never pile up.

    A ``(text_a, text_b)`` tuple is encoded as one sequence by the tokenizer's pair template
    (``[CLS] a [SEP] b [SEP]`` for BERT-style models), truncated longest-first to its
    ``max_length``. ``type_ids``: a list that gets each sequence's segment ids (int32) too.
    """
    ids: list[np.ndarray] = []
    for start in range(0, len(texts), _TOKENIZE_CHUNK):
        chunk = list(texts[start:start + _TOKENIZE_CHUNK])
        for encoding in tokenizer.encode_batch(chunk, add_special_tokens=True):
            ids.append(np.asarray(encoding.ids, dtype=np.int32))
            if type_ids is not None:
                type_ids.append(np.asarray(encoding.type_ids, dtype=np.int32))
    return ids


def takes_token_types(model) -> bool:
    """Whether the model has segment embeddings (BERT's token types) and its forward takes ``token_type_ids``.

    A pair encoded together then tells the model which text each token is from, as the model was
    trained; models without (MPNet, RoBERTa with one type) get none.
    """
    import inspect

    if int(getattr(model.config, "type_vocab_size", 0) or 0) < 2:
        return False
    try:
        return "token_type_ids" in inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return False


def is_blank_item(item: str | tuple[str, ...]) -> bool:
    """A blank text, or a pair whose texts are all blank: it gets a zero row."""
    if isinstance(item, tuple):
        return all(not text or text.isspace() for text in item)
    return not item or item.isspace()


def length_sorted_batches(lengths: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Positions grouped into batches of similar length, longest first (a memory error shows early)."""
    order = np.argsort(-lengths, kind="stable")
    return [order[start:start + batch_size] for start in range(0, len(order), batch_size)]


def _padded(ids: list[np.ndarray], batch: np.ndarray, pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    width = max(len(ids[i]) for i in batch)
    input_ids = np.full((len(batch), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(batch), width), dtype=np.int64)
    for row, i in enumerate(batch):
        input_ids[row, :len(ids[i])] = ids[i]
        mask[row, :len(ids[i])] = 1
    return input_ids, mask


def _padded_types(type_ids: list[np.ndarray], batch: np.ndarray, width: int) -> np.ndarray:
    types = np.zeros((len(batch), width), dtype=np.int64)
    for row, i in enumerate(batch):
        types[row, :len(type_ids[i])] = type_ids[i]
    return types


def _prefetch(items: Iterable[Any], depth: int) -> Iterator[Any]:
    """``items`` produced ahead in a background thread, yielded in order; its errors re-raised here."""
    results: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def work() -> None:
        try:
            for item in items:
                if stop.is_set():
                    return
                results.put((item, None))
        except BaseException as exc:  # handed to the consumer
            results.put((None, exc))
            return
        results.put((done, None))

    thread = threading.Thread(target=work, name="enso-tokenize", daemon=True)
    thread.start()
    try:
        while True:
            item, error = results.get()
            if error is not None:
                raise error
            if item is done:
                return
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            try:
                results.get_nowait()
            except queue.Empty:
                thread.join(timeout=0.05)


def pool(hidden, mask, pooling: str):
    """Mean over real tokens, or the first token; computed in fp32."""
    hidden = hidden.float()
    if pooling == "cls":
        return hidden[:, 0]
    weights = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)


def pad_token_id(tokenizer, model) -> int:
    pad = getattr(model.config, "pad_token_id", None)
    if pad is None:
        padding = tokenizer.padding or {}
        pad = padding.get("pad_id", 0) if isinstance(padding, dict) else 0
    return int(pad)


def encode(
    texts: Sequence[str | tuple[str, str]],
    model,
    tokenizer,
    out: np.ndarray | Callable[[tuple[int, ...]], np.ndarray] | None = None,
    *,
    device: str = "cpu",
    batch_size: int | None = None,
    pooling: str = "mean",
    normalize: bool = True,
    layers: str = "last",
    progress: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Pooled embeddings of ``texts`` in their order: ``(n, d)``, or ``(n, layers + 1, d)`` for ``layers="all"``.

    An item that is a ``(text_a, text_b)`` tuple is a pair encoded together: one sequence through the
    tokenizer's pair template, with its segment ids where the model has token types
    (``takes_token_types``), pooled over all its tokens. Blank texts (pairs) give zero rows. ``out`` is an array to fill or a function that allocates one
    from a shape; ``progress(k)`` is told after every ``k`` texts. Returns the array and stats.
    """
    import torch

    texts = list(texts)
    dim = int(model.config.hidden_size)
    n_layers = int(model.config.num_hidden_layers) + 1
    shape = (len(texts), n_layers, dim) if layers == "all" else (len(texts), dim)
    if out is None:
        out = np.zeros(shape, dtype=np.float32)
    elif callable(out):
        out = out(shape)
    if out.shape != shape:
        raise ValueError(f"output array has shape {out.shape}, expected {shape}")

    keep = np.asarray([i for i, text in enumerate(texts) if not is_blank_item(text)], dtype=np.int64)
    blank = np.setdiff1d(np.arange(len(texts)), keep)
    if len(blank):
        out[blank] = 0.0
        if progress:
            progress(len(blank))
    batch_size = batch_size or default_batch_size(device, _precision_of(model))
    pad_id = pad_token_id(tokenizer, model)
    cuda = device.startswith("cuda")
    max_length = (tokenizer.truncation or {}).get("max_length", 1 << 30)
    counts = {"tokens": 0, "padded": 0, "at_max": 0}
    # segment ids only for pairs: a single text's are all 0, the model's default, so text features are unchanged
    types = any(isinstance(text, tuple) for text in texts) and takes_token_types(model)

    def batches() -> Iterator[tuple[np.ndarray, Any, Any, bool, Any]]:
        """Tokenize a chunk, sort it by length, and hand out padded batches; runs ahead of the model."""
        chunk = max(64 * batch_size, _TOKENIZE_CHUNK)
        for start in range(0, len(keep), chunk):
            rows = keep[start:start + chunk]
            type_ids: list[np.ndarray] | None = [] if types else None
            ids = tokenize(tokenizer, [texts[i] for i in rows], type_ids)
            lengths = np.asarray([len(x) for x in ids], dtype=np.int64)
            counts["tokens"] += int(lengths.sum())
            counts["at_max"] += int(np.sum(lengths >= max_length))
            for batch in length_sorted_batches(lengths, batch_size):
                longest = int(lengths[batch].max())
                counts["padded"] += longest * len(batch)
                unpadded = bool(lengths[batch].min() == longest)
                input_ids, mask = _padded(ids, batch, pad_id)
                token_types = None if type_ids is None else torch.from_numpy(
                    _padded_types(type_ids, batch, input_ids.shape[1]))
                input_ids, mask = torch.from_numpy(input_ids), torch.from_numpy(mask)
                if cuda:
                    input_ids = input_ids.pin_memory().to(device, non_blocking=True)
                    mask = mask.pin_memory().to(device, non_blocking=True)
                    if token_types is not None:
                        token_types = token_types.pin_memory().to(device, non_blocking=True)
                yield rows[batch], input_ids, mask, unpadded, token_types

    pending: list[tuple[np.ndarray, Any]] = []

    def flush() -> None:
        if not pending:
            return
        rows = np.concatenate([batch for batch, _ in pending])
        values = torch.cat([value for _, value in pending]).cpu().numpy()
        out[rows] = values
        if progress:
            progress(len(rows))
        pending.clear()

    with torch.inference_mode(), (torch_threads() if not cuda else contextlib.nullcontext()):
        for rows, input_ids, mask, unpadded, token_types in _prefetch(batches(), depth=8 if cuda else 2):
            # A batch of equal lengths (common once sorted) needs no mask, and attention runs faster without.
            extra = {} if token_types is None else {"token_type_ids": token_types}
            output = model(input_ids=input_ids, attention_mask=None if unpadded else mask,
                           output_hidden_states=layers == "all", **extra)
            if layers == "all":
                pooled = torch.stack([pool(h, mask, pooling) for h in output.hidden_states], dim=1)
            else:
                pooled = pool(output.last_hidden_state, mask, pooling)
                if normalize:
                    pooled = torch.nn.functional.normalize(pooled, p=2, dim=-1)
            pending.append((rows, pooled))
            if not cuda or len(pending) >= _CUDA_FLUSH_EVERY:
                flush()
        flush()
    stats = {
        "empty_texts": len(blank),
        "tokens": counts["tokens"],
        "texts_at_max_length": counts["at_max"],
        "padding_share": round(1.0 - counts["tokens"] / counts["padded"], 4) if counts["padded"] else 0.0,
    }
    return out, stats


def _precision_of(model) -> str:
    import torch

    if getattr(model, "precision", None):  # an onnx_runtime.OnnxModel
        return model.precision

    dtype = next(model.parameters()).dtype
    return {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(dtype, "fp32")
