"""The results table a report is drawn from: found, checked, and filtered."""

from __future__ import annotations

import hashlib
import io
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from enso.errors import ConfigError, EnsoError
from enso.registry import unknown_name_message
from enso.workspace import Workspace

log = logging.getLogger(__name__)

RESULTS_FILE = "results.parquet"
MANIFEST_FILE = "results.manifest.json"
NUMERIC_COLUMNS = ("test_ci_low", "test_ci_high", "majority_share", "baseline_value")
REQUIRED = ("dataset", "featurizer", "target", "train_size", "resample", "metric", "value")
# Columns that can tell cells apart besides the main dimensions; one value each unless put on lines.
EXTRA_DIMENSIONS = ("sampler", "resampler", "protocol")
DIMENSIONS = ("dataset", "featurizer", "target", "metric", *EXTRA_DIMENSIONS)
TIMING_COLUMNS = ("seconds", "fit_seconds", "predict_seconds")


def experiment_name(experiment: str | Path, workspace: Workspace) -> str:
    """The results folder name for EXPERIMENT: a config's name, or a bare name with results."""
    from enso.config import read_config

    text = str(experiment)
    looks_like_path = text.endswith(".toml") or "/" in text or "\\" in text
    if not looks_like_path and (workspace.results_dir(text) / RESULTS_FILE).is_file() \
            and not (workspace.experiments / f"{text}.toml").is_file():
        return text
    try:
        path = workspace.experiment_path(experiment)
    except ConfigError as exc:
        if looks_like_path:
            raise
        if workspace.results_dir(text).is_dir():
            return text
        raise ConfigError(f"{exc}; nor is there a results folder {workspace.results_dir(text)} "
                          f"(run `python -m enso.experiment {text}` to make one)") from exc
    return read_config(path, validate_names=False).name


def results_path(name: str, workspace: Workspace) -> Path:
    return workspace.results_dir(name) / RESULTS_FILE


@dataclass(frozen=True)
class Results:
    """A results table as read, with the sha256 of the exact bytes it was parsed from."""

    frame: pd.DataFrame
    sha256: str
    verified: bool  # False: no manifest to check it against (a table from before manifests)


def load_table(name: str, workspace: Workspace) -> Results:
    """results/<name>/results.parquet, verified against results.manifest.json and checked for the
    columns a report needs.

    The bytes are read once, and the same bytes are hashed, checked and parsed, so a table
    replaced meanwhile can neither pass another's check nor give the report a key it does not
    match. A table that does not match its manifest is refused (EnsoError); one without a
    manifest (older enso) is read with a warning that it cannot be verified.
    """
    path = results_path(name, workspace)
    if not path.is_file():
        raise EnsoError(f"no results for experiment {name!r} at {path}; "
                        f"run `python -m enso.experiment {name}` first")
    fix = f"rerun `python -m enso.experiment {name}` to rebuild it from its cells"
    for attempt in range(2):  # a second read if the experiment stage replaced the table meanwhile
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise EnsoError(f"cannot read {path} ({exc.strerror or exc}); {fix}") from exc
        digest = hashlib.sha256(data).hexdigest()
        verified = _manifest_digest(path.parent)
        if not verified or verified == digest:  # absent, not verifying, or verifying these very bytes
            break
    if verified is None:
        log.warning("%s has no %s (an older enso wrote it), so it cannot be verified; %s", path,
                    MANIFEST_FILE, fix)
    elif verified != digest:
        raise EnsoError(f"{path} does not match {MANIFEST_FILE} (changed or damaged since the experiment "
                        f"stage wrote it); {fix}")
    try:
        frame = pd.read_parquet(io.BytesIO(data))
    except Exception as exc:  # a damaged Parquet file: say which file and what to do
        raise EnsoError(f"cannot read {path} ({exc}); {fix}") from exc
    return Results(check_table(frame, path), digest, verified is not None)


def _manifest_digest(folder: Path) -> str | None:
    """The sha256 that results.manifest.json verifies results.parquet against; None when there is no
    manifest; "" when there is one but the set does not verify (damaged manifest, changed file)."""
    from enso.store import read_fileset

    if not (folder / MANIFEST_FILE).exists():
        return None
    artifact = read_fileset(folder, MANIFEST_FILE)
    if artifact is None or RESULTS_FILE not in artifact.manifest["files"]:
        return ""
    return str(artifact.manifest["files"][RESULTS_FILE]["sha256"])


def check_table(frame: pd.DataFrame, source: Path | str = "results table") -> pd.DataFrame:
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise EnsoError(f"{source} lacks columns {missing}; it was not written by enso's experiment "
                        "stage, rerun `python -m enso.experiment` to rebuild it")
    frame = frame.copy()
    for column in EXTRA_DIMENSIONS:
        if column not in frame.columns:
            frame[column] = "-"
    for column in DIMENSIONS:
        frame[column] = frame[column].astype(str)
    frame["train_size"] = pd.to_numeric(frame["train_size"], errors="raise").astype(int)
    frame["resample"] = pd.to_numeric(frame["resample"], errors="raise").astype(int)
    frame["value"] = pd.to_numeric(frame["value"], errors="coerce").astype(float)
    for column in NUMERIC_COLUMNS:  # newer columns: absent in older tables, NaN where not computed
        if column in frame.columns:
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    bad = frame["value"].isna()
    if bad.any():
        log.warning("%s: %d rows have no metric value (failed or undefined cells); they are left out",
                    source, int(bad.sum()))
        frame = frame.loc[~bad]
    if frame.empty:
        raise EnsoError(f"{source} has no rows with a metric value; nothing to report")
    timing_metrics = sorted(m for m in frame["metric"].unique() if is_timing(m))
    if timing_metrics:
        log.warning("ignoring metric rows that are timings, not scores: %s", ", ".join(timing_metrics))
        frame = frame.loc[~frame["metric"].isin(timing_metrics)]
    keys = ["dataset", "featurizer", "target", "train_size", "resample", "metric", *EXTRA_DIMENSIONS]
    duplicated = frame.duplicated(keys)
    if duplicated.any():
        raise EnsoError(f"{source} has {int(duplicated.sum())} duplicated cells (same dataset, featurizer, "
                        "target, size, resample and metric); rerun `python -m enso.experiment --force`")
    return frame.reset_index(drop=True)


