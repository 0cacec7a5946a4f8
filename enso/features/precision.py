"""``precision = "auto"``: per device, the fastest precision whose features keep cosine >= 0.999 with fp32.

What ``auto`` means is decided once per machine and model by a short calibration: the model is
loaded at every candidate precision of the device (CPU: fp32, bf16, int8 dynamic quantization
of the linear layers, and onnx-fp32 (fp32 on ONNX Runtime, ``enso.features.onnx_runtime``) where
onnxruntime is installed; CUDA: fp32, fp16, bf16 where the card has it), each encodes the 128 real
sentences of ``enso.features.calibration_texts`` once (warm-up, and the cosine of each row
with fp32's), the candidates that keep every row's cosine >= ``THRESHOLD`` are timed in
interleaved rounds (best of each), and the fastest wins if it beats fp32 by at least
``MIN_GAIN`` (else fp32: exactness is worth a few percent).

The choice is cached in a JSON file in the user's cache folder (``cache_file()``:
``$ENSO_CACHE_DIR``, else ``$XDG_CACHE_HOME/enso``, else ``~/.cache/enso``;
``precision.json``), keyed by the machine (CPU model, its bf16/AMX/VNNI flags, torch's CPU
capability and the cores this process may use, or the CUDA card's name and capability; torch's
version) and the model (the sha256 of its files, pooling, normalisation, length, layers). It
lives beside the user, not in a workspace, because it is a fact about the machine and the
model: featurizer identities are computed where no workspace is at hand (config checks, the
experiment plan, fine-tuning sources), and every workspace on one machine must resolve
``auto`` to the same precision, so that their feature ids agree. A shared home on machines
of different kinds holds one entry per kind.

The resolved precision is in the featurizer's identity (its id), never ``"auto"``: the
featurize and experiment stages resolve it from the same cache entry and so name the same
artifact. ``record`` replaces the entry with a user's choice (``enso featurize --precision
bf16`` does, so that ``enso experiment`` then reads the bf16 features), ``forget`` drops it
(``--precision auto`` recalibrates). ``$ENSO_AUTO_PRECISION`` (``fp32``, ``bf16``, ...)
makes ``auto`` that precision without calibrating or reading the cache (CI, the test suite).

Needs only numpy, torch, filelock and transformers, like ``enso.features.encoder``, so
``benchmarks/featurize.py --precision auto`` runs on a bare GPU machine; onnxruntime and onnx
are optional (without them onnx-fp32 is not a candidate; a debug line says so).
"""

from __future__ import annotations

import contextlib
import datetime
import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from enso.features import encoder
from enso.hashing import stable_hash

log = logging.getLogger(__name__)

THRESHOLD = 0.999  # every calibration row's cosine with fp32 at least this
MIN_GAIN = 1.05  # a precision other than fp32 must be at least this much faster
ROUNDS = 2  # timed rounds after the warm-up pass; the best of each candidate counts
CACHE_NAME = "precision.json"
CACHE_VERSION = 1
ENV_FORCE = "ENSO_AUTO_PRECISION"
ENV_CACHE = "ENSO_CACHE_DIR"
#: CPU flags that decide which precision is fast (bf16/AMX matmuls, VNNI int8 dot products)
SPEED_FLAGS = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_fp16", "avx512_vnni", "avx_vnni",
               "amx_bf16", "amx_int8", "amx_tile")

_memo: dict[str, str] = {}  # cache key -> choice, for this process (identities are asked for often)
#: what ``auto`` is while a protocol that reproduces published numbers runs (``pinned``); None: calibrate
_pinned: list[str] = []


@dataclass(frozen=True)
class Subject:
    """What a calibration measures: a model folder with its file hashes and the featurizer's settings."""

    name: str
    transformer: Path
    files: dict[str, str]
    settings: dict[str, Any]  # pooling, normalize, max_length, layers
    random_seed: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def identity(self) -> dict[str, Any]:
        return {"files": dict(sorted(self.files.items())), "settings": dict(sorted(self.settings.items())),
                "random_seed": self.random_seed}


