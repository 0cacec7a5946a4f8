"""enso's ``setfit`` target against the setfit library: same model folder, training samples and hyperparameters.

Per training sample (drawn by enso's plan and sampler from a real dataset: the same rows for both
sides), each side loads the model folder, fine-tunes it contrastively, fits its logistic head and
predicts the same test rows; the two sides alternate cell by cell so both see the same machine
load. Printed: per-sample accuracies, mean +- sd per size and side, whether the means agree within
the spread across samples, both times and their ratio (goal: enso no slower).

The peer is the setfit library (PyPI ``setfit``, the ``bench`` extra): ``SetFitModel.from_pretrained``
on the folder, offline, ``Trainer`` with ``TrainingArguments`` set to the same values as enso's
target (setfit's defaults unless an option here says otherwise).

    python benchmarks/finetune.py --root /tmp/sf-ws --link-datasets /work/main/datasets    # 8 and 16 per class
    python benchmarks/finetune.py --sizes 16 --resamples 2 --test-size 100                   # a quick check
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("WANDB_DISABLED", "true")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", help="workspace folder (default: $ENSO_ROOT or the current directory)")
    parser.add_argument("--link-datasets", help="a datasets/ folder to symlink the dataset from when the "
                                                "workspace lacks it (read only)")
    parser.add_argument("--dataset", default="PangLeeSentences")
    parser.add_argument("--model", help="model folder (default: the minilm featurizer's all-MiniLM-L6-v2)")
    parser.add_argument("--sizes", default="16,32", help="training sizes, balanced across classes (default 16,32: "
                                                         "8 and 16 per class on a binary dataset)")
    parser.add_argument("--resamples", type=int, default=5, help="training samples per size (default 5)")
    parser.add_argument("--test-size", type=int, default=400, help="test rows scored, the same for every cell "
                                                                   "(default 400; 0: the whole test split)")
    parser.add_argument("--num-iterations", type=int, help="pairs per example (default: setfit's oversampling)")
    parser.add_argument("--max-steps", type=int, help="cap on training steps (default: none, as setfit)")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=2e-5, help="body learning rate (setfit's 2e-5)")
    parser.add_argument("--threads", type=int, help="torch threads for both sides (default: torch's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="also write the measurements as JSON here")
    return parser.parse_args(argv)


def featurizer_spec(model: str | None):
    return "minilm" if model is None else {"name": "hf-encoder", "path": str(model)}


def hyperparameters(args) -> dict:
    """The enso setfit target's parameters; the same values go to the library's TrainingArguments."""
    params = {"batch_size": args.batch_size, "num_epochs": args.epochs, "body_learning_rate": args.lr,
              "device": "cpu"}
    if args.num_iterations is not None:
        params["num_iterations"] = args.num_iterations
    if args.max_steps is not None:
        params["max_steps"] = args.max_steps
    return params


def prepare(args, workspace):
    """The cells (same training rows for both sides), the dataset, the SourceModel and the test rows."""
    from enso.components import parse_config
    from enso.engine.plan import build_plan, draw_rows
    from enso.engine.runner import load_datasets
    from enso.features import make_featurizer

    if args.link_datasets:
        link = workspace.root / "datasets" / args.dataset
        if not link.exists():
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(Path(args.link_datasets).resolve() / args.dataset, target_is_directory=True)
    spec = featurizer_spec(args.model)
    source_name = spec if isinstance(spec, str) else spec["name"]
    config = parse_config({
        "name": "benchmark-finetune", "datasets": [args.dataset], "featurizers": [spec],
        "targets": [{"name": "setfit", "source": source_name, **hyperparameters(args)}],
        "train_sizes": [int(s) for s in args.sizes.split(",")], "resamples": args.resamples,
        "samplers": ["balanced"], "metrics": ["accuracy"], "seed": args.seed,
    }, workspace)
    plan = build_plan(config, load_datasets(config, workspace))
    dataset = plan.datasets[args.dataset]
    featurizer = make_featurizer(source_name, {} if isinstance(spec, str) else {"path": spec["path"]})
    source = featurizer.source_model_folder()
    test = np.asarray(plan.cells[0].test)
    if args.test_size and args.test_size < len(test):
        test = np.sort(np.random.default_rng(args.seed).choice(test, args.test_size, replace=False))
    cells = [(cell, draw_rows(cell.draw, dataset)) for cell in plan.cells]
    return cells, dataset, source, test


def run_enso(args, source, texts, labels, test_texts, seed):
    from enso.targets.setfit import SetFit

    started = time.perf_counter()
    model = SetFit(source=source.featurizer, random_state=seed, **hyperparameters(args))
    model.fit(texts, labels, source=source)
    predicted = model.predict(test_texts)
    return time.perf_counter() - started, predicted


def run_setfit(args, source, texts, labels, test_texts, seed, scratch):
    from datasets import Dataset
    from setfit import SetFitModel, Trainer, TrainingArguments

    started = time.perf_counter()
    classes, codes = np.unique(labels, return_inverse=True)
    model = SetFitModel.from_pretrained(source.root, device="cpu")
    training = TrainingArguments(
        output_dir=str(scratch), batch_size=args.batch_size, num_epochs=args.epochs,
        body_learning_rate=args.lr, num_iterations=args.num_iterations,
        max_steps=-1 if args.max_steps is None else args.max_steps, seed=int(seed) % (2**31),
        show_progress_bar=False, report_to="none", save_strategy="no", logging_strategy="no",
    )
    trainer = Trainer(model=model, args=training,
                      train_dataset=Dataset.from_dict({"text": list(texts), "label": [int(c) for c in codes]}))
    trainer.train()
    predicted = classes[np.asarray(model.predict(list(test_texts), show_progress_bar=False), dtype=np.int64)]
    return time.perf_counter() - started, predicted


def quiet():
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    warnings.filterwarnings("ignore")
    for name in ("setfit", "sentence_transformers", "transformers", "datasets"):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()
        import datasets

        datasets.disable_progress_bars()
        datasets.logging.set_verbosity_error()
    except ImportError:
        pass


def summarise(rows: list[dict], sizes: list[int]) -> tuple[list[str], bool, dict]:
    lines, agree_all, by_size = [], True, {}
    for size in sizes:
        ours = np.asarray([r["enso"] for r in rows if r["train_size"] == size])
        peer = np.asarray([r["setfit"] for r in rows if r["train_size"] == size])
        sd_ours = float(ours.std(ddof=1)) if len(ours) > 1 else 0.0
        sd_peer = float(peer.std(ddof=1)) if len(peer) > 1 else 0.0
        gap = float(abs(ours.mean() - peer.mean()))
        spread = max(sd_ours, sd_peer)
        agree = gap <= spread
        agree_all &= agree
        paired = ours - peer  # the same training sample on both sides
        sd_paired = float(paired.std(ddof=1)) if len(paired) > 1 else 0.0
        by_size[size] = {"enso_mean": float(ours.mean()), "enso_sd": sd_ours, "setfit_mean": float(peer.mean()),
                         "setfit_sd": sd_peer, "gap": gap, "agree": agree, "paired_mean": float(paired.mean()),
                         "paired_sd": sd_paired, "enso_higher": int((paired > 0).sum()),
                         "setfit_higher": int((paired < 0).sum())}
        lines.append(f"n={size:<4} enso {ours.mean():.4f} +- {sd_ours:.4f}   setfit {peer.mean():.4f} +- {sd_peer:.4f}   "
                     f"|gap| {gap:.4f} {'<=' if agree else '>'} spread {spread:.4f}: "
                     f"{'agree' if agree else 'DISAGREE'}; per sample enso - setfit {paired.mean():+.4f} +- "
                     f"{sd_paired:.4f} (enso higher in {(paired > 0).sum()}, setfit in {(paired < 0).sum()})")
    return lines, agree_all, by_size


def main(argv=None) -> int:
    args = parse_args(argv)
    quiet()
    import torch

    from enso.workspace import Workspace

    if args.threads:
        torch.set_num_threads(args.threads)
    workspace = Workspace.resolve(args.root)
    cells, dataset, source, test = prepare(args, workspace)
    texts_all, labels_all = dataset.texts, np.asarray(dataset.labels).astype(str)
    test_texts, y_test = [texts_all[i] for i in test], labels_all[test]
    sizes = sorted({cell.train_size for cell, _ in cells})
    print(f"dataset {args.dataset}: {len(cells)} training samples (sizes {sizes}, {args.resamples} each, balanced), "
          f"{len(test)} test rows; model {source.root}; torch threads {torch.get_num_threads()}; "
          f"hyperparameters {hyperparameters(args)}", flush=True)
    rows = []
    seconds = {"enso": 0.0, "setfit": 0.0}
    with tempfile.TemporaryDirectory(prefix="setfit-bench-") as scratch:
        for k, (cell, train) in enumerate(cells):
            texts, labels = [texts_all[i] for i in train], labels_all[train]
            sides = ("setfit", "enso") if k % 2 == 0 else ("enso", "setfit")  # alternate who goes first
            row = {"train_size": cell.train_size, "resample": cell.resample, "seed": cell.target_seed}
            for side in sides:
                if side == "enso":
                    took, predicted = run_enso(args, source, texts, labels, test_texts, cell.target_seed)
                else:
                    took, predicted = run_setfit(args, source, texts, labels, test_texts, cell.target_seed, scratch)
                row[side] = float(np.mean(np.asarray(predicted).astype(str) == y_test))
                row[f"{side}_seconds"] = took
                seconds[side] += took
            rows.append(row)
            print(f"n={cell.train_size:<4} sample {cell.resample}: accuracy enso {row['enso']:.4f} "
                  f"({row['enso_seconds']:6.1f} s)  setfit {row['setfit']:.4f} ({row['setfit_seconds']:6.1f} s)",
                  flush=True)
    lines, agree, by_size = summarise(rows, sizes)
    print("\n".join(lines))
    ratio = seconds["setfit"] / seconds["enso"] if seconds["enso"] else float("nan")
    print(f"time: enso {seconds['enso']:.1f} s, setfit {seconds['setfit']:.1f} s; "
          f"ratio (setfit / enso) {ratio:.2f}x ({'enso no slower' if ratio >= 1 else 'enso slower'})")
    print("agreement check: " + ("PASS" if agree else "FAIL") +
          " (per size, |mean enso - mean setfit| <= the larger sd across samples)")
    if args.out:
        Path(args.out).write_text(json.dumps({
            "dataset": args.dataset, "cells": rows, "by_size": {str(k): v for k, v in by_size.items()},
            "enso_seconds": seconds["enso"], "setfit_seconds": seconds["setfit"], "ratio": ratio, "agree": agree,
            "threads": torch.get_num_threads(), "test_rows": len(test), "hyperparameters": hyperparameters(args),
        }, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
