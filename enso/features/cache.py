"""Features as cached artifacts: ``featurizers/<featurizer-id>/<dataset-hash>/``, computed once.

What is featurized follows the dataset's ``Units.kind`` (its task type):

- ``"text"``: one row per unit text (``featurize_into``), ``features.npy`` ``(n, d)`` /
  ``(n, layers, d)`` or ``features.npz`` (CSR);
- ``"token"`` (sequence labelling): one row per token of every sentence, flat and in sentence
  order (``featurize_tokens_into``), written streaming into the memory-mapped ``features.npy``
  ``(n_tokens, d)`` / ``(n_tokens, layers, d)`` (or ``features.npz``, CSR), with
  ``offsets.npy`` (int64, one more than there are sentences: sentence ``i``'s tokens are rows
  ``offsets[i]:offsets[i + 1]``). In-domain featurizers are fit (``fit_tokens``) on the
  training sentences' tokens only. A featurizer without ``"token"`` in ``tags.units`` is a
  one-line ``ConfigError`` before any work. Read back, the matrix is a read-only memory map:
  a cell reads only its sentences' rows (``Ragged.positions``);
- ``"pair"`` (a pair dataset under a featurizer with ``pair_encoding = "cross"``): one row per
  distinct ``(text_a, text_b)`` pair, both texts encoded together (``featurize_pairs_into``),
  ``features.npy`` ``(n_pairs, d)`` / ``(n_pairs, layers, d)``. Its own artifact: the featurizer's
  identity holds ``pair_encoding`` (so its id and folder differ from the per-text one's) and the key
  says ``units = "pair"``; built under the same lock and store as text features.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from enso.hashing import stable_hash
from enso.store import Artifact, Reuse, missing, read_artifact, write_artifact

if TYPE_CHECKING:
    from enso.config import ExperimentConfig, Spec
    from enso.data.dataset import Dataset
    from enso.features.base import Featurizer
    from enso.workspace import Workspace

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
DENSE_FILE = "features.npy"
SPARSE_FILE = "features.npz"
OFFSETS_FILE = "offsets.npy"  # token units: sentence offsets into the flat per-token rows
_SPARSE_KEYS = ("format", "shape", "data", "indices", "indptr")


def open_feature_file(path: str | Path):
    """The feature matrix in a payload file: a read-only memory map of a float32 ``.npy``, or a CSR matrix."""
    path = Path(path)
    if path.suffix == ".npy":
        X = np.load(path, mmap_mode="r", allow_pickle=False)
        if X.dtype != np.float32:
            raise ValueError(f"{path} holds {X.dtype}, not float32")
        return X
    if path.suffix == ".npz":
        import scipy.sparse

        with np.load(path, allow_pickle=False) as archive:
            missing = [k for k in _SPARSE_KEYS if k not in archive.files]
            if missing or str(archive["format"]) != "csr":
                raise ValueError(f"{path} is not a CSR matrix file (missing {missing})")
            shape = tuple(int(v) for v in archive["shape"])
            return scipy.sparse.csr_matrix(
                (archive["data"], archive["indices"], archive["indptr"]), shape=shape)
    raise ValueError(f"{path} is not a feature file (.npy or .npz)")


def _save_sparse(path: Path, X) -> None:
    import scipy.sparse

    X = scipy.sparse.csr_matrix(X, dtype=np.float32)
    X.sort_indices()
    np.savez(path, format=np.array("csr"), shape=np.array(X.shape, dtype=np.int64),
             data=X.data, indices=X.indices, indptr=X.indptr)


class FeatureSet:
    """One featurizer's rows for one dataset, in ``dataset.frame`` order."""

    def __init__(self, artifact: Artifact, cached: bool):
        self.artifact = artifact
        self.cached = cached
        self._X = None

    @property
    def manifest(self) -> dict[str, Any]:
        return self.artifact.manifest

    @property
    def path(self) -> Path:
        """The payload file (``features.npy`` or ``features.npz``)."""
        name = DENSE_FILE if DENSE_FILE in self.manifest["files"] else SPARSE_FILE
        return self.artifact.file(name)

    @property
    def featurizer_id(self) -> str:
        return self.artifact.meta["featurizer_id"]

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.artifact.meta["shape"])

    @property
    def X(self):
        if self._X is None:
            self._X = open_feature_file(self.path)
        return self._X

    @property
    def units(self) -> str:
        """``"text"`` (a row per unit text), ``"token"`` (a row per token, with ``offsets``) or ``"pair"``."""
        return self.artifact.meta.get("units", "text")

    @property
    def offsets(self) -> np.ndarray | None:
        """Token units: each sentence's first row in ``X`` (and the end); None for text units."""
        if OFFSETS_FILE not in self.manifest["files"]:
            return None
        return np.load(self.artifact.file(OFFSETS_FILE), allow_pickle=False)

    def ragged(self):
        """Token units: ``X`` as a ``Ragged`` of per-sentence rows (still memory-mapped)."""
        from enso.tasks import Ragged

        if self.offsets is None:
            raise ValueError(f"{self} holds features per text, not per token")
        return Ragged(self.X, self.offsets)

    def __repr__(self) -> str:
        return f"FeatureSet({self.featurizer_id}, {self.artifact.meta.get('dataset')}, shape={self.shape})"


