"""ONNX Runtime against enso's own torch fp32 path for ``minilm``, on the CPU at hand: speed and cosine.

Does running all-MiniLM-L6-v2 through ONNX Runtime (CPUExecutionProvider, graph optimizations on)
beat enso's torch fp32 encoder on a CPU without fast bf16 (no AMX), with features that keep
cosine >= 0.999 with enso's fp32 features? Candidates, all with enso's tokenizer, length-sorted
batches (enso's fp32 batch size), mean pooling and L2 normalisation:

- ``onnx-fp32``: the model exported with ``torch.onnx.export`` (dynamic batch and sequence axes);
- ``onnx-fp32-fused``: the same graph after ``onnxruntime.transformers.optimizer`` (BERT attention,
  LayerNorm and GELU fusions);
- ``onnx-int8``: the fused graph with ``onnxruntime.quantization.quantize_dynamic`` (int8 weights of
  the MatMuls, activations quantized per batch: VNNI where the CPU has it);
- ``enso-onnx-fp32``: enso's own ``precision = "onnx-fp32"`` (``enso.features.onnx_runtime``: the
  plain export, cached in the user's cache folder, run through ``encoder.encode``).

The peer, enso's ``minilm`` featurizer at ``precision = "fp32"`` (``encoder.encode``, as the
featurize stage runs it), is measured in the same process, on the same texts, with the same
number of threads (``--threads 2,1``: for 1 the process is pinned to one core, so enso's torch
path and ONNX Runtime's session both run on it), in interleaved rounds: every candidate is run
once as a warm-up (not timed; it gives the features compared with fp32's), then ``--rounds``
timed runs of each in turn. Best and median texts/s are printed, and ratios use the best (a
shared machine slows runs, never speeds them up).

    python benchmarks/onnx_runtime.py                                # calibration texts + 1,000 SST-2 test sentences
    python benchmarks/onnx_runtime.py --threads 2 --rounds 5 --n 1000

Needs onnxruntime and onnx (for the export and the quantizer) besides enso's own dependencies.
The exported files go to a temporary folder (``--keep DIR`` keeps them); nothing is pickled.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from enso.features import encoder  # noqa: E402  (after the path set-up, on purpose)
from enso.features.calibration_texts import TEXTS  # noqa: E402
from enso.features.precision import cosines  # noqa: E402
from enso.features.transformer import MiniLMFeaturizer, minilm_folder  # noqa: E402


def sst2_test(n: int) -> list[str]:
    shared = Path(os.environ.get("ENSO_SHARED_DATASETS", REPO.parent / "shared" / "datasets"))
    texts = []
    for line in (shared / "stsa.binary.test").read_text(encoding="utf-8").splitlines():
        label, _, rest = line.strip().partition(" ")
        if rest:
            texts.append(rest)
    return texts[:n]


def export(folder: Path, path: Path) -> None:
    """The transformer (fp32, eager attention, so ORT's fusions recognise it) as ONNX with dynamic axes."""
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(folder), dtype=torch.float32, attn_implementation="eager").eval()

    class Hidden(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    ids = torch.tensor([[101, 7592, 2088, 102, 0, 0], [101, 2023, 2003, 1037, 3231, 102]])
    mask = (ids != 0).long()
    axes = {"batch": 0, "sequence": 1}
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")
        torch.onnx.export(Hidden(model), (ids, mask), str(path), input_names=["input_ids", "attention_mask"],
                          output_names=["last_hidden_state"], opset_version=17, dynamo=False,
                          dynamic_axes={"input_ids": {v: k for k, v in axes.items()},
                                        "attention_mask": {v: k for k, v in axes.items()},
                                        "last_hidden_state": {v: k for k, v in axes.items()}})


def fuse(path: Path, out: Path, config) -> bool:
    try:
        from onnxruntime.transformers import optimizer
    except ImportError as exc:
        print(f"onnxruntime.transformers.optimizer unavailable ({exc}); no fused graph")
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = optimizer.optimize_model(str(path), model_type="bert", num_heads=config.num_attention_heads,
                                         hidden_size=config.hidden_size, opt_level=1)
    print(f"fusions: {model.get_fused_operator_statistics()}")
    model.save_model_to_file(str(out))
    return True


def quantize(path: Path, out: Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # the fused graph's com.microsoft operators defeat shape inference: their outputs are fp32
    quantize_dynamic(str(path), str(out), weight_type=QuantType.QInt8,
                     extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})


def ort_encoder(path: Path, tokenizer, threads: int, batch_size: int):
    """texts -> L2-normalised mean-pooled rows, as ``encoder.encode`` computes them, through ONNX Runtime."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def encode(texts):
        ids = encoder.tokenize(tokenizer, texts)
        lengths = np.asarray([len(x) for x in ids], dtype=np.int64)
        out = np.zeros((len(texts), 384), dtype=np.float32)
        for batch in encoder.length_sorted_batches(lengths, batch_size):
            input_ids, mask = encoder._padded(ids, batch, 0)
            hidden = session.run(None, {"input_ids": input_ids, "attention_mask": mask})[0]
            weights = mask[:, :, None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            out[batch] = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return out
    return encode


def run(texts: list[str], label: str, encoders: dict, rounds: int) -> dict:
    """Warm-up (features) then interleaved timed rounds; prints one line per candidate."""
    features = {name: np.asarray(encode(texts), dtype=np.float32) for name, encode in encoders.items()}
    times = {name: [] for name in encoders}
    for _ in range(rounds):
        for name, encode in encoders.items():
            started = time.perf_counter()
            encode(texts)
            times[name].append(time.perf_counter() - started)
    base = len(texts) / min(times["torch-fp32"])
    results = {}
    for name in encoders:
        best, median = len(texts) / min(times[name]), len(texts) / statistics.median(times[name])
        agreement = cosines(features[name], features["torch-fp32"])
        results[name] = (best, median, float(agreement.min()), float(agreement.mean()))
        print(f"  {label:<12} {name:<16} best {best:7.1f} texts/s  median {median:7.1f}  ratio to torch fp32 "
              f"{best / base:5.2f}x  cosine vs torch fp32 min {agreement.min():.6f} mean {agreement.mean():.6f}",
              flush=True)
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="SST-2 test sentences (default 1000)")
    parser.add_argument("--threads", default="2,1", help="thread counts to measure, comma-separated")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds after the warm-up")
    parser.add_argument("--keep", type=Path, help="keep the exported .onnx files in this folder")
    args = parser.parse_args(argv)

    from transformers import AutoConfig

    folder = minilm_folder()
    config = AutoConfig.from_pretrained(str(folder))
    work = args.keep or Path(tempfile.mkdtemp(prefix="enso-onnx-"))
    work.mkdir(parents=True, exist_ok=True)
    plain, fused, int8 = work / "minilm.onnx", work / "minilm-fused.onnx", work / "minilm-fused-int8.onnx"
    started = time.perf_counter()
    export(folder, plain)
    print(f"exported {plain} in {time.perf_counter() - started:.1f} s")
    graphs = {"onnx-fp32": plain}
    if fuse(plain, fused, config):
        graphs["onnx-fp32-fused"] = fused
    quantize(graphs.get("onnx-fp32-fused", plain), int8)
    graphs["onnx-int8"] = int8

    import onnxruntime
    import torch

    print(f"torch {torch.__version__}, onnxruntime {onnxruntime.__version__}, cores {encoder.available_cores()}, "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    sets = {"calibration": list(TEXTS), f"sst2-test-{args.n}": sst2_test(args.n)}
    all_cores = os.sched_getaffinity(0)
    for threads in [int(t) for t in args.threads.split(",")]:
        os.sched_setaffinity(0, set(sorted(all_cores)[:threads]))  # enso's torch path uses every core it may
        featurizer = MiniLMFeaturizer(precision="fp32", device="cpu")
        resolved = featurizer.resolved()
        batch_size = resolved["batch_size"]
        featurizer.prepare()
        tokenizer = encoder.load_tokenizer(folder, resolved["max_length"])
        encoders = {"torch-fp32": featurizer.featurize}
        for name, path in graphs.items():
            encoders[name] = ort_encoder(path, tokenizer, threads, batch_size)
        # enso's own onnx-fp32 precision: the export cached in the user's cache, through encoder.encode
        integrated = MiniLMFeaturizer(precision="onnx-fp32", device="cpu").prepare()
        encoders["enso-onnx-fp32"] = integrated.featurize
        print(f"threads {threads} (torch {encoder.available_cores()} via affinity, onnxruntime intra_op {threads}), "
              f"batch {batch_size}, {args.rounds} timed rounds after one warm-up:")
        for label, texts in sets.items():
            run(texts, label, encoders, args.rounds)
        os.sched_setaffinity(0, all_cores)
    print(f"load average at the end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