def cache_file() -> Path:
    """Where calibrations are kept: ``$ENSO_CACHE_DIR``, ``$XDG_CACHE_HOME/enso`` or ``~/.cache/enso``."""
    root = os.environ.get(ENV_CACHE)
    if not root:
        xdg = os.environ.get("XDG_CACHE_HOME")
        root = str(Path(xdg) / "enso") if xdg else str(Path.home() / ".cache" / "enso")
    return Path(root).expanduser() / CACHE_NAME


def candidates(device: str) -> tuple[str, ...]:
    """The precisions tried on ``device``, fp32 (the reference) first."""
    if device.startswith("cuda"):
        import torch

        return ("fp32", "fp16", "bf16") if torch.cuda.is_bf16_supported() else ("fp32", "fp16")
    return ("fp32", "bf16", "int8") + _onnx_candidates()


@lru_cache(maxsize=1)
def _onnx_candidates() -> tuple[str, ...]:
    """``("onnx-fp32",)`` where ONNX Runtime is installed, else nothing (an optional dependency)."""
    from enso.features import onnx_runtime

    missing = onnx_runtime.available()
    if missing:
        log.debug("precision %s is not a candidate: %s", onnx_runtime.PRECISION, missing)
        return ()
    return (onnx_runtime.PRECISION,)


@lru_cache(maxsize=1)
def _cpu() -> tuple[str, tuple[str, ...]]:
    import platform

    model, flags = platform.processor() or platform.machine(), ()
    try:
        info = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return model, flags
    for line in info.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and model in ("", platform.processor(), platform.machine()):
            model = value.strip()
        elif key in ("flags", "Features") and not flags:
            present = set(value.split())
            flags = tuple(f for f in SPEED_FLAGS if f in present)
    return model, flags


def machine(device: str) -> dict[str, Any]:
    """What decides which precision is fastest here: the CPU or card, and torch."""
    import torch

    if device.startswith("cuda"):
        index = torch.device(device).index or 0
        return {"device": "cuda", "name": torch.cuda.get_device_name(index),
                "capability": list(torch.cuda.get_device_capability(index)), "torch": torch.__version__,
                "cuda": torch.version.cuda}
    model, flags = _cpu()
    capability = getattr(getattr(torch.backends, "cpu", None), "get_cpu_capability", lambda: None)()
    return {"device": "cpu", "cpu": model, "flags": list(flags), "torch_capability": capability,
            "cores": encoder.available_cores(), "torch": torch.__version__}


def cache_key(subject: Subject, device: str) -> str:
    return stable_hash({"version": CACHE_VERSION, "machine": machine(device), "model": subject.identity()})


def read_cache(path: Path | None = None) -> dict[str, Any]:
    path = path or cache_file()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"version": CACHE_VERSION, "entries": {}}
    if not isinstance(data, dict) or data.get("version") != CACHE_VERSION or not isinstance(data.get("entries"), dict):
        return {"version": CACHE_VERSION, "entries": {}}
    return data