def featurizer_id(featurizer: Featurizer, identity: dict[str, Any] | None = None) -> str:
    """``<name>-<hash of identity>``; pass ``identity`` when it is already at hand (it hashes model files)."""
    identity = featurizer.identity() if identity is None else identity
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in featurizer.name)
    return f"{safe}-{stable_hash(identity, 12)}"


def _as_spec(spec) -> Spec:
    from enso.config import Spec

    if isinstance(spec, Spec):
        return spec
    if isinstance(spec, str):
        return Spec(spec)
    if isinstance(spec, dict) and isinstance(spec.get("name"), str):
        return Spec(spec["name"], {k: v for k, v in spec.items() if k != "name"})
    raise TypeError(f"a featurizer spec is a name, a {{'name': ...}} table or a Spec, got {spec!r}")


def fit_rows_digest(rows) -> str:
    """sha256 of ``rows`` as int64 in the order given (the order in which an in-domain featurizer sees them)."""
    import hashlib

    return hashlib.sha256(np.ascontiguousarray(rows, dtype="<i8").tobytes()).hexdigest()


def check_fit_rows(fit_rows, dataset: Dataset) -> np.ndarray:
    """``fit_rows`` as an int64 array of distinct row positions of ``dataset``; ValueError otherwise."""
    rows = np.asarray(fit_rows)
    if rows.ndim != 1 or rows.size == 0:
        raise ValueError(f"fit_rows must be a non-empty 1-d array of row positions, got shape {rows.shape}")
    if rows.dtype.kind not in "iu":
        raise ValueError(f"fit_rows must hold integer row positions, got dtype {rows.dtype}")
    rows = rows.astype(np.int64)
    if rows.min() < 0 or rows.max() >= len(dataset):
        raise ValueError(f"fit_rows must lie in 0..{len(dataset) - 1} for {dataset.name}, "
                         f"got {rows.min()}..{rows.max()}")
    if len(np.unique(rows)) != len(rows):
        raise ValueError("fit_rows holds a row more than once")
    return rows


