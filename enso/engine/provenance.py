"""``run.json``: what ran, how, where, on which data and features (written beside the results)."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

from enso.store import package_versions, write_json_atomic

RUN_INFO = "run.json"


def git_commit() -> dict[str, Any] | None:
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True,
                                timeout=5, check=False)
        if commit.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5, check=False)
        return {"commit": commit.stdout.strip(), "dirty": bool(dirty.stdout.strip())}
    except (OSError, subprocess.SubprocessError):
        return None


def hardware() -> dict[str, Any]:
    info: dict[str, Any] = {"machine": platform.machine(), "system": platform.platform(),
                            "cpus": os.cpu_count(), "processor": platform.processor() or None}
    try:
        pages, page_size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        info["memory_gb"] = round(pages * page_size / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        pass
    return info


def test_in_train(dataset) -> dict[str, Any]:
    """Test texts that also occur (exactly) in the train split: count and share of the test split."""
    own = getattr(dataset, "test_in_train", None)
    if callable(own):
        return dict(own())
    from enso.engine.plan import texts_also_in

    test, train = dataset.split_index("test"), dataset.split_index("train")
    count = int(texts_also_in(dataset, test, train).sum()) if len(test) else 0
    return {"count": count, "share": round(count / len(test), 6) if len(test) else 0.0}


def dataset_info(plan) -> dict[str, Any]:
    return {name: {"content_hash": d.content_hash, "rows": len(d), "test_in_train": test_in_train(d)}
            for name, d in plan.datasets.items()}


def _feature_meta(workspace, fid: str | None, dataset) -> dict[str, Any] | None:
    """The ``meta`` of the stored features of featurizer ``fid`` on ``dataset`` (train-split fit), or None."""
    import json

    if workspace is None or fid is None:
        return None
    manifest = Path(workspace.featurizers) / fid / dataset.content_hash[:16] / "manifest.json"
    try:
        meta = json.loads(manifest.read_text(encoding="utf-8")).get("meta")
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def featurizer_info(plan, workspace=None) -> dict[str, dict[str, Any]]:
    """``run.json["featurizers"]``: per featurizer label, its ``id`` and what computing its features cost.

    ``seconds`` (featurizing plus fitting, summed over the datasets; model loading apart, in
    ``load_seconds``), ``texts_per_second`` (units featurized per featurizing second), ``precision``
    and ``device`` come from the stored feature artifacts (``meta`` of their manifests: what the
    featurize stage measured when it computed them, cached since or not); ``datasets`` has the
    same per dataset. None where no features are stored (a featurizer only fine-tuning targets use).
    """
    from enso.engine.options import featurizer_part

    out: dict[str, dict[str, Any]] = {}
    for spec in plan.config.featurizers:
        fid = plan.featurizer_ids.get(spec.id)
        per_dataset: dict[str, Any] = {}
        rows = featurize = fit = load = 0.0
        found, precision, device = 0, set(), set()
        for name, dataset in plan.datasets.items():
            meta = _feature_meta(workspace, fid, dataset)
            if meta is None:
                per_dataset[name] = None
                continue
            found += 1
            seconds, fit_seconds = float(meta.get("seconds") or 0.0), float(meta.get("fit_seconds") or 0.0)
            rows += float(meta.get("rows") or 0)
            featurize += seconds
            fit += fit_seconds
            load += float(meta.get("load_seconds") or 0.0)
            precision.add(meta.get("precision"))
            device.add(meta.get("device"))
            per_dataset[name] = {"rows": meta.get("rows"), "seconds": round(seconds + fit_seconds, 4),
                                 "texts_per_second": meta.get("texts_per_second"),
                                 "precision": meta.get("precision"), "device": meta.get("device")}

        def one(values: set):
            values = {v for v in values if v is not None}
            return next(iter(values)) if len(values) == 1 else (sorted(map(str, values)) or None)

        out[spec.label] = {
            "id": fid, "featurizer": featurizer_part(spec).label,
            "seconds": round(featurize + fit, 4) if found else None,
            "load_seconds": round(load, 4) if found else None,
            "texts_per_second": round(rows / featurize, 2) if found and featurize > 0 else None,
            "precision": one(precision) if found else None, "device": one(device) if found else None,
            "datasets": per_dataset,
        }
    return out


def write_run_info(results_dir: Path, plan, *, started, status: str, jobs: int, scheduler: str | None,
                   threads: int, counts: dict, datasets: dict[str, Any], seconds: float | None = None,
                   failures: list | None = None, workspace=None) -> None:
    from enso.engine.plan import ENGINE_VERSION

    config = plan.config
    info = {
        "experiment": config.name, "status": status, "config": config.to_dict(),
        "config_path": str(config.source) if config.source else None,
        "started": started.isoformat(timespec="seconds"),
        "finished": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds") if seconds is not None else None,
        "seconds": round(seconds, 3) if seconds is not None else None,
        "jobs": jobs, "scheduler": scheduler, "blas_threads_per_worker": threads, "cells": counts,
        "skipped": [s.__dict__ for s in plan.skipped],
        "datasets": datasets,
        "featurizers": featurizer_info(plan, workspace),
        "engine_version": ENGINE_VERSION, "versions": package_versions(), "git": git_commit(),
        "hardware": hardware(), "command": sys.argv,
    }
    if failures:
        info["failures"] = failures
    write_json_atomic(results_dir / RUN_INFO, info)


__all__ = ["RUN_INFO", "dataset_info", "featurizer_info", "git_commit", "hardware", "test_in_train",
           "write_run_info"]
