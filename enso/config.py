"""Experiment configs: TOML files in ``experiments/``, validated before any work.

```toml
name = "default"
datasets = ["PangLeeSentences", "AirlineSentiment"]
featurizers = ["tfidf", { name = "minilm", batch_size = 64 }]
targets = ["logreg", { name = "knn", n_neighbors = 5 }]
train_sizes = [50, 100, 200, 500]
resamples = 5
metrics = ["accuracy", "macro_f1"]
selection_metric = "macro_f1"   # what targets' inner searches optimise (default: the first metric)
dedupe = false                  # true: drop test rows whose text also occurs in the train split
seed = 0
max_examples = 5000
```

Everything is checked here, before any work: types; bounds (``resamples`` <= 1000, at most
100 train sizes of at most 10,000,000 each, at most 1,000,000 cells, names of at most 100
characters without control characters); and, unless ``validate_names=False``, every name
against its registry. The file itself must be UTF-8 TOML.
"""

from __future__ import annotations

import tomllib
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from enso.errors import ConfigError
from enso.hashing import stable_hash
from enso.registry import unknown_name_message

MAX_RESAMPLES = 1000
MAX_TRAIN_SIZE = 10_000_000
MAX_TRAIN_SIZES = 100
MAX_SEED = 2**32 - 1  # numpy's seed range
MAX_NAME_LENGTH = 100
#: string parameter values may be paths (a model folder), so they get more room than names
MAX_PARAM_STRING_LENGTH = 1024
MAX_CONFIG_BYTES = 1 << 20
#: datasets x featurizers x targets x sizes x resamples x samplers x resamplers: a plan this big
#: (500 times default.toml's) would take gigabytes before the first cell runs
MAX_CELLS = 1_000_000

_DEFAULTS: dict[str, Any] = {
    "description": "",
    "protocol": "enso",
    "protocol_options": {},
    "featurizers": ["tfidf"],
    "targets": ["logreg"],
    "train_sizes": [50, 100, 500],
    "resamples": 5,
    "metrics": ["accuracy", "macro_f1"],
    "selection_metric": None,  # the first of metrics
    "dedupe": False,
    "samplers": ["random"],
    "resamplers": ["none"],
    "seed": 0,
    "max_examples": None,
}
KEYS = ("name", "datasets", *_DEFAULTS)


@dataclass(frozen=True)
class Spec:
    """A registered component named in a config, with its parameters."""

    name: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """Short human name: ``knn`` or ``knn(n_neighbors=5)``."""
        if not self.params:
            return self.name
        inner = ",".join(f"{k}={v}" for k, v in sorted(self.params.items()))
        return f"{self.name}({inner})"

    @property
    def id(self) -> str:
        """Name plus a hash of the parameters: stable, filesystem-safe."""
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in self.name)
        return f"{safe}-{stable_hash({'name': self.name, 'params': self.params}, 10)}"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, **self.params}

    def __hash__(self) -> int:
        return hash(self.id)


@dataclass(frozen=True)
class ExperimentConfig:
    name: str
    datasets: list[str]
    featurizers: list[Spec]
    targets: list[Spec]
    train_sizes: list[int]
    resamples: int
    metrics: list[str]
    samplers: list[str]
    resamplers: list[str]
    seed: int
    max_examples: int | dict[str, int] | None
    protocol: str = "enso"
    protocol_options: dict[str, Any] = field(default_factory=dict)
    description: str = ""
    source: Path | None = None
    selection_metric: str = ""  # empty: the first of ``metrics`` (set in __post_init__)
    dedupe: bool = False

    def __post_init__(self) -> None:
        if not self.selection_metric and self.metrics:
            object.__setattr__(self, "selection_metric", self.metrics[0])

    def cap_for(self, dataset: str) -> int | None:
        if isinstance(self.max_examples, dict):
            return self.max_examples.get(dataset)
        return self.max_examples

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "protocol": self.protocol,
            "protocol_options": self.protocol_options,
            "datasets": self.datasets,
            "featurizers": [s.to_dict() for s in self.featurizers],
            "targets": [s.to_dict() for s in self.targets],
            "train_sizes": self.train_sizes,
            "resamples": self.resamples,
            "metrics": self.metrics,
            "selection_metric": self.selection_metric,
            "dedupe": self.dedupe,
            "samplers": self.samplers,
            "resamplers": self.resamplers,
            "seed": self.seed,
            "max_examples": self.max_examples,
        }