def load_features(spec, dataset: Dataset, workspace: Workspace, *, device: str = "auto",
                  batch_size: int | None = None, precision: str | None = None, reuse: Reuse | str = Reuse.REUSE,
                  featurizer: Featurizer | None = None, progress: bool = True, fit_rows=None,
                  command: str = "enso featurize EXPERIMENT") -> FeatureSet:
    """Features of ``dataset`` from the featurizer ``spec``: read from the cache, or computed and stored.

    In-domain featurizers are fit on the dataset's train split only, or, given ``fit_rows``
    (dataset row positions, e.g. one outer CV fold's training part), on those rows only, in
    that order: a cached artifact of its own beside the train-split one, its location and
    key carrying a digest of ``fit_rows``. Featurizers that learn nothing from the data
    ignore ``fit_rows``. ``reuse`` (``enso.store.Reuse``): ``REUSE`` reads a valid stored artifact
    and computes a missing one, ``RECOMPUTE`` computes anyway, ``ONLY_CACHED`` raises a one-line
    ``EnsoError`` for a missing one, naming ``command`` as what makes it.

    The check for a cached artifact and its computation run under the artifact's lock, so
    two processes asking for the same features compute them once; the second reads the
    first's artifact.
    """
    from enso.features import make_featurizer, validate_featurizer
    from enso.store import artifact_lock

    reuse = Reuse.parse(reuse)
    spec = _as_spec(spec)
    if featurizer is None:
        featurizer = make_featurizer(spec.name, spec.params)
    else:
        validate_featurizer(featurizer)  # one given built (or changed by set_params) is checked here too
    check_units(spec, featurizer, dataset)
    featurizer.configure(device=device, batch_size=batch_size, precision=precision)
    rows = None
    if fit_rows is not None and featurizer.tags.in_domain:
        rows = check_fit_rows(fit_rows, dataset)
        if np.array_equal(rows, dataset.split_index("train")):
            rows = None  # exactly the train split: the ordinary artifact
    identity = featurizer.identity()
    fid = featurizer_id(featurizer, identity)
    location = workspace.featurizers / fid / dataset.content_hash[:16]
    key_parts: dict[str, Any] = {"format": FORMAT_VERSION, "featurizer": identity, "dataset": dataset.content_hash}
    units = feature_units(featurizer, dataset)
    if units.kind in ("token", "pair"):
        key_parts["units"] = units.kind
    if rows is not None:
        digest = fit_rows_digest(rows)
        location = location.with_name(f"{location.name}-fit-{digest[:16]}")
        key_parts["fit_rows"] = digest
    key = stable_hash(key_parts)
    with artifact_lock(location):
        if reuse.reads:
            artifact = read_artifact(location, key)
            if artifact is not None:
                log.info("%s on %s: cached in %s", spec.label, dataset.name, location)
                return FeatureSet(artifact, cached=True)
        if not reuse.computes:
            fitted = " fitted on the given rows" if rows is not None else ""
            raise missing(f"features {spec.label} on {dataset.name}{fitted} ({fid})", command)
        _compute(featurizer, fid, identity, dataset, location, key, progress, rows, units)
        artifact = read_artifact(location, key)
    if artifact is None:  # only if the folder was changed under us
        from enso.errors import EnsoError
        raise EnsoError(f"features just written to {location} do not verify; check the disk and rerun")
    return FeatureSet(artifact, cached=False)


def feature_units(featurizer: Featurizer, dataset: Dataset):
    """What ``featurizer`` encodes of ``dataset``: its ``Units`` (texts, token lists), or with
    ``pair_encoding = "cross"`` the task's ``cross_units`` (each distinct pair once)."""
    if getattr(featurizer, "cross_encoding", False):
        units = dataset.task.cross_units(dataset.frame)
        if units is not None:
            return units
    return dataset.units


def feature_layout(featurizer: Featurizer, dataset: Dataset):
    """How ``dataset``'s rows map onto ``featurizer``'s features of it (``Layout``)."""
    return feature_units(featurizer, dataset).layout


def check_units(spec, featurizer: Featurizer, dataset: Dataset) -> None:
    """``ConfigError`` (one line, before any work) when ``featurizer`` cannot give what ``dataset``'s units need.

    ``pair_encoding = "cross"`` needs a dataset whose rows hold texts to encode together (pairs), and
    leaves nothing for ``pair_features`` to combine: an entry that sets both is refused.
    """
    if getattr(featurizer, "cross_encoding", False):
        from enso.config import check_pair_encoding_table
        from enso.errors import ConfigError

        label = getattr(spec, "label", featurizer.name)
        check_pair_encoding_table(label, {**dict(getattr(spec, "params", {}) or {}),
                                          **dict(getattr(spec, "options", {}) or {})})
        if dataset.task.cross_units(dataset.frame) is None:
            raise ConfigError(f"featurizer {label} sets pair_encoding = 'cross', but dataset {dataset.name} is a "
                              f"{dataset.task.name} task with one text per row, nothing to encode together; list "
                              "that entry in an experiment of pair datasets, or drop pair_encoding")
    kind = dataset.task.unit
    units = tuple(getattr(featurizer.tags, "units", ("text",)))
    if kind not in units:
        from enso.errors import ConfigError

        label = getattr(spec, "label", featurizer.name)
        what = "a vector per token" if kind == "token" else "a vector per text"
        raise ConfigError(f"featurizer {label} gives {'/'.join(units)} features, but dataset {dataset.name} "
                          f"({dataset.task.name}) needs {what}; choose a featurizer with {kind!r} units"
                          + (" (e.g. minilm, glove-6b-50d or word-shape)" if kind == "token" else ""))