def is_timing(name: str) -> bool:
    lowered = name.lower()
    return lowered in TIMING_COLUMNS or lowered.endswith("seconds") or lowered in ("time", "runtime")


def base_name(label: str) -> str:
    """``knn`` for ``knn(n_neighbors=5)``."""
    return label.split("(", 1)[0]


def select(frame: pd.DataFrame, column: str, wanted: list[str] | tuple[str, ...] | None,
           what: str) -> pd.DataFrame:
    """Rows whose ``column`` matches one of ``wanted`` (case-insensitive; a base name matches its labels)."""
    if not wanted:
        return frame
    present = list(dict.fromkeys(frame[column]))
    keep: list[str] = []
    for name in wanted:
        lowered = name.strip().lower()
        hits = [v for v in present if v.lower() == lowered] or \
               [v for v in present if base_name(v).lower() == lowered]
        if not hits:
            raise ConfigError(unknown_name_message(f"{what} (not in these results)", name, present))
        keep.extend(h for h in hits if h not in keep)
    return frame.loc[frame[column].isin(keep)]


def order_of(frame: pd.DataFrame, column: str) -> list[str]:
    """Values of ``column`` in the order they first appear (the config's order)."""
    return list(dict.fromkeys(frame[column]))


def run_description(name: str, workspace: Workspace) -> dict:
    """What run.json or the config says about the experiment, for the report's header."""
    folder = workspace.results_dir(name)
    info: dict = {}
    run_json = folder / "run.json"
    if run_json.is_file():
        try:
            info = json.loads(run_json.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
            log.warning("%s is not valid JSON; the report header leaves it out", run_json)
            info = {}
        if not isinstance(info, dict):
            log.warning("%s is a JSON %s, not an object; the report header leaves it out", run_json,
                        type(info).__name__)
            info = {}
    if not isinstance(info.get("description"), str):
        info.pop("description", None)
    if not info.get("description"):
        config = workspace.experiments / f"{name}.toml"
        if config.is_file():
            try:
                from enso.config import read_config

                info.setdefault("description", read_config(config, validate_names=False).description)
            except EnsoError:
                pass
    return info


PER_TYPE_SEPARATOR = ":"  # as enso.engine.assemble writes "<metric>:<type>" rows (span_f1:PER)


def per_type_name(metric: str) -> tuple[str, str] | None:
    """``("span_f1", "PER")`` for ``"span_f1:PER"``; None for a metric's own row."""
    if PER_TYPE_SEPARATOR not in metric:
        return None
    name, kind = metric.split(PER_TYPE_SEPARATOR, 1)
    return name, kind


def split_per_type(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The metrics' own rows, and the per-type rows (``span_f1:PER``: one type of a metric, no
    interval), which stay out of curves, ranks, leaderboards and tests and go to their own table."""
    mask = frame["metric"].str.contains(PER_TYPE_SEPARATOR, regex=False)
    if not mask.any():
        return frame, frame.iloc[0:0]
    if mask.all():
        raise EnsoError("the results hold per-type metric rows only (such as span_f1:PER), no metric's own "
                        "row; rerun `python -m enso.experiment` to rebuild them")
    return frame.loc[~mask].reset_index(drop=True), frame.loc[mask].reset_index(drop=True)


def per_type_of(per_type: pd.DataFrame, selected: pd.DataFrame) -> pd.DataFrame:
    """The per-type rows of the selected datasets, featurizers, targets and metrics."""
    if per_type.empty:
        return per_type
    parent = per_type["metric"].map(lambda m: m.split(PER_TYPE_SEPARATOR, 1)[0])
    keep = (per_type["dataset"].isin(selected["dataset"].unique())
            & per_type["featurizer"].isin(selected["featurizer"].unique())
            & per_type["target"].isin(selected["target"].unique()) & parent.isin(selected["metric"].unique()))
    return per_type.loc[keep].reset_index(drop=True)


@dataclass(frozen=True)
class Selection:
    """Which slice of the results table to report on."""

    datasets: tuple[str, ...] | None = None
    featurizers: tuple[str, ...] | None = None
    targets: tuple[str, ...] | None = None
    metrics: tuple[str, ...] | None = None

    def apply(self, frame: pd.DataFrame) -> pd.DataFrame:
        frame = select(frame, "dataset", self.datasets, "dataset")
        frame = select(frame, "featurizer", self.featurizers, "featurizer")
        frame = select(frame, "target", self.targets, "target")
        frame = select(frame, "metric", self.metrics, "metric")
        if frame.empty:
            raise ConfigError("the filters leave no results; loosen --datasets/--featurizers/--targets/--metric")
        if self.metrics:  # the metrics in the order asked for: the first is the primary one
            order = {m: i for i, m in enumerate(_ordered_matches(frame, self.metrics))}
            frame = frame.iloc[frame["metric"].map(order).argsort(kind="stable")]
        return frame


def _ordered_matches(frame: pd.DataFrame, wanted) -> list[str]:
    out: list[str] = []
    for name in wanted:
        for value in order_of(select(frame, "metric", [name], "metric"), "metric"):
            if value not in out:
                out.append(value)
    return out
