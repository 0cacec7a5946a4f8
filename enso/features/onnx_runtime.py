"""precision ``"onnx-fp32"``: the transformer exported to ONNX once per model, run by ONNX Runtime on the CPU.

The same fp32 computation as torch's (features agree with fp32's to cosine 1.000000 on MiniLM), on
ONNX Runtime's CPU kernels and graph optimizations (attention, LayerNorm and GELU fusions), which
on a CPU without AMX ran MiniLM well over 1.05x torch's fp32 speed (``benchmarks/onnx_runtime.py``,
docs/precision.md). A candidate of ``precision = "auto"`` on CPU where it can run.

Optional: needs ``onnxruntime`` and ``onnx`` (``torch.onnx.export`` writes through it). Without
them ``available()`` says why, and the calibration skips the candidate.

The export is cached in the user's cache folder beside the precision cache
(``<cache>/onnx/<key>.onnx``, ``enso.features.precision.cache_file``), keyed by the sha256 of the
model folder's files, the random-weight seed, which outputs it has, torch's version and this
module's export version; made under a file lock (parallel processes export once) and written
atomically. An ``.onnx`` file is a protobuf (weights as tensors), never a pickle.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

PRECISION = "onnx-fp32"
EXPORT_VERSION = 1  # bump when the exported graph changes: old files are then never read
OPSET = 17
#: files of a model folder that define a transformer's output (weights in any of these formats)
_MODEL_FILES = ("config.json", "model.safetensors", "pytorch_model.bin")


def available() -> str | None:
    """None when ONNX Runtime can run here, else why not (a package missing)."""
    for module in ("onnxruntime", "onnx"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed (pip install onnxruntime onnx)"
    return None


def version() -> str | None:
    """onnxruntime's version when it is installed (part of the machine a calibration is keyed by)."""
    if importlib.util.find_spec("onnxruntime") is None:
        return None
    from importlib import metadata

    try:
        return metadata.version("onnxruntime")
    except metadata.PackageNotFoundError:
        return None


def export_dir() -> Path:
    from enso.features.precision import cache_file

    return cache_file().parent / "onnx"


def takes_token_types(config) -> bool:
    return int(getattr(config, "type_vocab_size", 0) or 0) >= 2


def export_key(folder: Path, random_seed: int | None, all_layers: bool) -> str:
    import torch

    from enso.features.files import files_sha256
    from enso.hashing import stable_hash

    names = [folder / name for name in _MODEL_FILES if (folder / name).is_file()]
    return stable_hash({"version": EXPORT_VERSION, "opset": OPSET, "files": files_sha256(folder, names),
                        "random_seed": random_seed, "outputs": "all" if all_layers else "last",
                        "torch": torch.__version__})


def _torch_model(folder: Path, random_seed: int | None):
    """fp32, eager attention (the pattern ONNX Runtime's attention fusion recognises), eval mode."""
    import torch
    from transformers import AutoConfig, AutoModel
    from transformers.utils import logging as hf_logging

    from enso.features.encoder import _torch_seed

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    if random_seed is None:
        return AutoModel.from_pretrained(str(folder), dtype=torch.float32, attn_implementation="eager").eval()
    config = AutoConfig.from_pretrained(str(folder))
    with _torch_seed(random_seed):
        model = AutoModel.from_config(config, attn_implementation="eager")
    return model.to(torch.float32).eval()