#: per unit kind: the featurizer's in-domain fit, its streaming writer, what a feature row is, what an item is
_WRITERS = {
    "text": ("fit", "featurize_into", "text", "texts"),
    "pair": ("fit", "featurize_pairs_into", "pair", "pairs"),
    "token": ("fit_tokens", "featurize_tokens_into", "token", "sentences"),
}


def _compute(featurizer: Featurizer, fid: str, identity: dict, dataset: Dataset, location: Path,
             key: str, show_progress: bool, fit_rows: np.ndarray | None = None, units=None) -> None:
    """Fit (in-domain, on the training rows' units only), featurize every unit streaming into the artifact, store.

    One writer for every unit kind: texts and pairs give one row per item, token lists one row per
    token (flat, with ``offsets.npy``). Dense rows go straight into the memory-mapped ``features.npy``
    (``allocate``), sparse ones to ``features.npz`` (CSR).
    """
    from enso import progress

    units = units if units is not None else feature_units(featurizer, dataset)
    kind = units.kind
    fit_name, write_name, row, noun = _WRITERS[kind]
    items = list(units.items)
    n_rows = units.feature_rows
    meta: dict[str, Any] = {"featurizer": featurizer.name, "featurizer_id": fid, "dataset": dataset.name,
                            "dataset_hash": dataset.content_hash}
    if kind == "token":
        meta.update({"units": "token", "rows": len(items), "tokens": n_rows})
        log.info("%s on %s: computing %d tokens of %d sentences -> %s", featurizer.name, dataset.name, n_rows,
                 len(items), location)
    else:
        meta["rows"] = len(items)
        if kind == "pair":
            meta["units"] = "pair"
        log.info("%s on %s: computing %d %s -> %s", featurizer.name, dataset.name, len(items),
                 "pairs" if kind == "pair" else "rows", location)
    started = time.perf_counter()
    featurizer.prepare()
    meta["load_seconds"] = round(time.perf_counter() - started, 4)
    fit_seconds = 0.0
    inputs = {"dataset": dataset.content_hash, "dataset_name": dataset.name, "models": identity["models"]}
    if featurizer.tags.in_domain:
        train = dataset.split_index("train") if fit_rows is None else fit_rows
        if len(train) == 0:
            from enso.errors import EnsoError
            raise EnsoError(f"{dataset.name} has no train split to fit {featurizer.name} on")
        started = time.perf_counter()
        # the training rows' units, each once: both texts of each training pair, the training sentences' tokens
        getattr(featurizer, fit_name)(units.for_rows(train))
        fit_seconds = time.perf_counter() - started
        meta["fit_rows"] = len(train)
        meta["fit_split"] = "train" if fit_rows is None else "rows"
        if fit_rows is not None:
            meta["fit_rows_digest"] = inputs["fit_rows"] = fit_rows_digest(fit_rows)
    with write_artifact(location, key=key, kind="features", params=identity["params"], inputs=inputs) as writer, \
            progress.bar(n_rows, f"{featurizer.name} {dataset.name}", row, enabled=show_progress) as bar:
        started = time.perf_counter()
        holder: dict[str, Any] = {}

        def allocate(shape: tuple[int, ...]) -> np.ndarray:
            if 0 in shape:
                holder["X"] = np.zeros(shape, dtype=np.float32)
            else:
                holder["X"] = np.lib.format.open_memmap(writer.path / DENSE_FILE, mode="w+", dtype=np.float32,
                                                        shape=shape)
            return holder["X"]

        if featurizer.tags.sparse and kind == "text":  # sparse text featurizers return their whole CSR matrix
            X = featurizer.featurize(items)
            bar.update(len(items))
        else:
            X = getattr(featurizer, write_name)(items, allocate, progress=bar.update)
        if getattr(X, "format", None) == "csr" or featurizer.tags.sparse:
            _save_sparse(writer.path / SPARSE_FILE, X)
            fmt = "csr"
        elif isinstance(X, np.memmap):
            X.flush()
            fmt = "dense"
        else:
            np.save(writer.path / DENSE_FILE, np.asarray(X, dtype=np.float32), allow_pickle=False)
            fmt = "dense"
        shape = tuple(X.shape)
        del X, holder
        if kind == "token":
            np.save(writer.path / OFFSETS_FILE, np.asarray(units.layout.offsets, dtype=np.int64), allow_pickle=False)
        seconds = time.perf_counter() - started
        if shape[0] != n_rows:
            raise RuntimeError(f"{featurizer.name} returned {shape[0]} rows for {n_rows} {row}s")
        meta.update({
            "shape": list(shape), "format": fmt, "dtype": "float32",
            "seconds": round(seconds, 4), "fit_seconds": round(fit_seconds, 4),
            "texts_per_second": round(len(items) / seconds, 2) if seconds > 0 else None,
        })
        if kind == "token":
            meta["tokens_per_second"] = round(n_rows / seconds, 2) if seconds > 0 else None
        meta.update(featurizer.stats())
        meta.setdefault("device", "cpu")
        writer.meta.update(meta)
    log.info("%s on %s: %d %s in %.1fs (%.0f %s/s)", featurizer.name, dataset.name, n_rows, f"{row}s", seconds,
             n_rows / seconds if seconds > 0 else float("inf"), f"{row}s")