def load_config(path: str | Path, *, validate_names: bool = True) -> ExperimentConfig:
    path = Path(path)
    raw = parse_toml(read_config_text(path), path)
    return parse_config(raw, source=path, default_name=path.stem, validate_names=validate_names)


def read_config_text(path: Path) -> str:
    """The text of the config file ``path``: UTF-8 (a UTF-8 BOM is allowed), else a one-line ConfigError."""
    try:
        if path.is_dir():
            raise ConfigError(f"config {path} is a folder; pass a .toml file")
        if path.exists() and not path.is_file():  # a pipe or a device would block or never end
            raise ConfigError(f"config {path} is not a regular file; pass a .toml file")
        with open(path, "rb") as handle:
            data = handle.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror or exc}; check the path and its "
                          "permissions") from exc
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"config {path} is larger than {MAX_CONFIG_BYTES >> 20} MiB; an experiment config is "
                          "a short TOML file")
    if not data.strip():
        raise ConfigError(f"config {path} is empty; it needs at least `datasets = [...]`")
    if _looks_like_utf16(data):
        raise ConfigError(f"config {path} looks like UTF-16; save it as UTF-8")
    if b"\0" in data:
        raise ConfigError(f"config {path} contains NUL bytes (a binary file?); an experiment config is UTF-8 TOML")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"config {path} is not UTF-8 (byte {data[exc.start]:#04x} at offset {exc.start}); "
                          "save it as UTF-8") from exc
    return text.removeprefix("\ufeff")