def _write_cache(data: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(temporary, path)


@contextlib.contextmanager
def _locked(path: Path):
    import filelock

    path.parent.mkdir(parents=True, exist_ok=True)
    with filelock.FileLock(str(path) + ".lock"):
        yield


def _valid_entry(entry: Any, device: str) -> bool:
    return isinstance(entry, dict) and entry.get("choice") in candidates(device)


def forced(device: str) -> str | None:
    """``$ENSO_AUTO_PRECISION`` when set: what ``auto`` is without calibrating; ``ConfigError`` if unusable."""
    value = os.environ.get(ENV_FORCE, "").strip()
    if not value:
        return None
    allowed = candidates(device)
    if value not in allowed:
        from enso.errors import ConfigError
        raise ConfigError(f"${ENV_FORCE}={value} is not a precision for {device.split(':')[0]}; "
                          f"use one of {', '.join(allowed)} (or unset it to calibrate)")
    return value


@contextlib.contextmanager
def pinned(precision: str | None):
    """Within the block, ``auto`` is ``precision`` (``$ENSO_AUTO_PRECISION`` still wins); None pins nothing.

    The protocols that reproduce published numbers (``mteb``, ``senteval``) pin fp32: the
    numbers they reproduce were computed in fp32, and a faster precision that keeps cosine
    >= 0.999 still moves accuracies in their last digits.
    """
    if precision is None:
        yield
        return
    _pinned.append(precision)
    try:
        yield
    finally:
        _pinned.pop()


def auto_precision(subject: Subject, device: str, *, calibrate_with: Callable[..., dict] | None = None) -> str:
    """The precision ``auto`` resolves to for ``subject`` on ``device``: cached, else calibrated now and cached."""
    choice = forced(device)
    if choice:
        return choice
    if _pinned:
        return _pinned[-1]
    key = cache_key(subject, device)
    if key in _memo:
        return _memo[key]
    path = cache_file()
    entry = read_cache(path)["entries"].get(key)
    if not _valid_entry(entry, device):
        with _locked(path):  # one process calibrates; the others wait and read its entry
            data = read_cache(path)
            entry = data["entries"].get(key)
            if not _valid_entry(entry, device):
                entry = (calibrate_with or calibrate)(subject, device)
                entry.update({"machine": machine(device), "model": subject.identity(), "name": subject.name,
                              "created": _now()})
                data["entries"][key] = entry
                _write_cache(data, path)
                log.info("precision auto for %s on %s: %s (%s); cached in %s", subject.name,
                         device, entry["choice"], describe(entry), path)
    _memo[key] = entry["choice"]
    return entry["choice"]


def record(subject: Subject, device: str, precision: str, source: str) -> Path:
    """Make ``auto`` mean ``precision`` for ``subject`` on this machine (a user's choice, not measured)."""
    if precision not in candidates(device):
        from enso.errors import ConfigError
        raise ConfigError(f"precision {precision} does not run on {device}; use one of {', '.join(candidates(device))}")
    key, path = cache_key(subject, device), cache_file()
    with _locked(path):
        data = read_cache(path)
        data["entries"][key] = {"choice": precision, "source": source, "machine": machine(device),
                                "model": subject.identity(), "name": subject.name, "created": _now()}
        _write_cache(data, path)
    _memo[key] = precision
    return path


def forget(subject: Subject, device: str) -> bool:
    """Drop the cached choice for ``subject`` on this machine (the next ``auto`` calibrates); True if there was one."""
    key, path = cache_key(subject, device), cache_file()
    _memo.pop(key, None)
    with _locked(path):
        data = read_cache(path)
        dropped = data["entries"].pop(key, None) is not None
        if dropped:
            _write_cache(data, path)
    return dropped


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def describe(entry: dict[str, Any]) -> str:
    """One line: each candidate's speed and cosine, or who chose."""
    measured = entry.get("candidates")
    if not measured:
        return f"set by {entry.get('source', 'the user')}"
    parts = []
    for name, m in measured.items():
        speed = f"{m['texts_per_second']:,.0f} texts/s" if m.get("texts_per_second") else "not timed"
        parts.append(f"{name} {speed}, cosine min {m['cosine_min']:.6f}")
    return "; ".join(parts)


# ---- the calibration ----------------------------------------------------------------------------------


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine (per layer for ``(n, layers, d)``); rows that are zero in both count as 1."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    na, nb = np.linalg.norm(a, axis=-1), np.linalg.norm(b, axis=-1)
    dot = (a * b).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = dot / (na * nb)
    out[(na == 0) & (nb == 0)] = 1.0
    return np.nan_to_num(out, nan=0.0)


def choose(measured: dict[str, dict[str, float]], threshold: float = THRESHOLD, min_gain: float = MIN_GAIN) -> str:
    """fp32, or the fastest candidate that keeps cosine >= ``threshold`` and beats fp32 by ``min_gain``."""
    base = measured["fp32"]["texts_per_second"]
    best, best_speed = "fp32", base * min_gain
    for name, m in measured.items():
        if name == "fp32" or m["cosine_min"] < threshold or not m.get("texts_per_second"):
            continue
        if m["texts_per_second"] >= best_speed and (best == "fp32" or m["texts_per_second"] > measured[best]["texts_per_second"]):
            best, best_speed = name, m["texts_per_second"]
    return best


def measure(make_encoder: Callable[[str], Callable[[Sequence[str]], np.ndarray]], precisions: Sequence[str],
            texts: Sequence[str], *, rounds: int = ROUNDS, timer: Callable[[], float] = time.perf_counter,
            threshold: float = THRESHOLD) -> dict[str, dict[str, float]]:
    """Cosine with fp32 for every precision, and texts/s (best of ``rounds``) for those that keep ``threshold``.

    ``make_encoder(precision)`` loads the model and returns a function from texts to features;
    its first call is the warm-up and gives the features compared with fp32's.
    """
    if precisions[0] != "fp32":
        raise ValueError("fp32 is the reference and comes first")
    texts = list(texts)
    encoders, measured, reference = {}, {}, None
    for name in precisions:
        try:
            encode = make_encoder(name)
            X = np.asarray(encode(texts), dtype=np.float32)
        except Exception as exc:  # a candidate that cannot run on this model (an export that fails) is not chosen
            if name == "fp32":
                raise
            log.info("precision %s skipped for this model: %s", name, exc)
            continue
        reference = X if reference is None else reference
        agreement = cosines(X, reference)
        measured[name] = {"cosine_min": float(agreement.min()), "cosine_mean": float(agreement.mean()),
                          "texts_per_second": None}
        if name == "fp32" or measured[name]["cosine_min"] >= threshold:
            encoders[name] = encode  # only what could be chosen is timed
    best = dict.fromkeys(encoders, float("inf"))
    for _ in range(rounds):  # interleaved: a load spike slows one round of each, not one candidate
        for name, encode in encoders.items():
            started = timer()
            encode(texts)
            best[name] = min(best[name], timer() - started)
    for name, seconds in best.items():
        measured[name]["texts_per_second"] = len(texts) / seconds if seconds > 0 else float("inf")
    return measured


def calibrate(subject: Subject, device: str, *, texts: Sequence[str] | None = None, rounds: int = ROUNDS,
              timer: Callable[[], float] = time.perf_counter) -> dict[str, Any]:
    """Load the model at each candidate precision, measure, choose: ``{"choice", "candidates", ...}``."""
    from enso.features.calibration_texts import TEXTS

    texts = list(texts or TEXTS)
    settings = subject.settings
    tokenizer = encoder.load_tokenizer(subject.transformer, settings["max_length"])
    log.info("calibrating precision for %s on %s (once per machine and model): %s on %d sentences",
             subject.name, device, ", ".join(candidates(device)), len(texts))

    def make_encoder(precision: str):
        model = encoder.load_model(subject.transformer, device, precision, subject.random_seed)

        def encode(batch):
            out, _ = encoder.encode(batch, model, tokenizer, device=device,
                                    batch_size=encoder.default_batch_size(device, precision),
                                    pooling=settings["pooling"], normalize=settings["normalize"],
                                    layers=settings["layers"])
            return out
        return encode

    started = time.perf_counter()
    measured = measure(make_encoder, candidates(device), texts, rounds=rounds, timer=timer)
    from enso.features import onnx_runtime

    versions = {"onnxruntime": onnx_runtime.version()} if onnx_runtime.PRECISION in candidates(device) else {}
    return {"choice": choose(measured), "source": "calibration", "candidates": measured, **versions,
            "threshold": THRESHOLD, "min_gain": MIN_GAIN, "texts": len(texts), "rounds": rounds,
            "seconds": round(time.perf_counter() - started, 2)}


def folder_subject(name: str, folder, settings: dict[str, Any], files: dict[str, str] | None = None,
                   random_seed: int | None = None) -> Subject:
    """A ``Subject`` from a ``ModelFolder`` (files hashed here unless given)."""
    if files is None:
        from enso.features.files import files_sha256

        files = files_sha256(folder.root, folder.files(include_weights=random_seed is None))
    return Subject(name=name, transformer=Path(folder.transformer), files=files,
                   settings={k: settings[k] for k in ("pooling", "normalize", "max_length", "layers")},
                   random_seed=random_seed)