def featurize_config(config: ExperimentConfig, workspace: Workspace, *, device: str = "auto",
                     batch_size: int | None = None, precision: str | None = None, reuse: Reuse | str = Reuse.REUSE,
                     datasets: Sequence[str] | None = None, featurizers: Sequence[str] | None = None,
                     ) -> list[FeatureSet]:
    """Every dataset x featurizer of ``config`` (optionally filtered by name), cached ones read back.

    All featurizers are built and all datasets loaded before any work, so a bad name,
    parameter or missing dataset fails at once. ``reuse`` as in ``load_features``.
    """
    from enso import progress
    from enso.data import load_dataset, resolve_dataset
    from enso.errors import ConfigError
    from enso.features import FEATURIZERS, make_featurizer

    reuse = Reuse.parse(reuse)
    specs = list(config.featurizers)
    if featurizers:
        listed = {FEATURIZERS.canonical(s.name) for s in specs}
        wanted = {FEATURIZERS.canonical(name) for name in featurizers}
        if wanted - listed:
            raise ConfigError(f"featurizer(s) {', '.join(sorted(wanted - listed))} not in experiment "
                              f"{config.name!r}, which lists {', '.join(sorted(listed))}")
        specs = [s for s in specs if FEATURIZERS.canonical(s.name) in wanted]
    names = list(config.datasets)
    if datasets:
        wanted = {resolve_dataset(d, workspace): d for d in datasets}
        listed_datasets = {resolve_dataset(n, workspace): n for n in names}
        unknown = [given for canonical, given in wanted.items() if canonical not in listed_datasets]
        if unknown:
            raise ConfigError(f"dataset(s) {', '.join(unknown)} not in experiment {config.name!r}, "
                              f"which lists {', '.join(names)}")
        names = [name for canonical, name in listed_datasets.items() if canonical in wanted]
    built = [(spec, make_featurizer(spec.name, spec.params)) for spec in specs]
    from enso.store import clean_temporaries

    clean_temporaries(workspace.featurizers, recursive=True)  # leftovers of killed featurize runs
    for _, featurizer in built:
        featurizer.configure(device=device, batch_size=batch_size, precision=precision)
    loaded = [load_dataset(name, workspace, max_examples=config.cap_for(name)) for name in names]
    results = []
    pairs = [(dataset, spec, featurizer) for dataset in loaded for spec, featurizer in built]
    for dataset, spec, featurizer in pairs:  # every pair can be featurized: a token dataset needs token units
        check_units(spec, featurizer, dataset)
    with progress.bar(len(pairs), "featurize", "pair") as bar:
        for dataset, spec, featurizer in pairs:
            bar.set_postfix_str(f"{spec.label} {dataset.name}")
            results.append(load_features(spec, dataset, workspace, device=device, batch_size=batch_size,
                                         precision=precision, reuse=reuse, featurizer=featurizer,
                                         command=f"enso featurize {config.name}"))
            bar.update()
    cached = sum(fs.cached for fs in results)
    log.info("featurized %d dataset x featurizer pairs (%d cached, %d computed)",
             len(results), cached, len(results) - cached)
    return results