def _looks_like_utf16(data: bytes) -> bool:
    """A UTF-16 byte-order mark, or mostly-ASCII text with every other byte NUL."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return True
    head = data[:256]
    even, odd = head[0::2], head[1::2]
    if len(odd) < 2:
        return False
    return any(a.count(0) >= 0.9 * len(a) and b.count(0) <= 0.1 * len(b) for a, b in ((even, odd), (odd, even)))


def parse_toml(text: str, path: Path | str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({_one_line(str(exc))}); fix the syntax at that line") from exc
    except RecursionError as exc:
        raise ConfigError(f"{path}: not valid TOML (nested too deeply)") from exc


def _one_line(text: str) -> str:
    return " ".join(text.split())


def parse_config(raw: dict[str, Any], *, source: Path | None = None, default_name: str = "experiment",
                 validate_names: bool = True) -> ExperimentConfig:
    where = f"{source}: " if source else ""

    def fail(message: str) -> ConfigError:
        return ConfigError(where + message)

    if not isinstance(raw, dict):
        raise fail(f"a config is a TOML table of keys, got {type(raw).__name__}")
    for key in raw:
        if key not in KEYS:
            if len(key) > MAX_NAME_LENGTH:
                raise fail(f"unknown key {_show(key)} (valid: {', '.join(KEYS)})")
            raise fail(unknown_name_message("key", key, list(KEYS)))
    values = {**_DEFAULTS, **raw}
    if "datasets" not in raw:
        raise fail("missing key 'datasets'; list at least one dataset name (see `enso download --list`)")

    name = values.get("name", default_name)
    if not isinstance(name, str) or not name or any(c in name for c in "/\\") or name.startswith("."):
        raise fail(f"name must be a plain folder name, got {_show(name)}")
    _check_name("name", name, fail)
    datasets = _string_list(values["datasets"], "datasets", fail)
    featurizers = _spec_list(values["featurizers"], "featurizers", fail)
    targets = _spec_list(values["targets"], "targets", fail)
    metrics = _string_list(values["metrics"], "metrics", fail)
    samplers = _string_list(values["samplers"], "samplers", fail)
    resamplers = _string_list(values["resamplers"], "resamplers", fail)
    selection_metric = values["selection_metric"]
    if selection_metric is None:
        selection_metric = metrics[0]
    elif not isinstance(selection_metric, str) or not selection_metric:
        raise fail(f"selection_metric must be a metric name (see `enso experiment --list`), got "
                   f"{_show(selection_metric)}")
    _check_name("selection_metric", selection_metric, fail)
    dedupe = values["dedupe"]
    if not isinstance(dedupe, bool):
        raise fail(f"dedupe must be true or false, got {_show(dedupe)}")
    sizes = values["train_sizes"]
    if not isinstance(sizes, list) or not sizes or not all(_is_int(s) and s > 0 for s in sizes):
        raise fail(f"train_sizes must be a non-empty list of positive integers, got {_show(sizes)}")
    if len(sizes) > MAX_TRAIN_SIZES:
        raise fail(f"train_sizes lists {len(sizes)} sizes; at most {MAX_TRAIN_SIZES} are allowed")
    if max(sizes) > MAX_TRAIN_SIZE:
        raise fail(f"train_sizes: {max(sizes)} is more than {MAX_TRAIN_SIZE:,} examples; give sizes a dataset "
                   "can have")
    if len(set(sizes)) != len(sizes):
        raise fail(f"train_sizes has duplicates: {sizes!r}")
    resamples = values["resamples"]
    if not _is_int(resamples) or resamples < 1:
        raise fail(f"resamples must be a positive integer, got {_show(resamples)}")
    if resamples > MAX_RESAMPLES:
        raise fail(f"resamples = {resamples} is more than {MAX_RESAMPLES}; a learning curve needs far fewer "
                   "(5 to 30 is usual)")
    seed = values["seed"]
    if not _is_int(seed) or not 0 <= seed <= MAX_SEED:
        raise fail(f"seed must be a non-negative integer of at most {MAX_SEED}, got {_show(seed)}")
    cap = values["max_examples"]
    if cap is not None and not (_is_int(cap) and cap > 0) and not (
        isinstance(cap, dict) and all(_is_int(v) and v > 0 for v in cap.values())
    ):
        raise fail(f"max_examples must be a positive integer or a table of dataset = integer, got {_show(cap)}")
    if isinstance(cap, dict):
        for dataset in cap:
            _check_name("max_examples", dataset, fail)
    protocol = values["protocol"]
    if not isinstance(protocol, str) or not protocol:
        raise fail(f"protocol must be a protocol name (see `enso experiment --list`), got {_show(protocol)}")
    _check_name("protocol", protocol, fail)
    if not isinstance(values["protocol_options"], dict):
        raise fail("protocol_options must be a table")
    description = values["description"]
    if not isinstance(description, str):
        raise fail(f"description must be a string, got {_show(description)}")
    cells = (len(datasets) * len(featurizers) * len(targets) * len(sizes) * resamples * len(samplers)
             * len(resamplers))
    if cells > MAX_CELLS:
        raise fail(f"this config asks for {cells:,} cells (datasets x featurizers x targets x train_sizes x "
                   f"resamples x samplers x resamplers), more than {MAX_CELLS:,}; split it into smaller "
                   "experiments")

    config = ExperimentConfig(
        name=name, datasets=datasets, featurizers=featurizers, targets=targets,
        train_sizes=sorted(int(s) for s in sizes), resamples=int(resamples), metrics=metrics,
        samplers=samplers, resamplers=resamplers, seed=int(seed), max_examples=cap,
        protocol=protocol, protocol_options=dict(values["protocol_options"]),
        description=description, source=source, selection_metric=selection_metric, dedupe=dedupe,
    )
    try:
        config = _with_protocol_name(config)
    except ConfigError as exc:
        raise fail(str(exc)) from exc
    if validate_names:
        try:
            config = validate_components(config)
        except ConfigError as exc:
            raise fail(str(exc)) from exc
    return config


def _with_protocol_name(config: ExperimentConfig) -> ExperimentConfig:
    """The config with its protocol in the registered spelling (checked even without ``validate_names``)."""
    from enso.protocols import PROTOCOLS

    return _replace(config, protocol=PROTOCOLS.canonical(config.protocol))


def validate_components(config: ExperimentConfig) -> ExperimentConfig:
    """Resolve every name against its registry and build every component once.

    Returns the config with names in their registered spelling, and with the datasets the
    protocol runs (``Protocol.resolve_datasets``: SentEval runs SST2 on SST2Phrases).
    """
    from enso.data import DATASETS
    from enso.engine.sampling import RESAMPLERS, SAMPLERS
    from enso.features import make_featurizer
    from enso.metrics import METRICS
    from enso.protocols import PROTOCOLS
    from enso.targets import make_target

    protocol = PROTOCOLS.get(config.protocol)
    listed = [DATASETS.canonical(name) for name in config.datasets]
    if len(set(listed)) != len(listed):
        raise ConfigError("datasets lists the same entry twice")
    resolved = protocol.resolve_datasets(list(listed))
    datasets = [DATASETS.canonical(name) for name in resolved]
    max_examples = config.max_examples
    if isinstance(max_examples, dict):
        renamed = dict(zip(listed, datasets)) if len(datasets) == len(listed) else {}
        max_examples = {}
        for name, cap in config.max_examples.items():
            canonical = DATASETS.canonical(name)
            max_examples[renamed.get(canonical, canonical)] = cap
    featurizers = []
    for spec in config.featurizers:
        featurizer = make_featurizer(spec.name, spec.params)
        featurizers.append(Spec(featurizer.name, dict(spec.params)))
    targets = []
    for spec in config.targets:
        target = make_target(spec.name, spec.params)
        targets.append(Spec(target.name, dict(spec.params)))
    protocol.check_options(dict(config.protocol_options))
    metrics = [METRICS.canonical(name) for name in config.metrics]
    try:
        selection_metric = METRICS.canonical(config.selection_metric)
    except ConfigError as exc:
        raise ConfigError(f"selection_metric: {exc}") from exc
    samplers = [SAMPLERS.canonical(name) for name in config.samplers]
    resamplers = [RESAMPLERS.canonical(name) for name in config.resamplers]
    for kind, items in (("datasets", datasets), ("featurizers", featurizers), ("targets", targets),
                        ("metrics", metrics), ("samplers", samplers), ("resamplers", resamplers)):
        if len(set(items)) != len(items):
            raise ConfigError(f"{kind} lists the same entry twice")
    return _replace(config, datasets=datasets, featurizers=featurizers, targets=targets, metrics=metrics,
                    selection_metric=selection_metric, samplers=samplers, resamplers=resamplers,
                    max_examples=max_examples, protocol=protocol.name)


def _replace(config: ExperimentConfig, **changes: Any) -> ExperimentConfig:
    return ExperimentConfig(**{**config.__dict__, **changes})


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _show(value: Any, limit: int = 60) -> str:
    """``repr(value)``, cut short for a long value, so an error message stays one short line."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def _control_character(text: str) -> str | None:
    """The first control or format character in ``text`` (newline, NUL, bidi override, ...), if any."""
    for char in text:
        if unicodedata.category(char) in ("Cc", "Cf", "Cs"):
            return char
    return None