def export(folder: Path, path: Path, random_seed: int | None = None, all_layers: bool = False) -> None:
    """Write the model as ONNX to ``path``: dynamic batch and sequence axes; outputs the last hidden
    state, and with ``all_layers`` every hidden state (embeddings first)."""
    import torch

    model = _torch_model(folder, random_seed)
    types = takes_token_types(model.config)

    class Hidden(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids=None):
            extra = {} if token_type_ids is None else {"token_type_ids": token_type_ids}
            output = self.inner(input_ids=input_ids, attention_mask=attention_mask,
                                output_hidden_states=all_layers, **extra)
            if all_layers:
                return (output.last_hidden_state, *output.hidden_states)
            return output.last_hidden_state

    # a padded example, so the trace keeps the mask's arithmetic (an all-ones mask could be folded away)
    ids = torch.tensor([[101, 2023, 2003, 102, 0, 0], [101, 2023, 2003, 1037, 3231, 102]])
    inputs = [ids, (ids != 0).long()] + ([torch.zeros_like(ids)] if types else [])
    names = ["input_ids", "attention_mask"] + (["token_type_ids"] if types else [])
    outputs = ["last_hidden_state"] + ([f"hidden_{i}" for i in range(model.config.num_hidden_layers + 1)]
                                       if all_layers else [])
    axes = {name: {0: "batch", 1: "sequence"} for name in names + outputs}
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")  # tracer warnings about Python booleans in the mask code
        torch.onnx.export(Hidden(model), tuple(inputs), str(path), input_names=names, output_names=outputs,
                          dynamic_axes=axes, opset_version=OPSET, dynamo=False)


def exported(folder: Path, random_seed: int | None = None, all_layers: bool = False) -> Path:
    """The cached export of the model in ``folder``, made now (under a file lock) if there is none."""
    import filelock

    folder = Path(folder)
    directory = export_dir()
    path = directory / f"{export_key(folder, random_seed, all_layers)}.onnx"
    if path.is_file():
        return path
    directory.mkdir(parents=True, exist_ok=True)
    with filelock.FileLock(str(path) + ".lock"):
        if not path.is_file():
            temporary = path.with_name(f".{path.stem}.{os.getpid()}.tmp.onnx")
            log.info("exporting %s to ONNX for precision %s (once per model): %s", folder.name, PRECISION, path)
            try:
                export(folder, temporary, random_seed, all_layers)
                os.replace(temporary, path)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    temporary.unlink()
    return path


def session(path: Path, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3  # errors only
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class OnnxModel:
    """What ``encoder.encode`` and ``per_token`` call on a transformers model, run by ONNX Runtime.

    ``model(input_ids=, attention_mask=, output_hidden_states=, token_type_ids=)`` with torch
    tensors returns ``.last_hidden_state`` (and ``.hidden_states``) as torch tensors. The graph
    with every hidden state is exported and loaded the first time one is asked for.
    """

    precision = PRECISION

    def __init__(self, folder: Path, random_seed: int | None = None, threads: int | None = None):
        from transformers import AutoConfig

        from enso.features.encoder import available_cores

        self.folder, self.random_seed = Path(folder), random_seed
        self.config = AutoConfig.from_pretrained(str(folder))
        self.threads = threads or available_cores()
        self._sessions: dict[bool, Any] = {}
        self.path = self._session(False)[1]

    def _session(self, all_layers: bool):
        if all_layers not in self._sessions:
            path = exported(self.folder, self.random_seed, all_layers)
            self._sessions[all_layers] = (session(path, self.threads), path)
        return self._sessions[all_layers]

    def forward(self, input_ids, attention_mask=None, output_hidden_states: bool = False, token_type_ids=None):
        import torch

        ids = input_ids.cpu().numpy().astype(np.int64, copy=False)
        mask = (np.ones_like(ids) if attention_mask is None
                else attention_mask.cpu().numpy().astype(np.int64, copy=False))
        feed = {"input_ids": ids, "attention_mask": mask}
        if takes_token_types(self.config):
            feed["token_type_ids"] = (np.zeros_like(ids) if token_type_ids is None
                                      else token_type_ids.cpu().numpy().astype(np.int64, copy=False))
        run, _ = self._session(bool(output_hidden_states))
        if not output_hidden_states:
            (last,) = run.run(["last_hidden_state"], feed)
            return SimpleNamespace(last_hidden_state=torch.from_numpy(last), hidden_states=None)
        last, *hidden = run.run(None, feed)
        return SimpleNamespace(last_hidden_state=torch.from_numpy(last),
                               hidden_states=tuple(torch.from_numpy(h) for h in hidden))

    __call__ = forward

    def eval(self) -> OnnxModel:
        return self


def load(folder: Path, random_seed: int | None = None) -> OnnxModel:
    reason = available()
    if reason:
        from enso.errors import ConfigError
        raise ConfigError(f"precision {PRECISION} needs ONNX Runtime: {reason}")
    return OnnxModel(folder, random_seed)