def _check_name(key: str, name: str, fail, limit: int = MAX_NAME_LENGTH) -> None:
    """A name that becomes a label or a folder: at most ``limit`` characters, no control characters."""
    if len(name) > limit:
        raise fail(f"{key}: {name[:40]!r}... is {len(name)} characters long; at most {limit} are allowed")
    char = _control_character(name)
    if char is not None:
        raise fail(f"{key}: {_show(name)} contains the control character {char!r}; use printable characters")


def _check_param_values(key: str, spec_name: str, value: Any, fail) -> None:
    """String parameter values appear in labels: no control characters, and a bounded length."""
    if isinstance(value, str):
        _check_name(f"{key}: a parameter of {spec_name!r}", value, fail, MAX_PARAM_STRING_LENGTH)
    elif isinstance(value, list):
        for item in value:
            _check_param_values(key, spec_name, item, fail)
    elif isinstance(value, dict):
        for name, item in value.items():
            _check_name(f"{key}: a parameter of {spec_name!r}", name, fail)
            _check_param_values(key, spec_name, item, fail)
    elif not isinstance(value, (bool, int, float)):
        raise fail(f"{key}: parameter values of {spec_name!r} are strings, numbers, booleans, lists or tables, "
                   f"got {type(value).__name__} {_show(value)}")


def _string_list(value: Any, key: str, fail) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise fail(f"{key} must be a non-empty list of names, got {_show(value)}")
    for name in value:
        _check_name(key, name, fail)
    return list(value)


def _spec_list(value: Any, key: str, fail) -> list[Spec]:
    if isinstance(value, (str, dict)):
        value = [value]
    if not isinstance(value, list) or not value:
        raise fail(f"{key} must be a non-empty list of names or tables with a 'name', got {_show(value)}")
    specs = []
    for item in value:
        if isinstance(item, str) and item:
            _check_name(key, item, fail)
            specs.append(Spec(item))
        elif isinstance(item, dict) and isinstance(item.get("name"), str) and item["name"]:
            _check_name(key, item["name"], fail)
            params = {k: v for k, v in item.items() if k != "name"}
            _check_param_values(key, item["name"], params, fail)
            specs.append(Spec(item["name"], params))
        else:
            raise fail(f"each entry of {key} must be a name or a table with a 'name' key, got {_show(item)}")
    return specs
