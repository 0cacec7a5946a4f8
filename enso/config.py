"""Experiment configs: TOML files in ``experiments/``, validated before any work.

```toml
name = "default"
datasets = ["PangLeeSentences", "AirlineSentiment"]
featurizers = ["tfidf", { name = "minilm", batch_size = 64 }]
targets = ["logreg", { name = "knn", n_neighbors = 5 }]
train_sizes = [50, 100, 200, 500]
resamples = 5
metrics = ["accuracy", "macro_f1"]
seed = 0
max_examples = 5000
```
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from enso.errors import ConfigError
from enso.hashing import stable_hash
from enso.registry import unknown_name_message

PROTOCOLS = ("enso", "mteb", "senteval")

_DEFAULTS: dict[str, Any] = {
    "description": "",
    "protocol": "enso",
    "protocol_options": {},
    "featurizers": ["tfidf"],
    "targets": ["logreg"],
    "train_sizes": [50, 100, 500],
    "resamples": 5,
    "metrics": ["accuracy", "macro_f1"],
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
            "samplers": self.samplers,
            "resamplers": self.resamplers,
            "seed": self.seed,
            "max_examples": self.max_examples,
        }


def load_config(path: str | Path, *, validate_names: bool = True) -> ExperimentConfig:
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix the syntax at that line") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror}") from exc
    return parse_config(raw, source=path, default_name=path.stem, validate_names=validate_names)


def parse_config(raw: dict[str, Any], *, source: Path | None = None, default_name: str = "experiment",
                 validate_names: bool = True) -> ExperimentConfig:
    where = f"{source}: " if source else ""

    def fail(message: str) -> ConfigError:
        return ConfigError(where + message)

    for key in raw:
        if key not in KEYS:
            raise fail(unknown_name_message("key", key, list(KEYS)))
    values = {**_DEFAULTS, **raw}
    if "datasets" not in raw:
        raise fail("missing key 'datasets'; list at least one dataset name (see `enso download --list`)")

    name = values.get("name", default_name)
    if not isinstance(name, str) or not name or any(c in name for c in "/\\") or name.startswith("."):
        raise fail(f"name must be a plain folder name, got {name!r}")
    datasets = _string_list(values["datasets"], "datasets", fail)
    featurizers = _spec_list(values["featurizers"], "featurizers", fail)
    targets = _spec_list(values["targets"], "targets", fail)
    metrics = _string_list(values["metrics"], "metrics", fail)
    samplers = _string_list(values["samplers"], "samplers", fail)
    resamplers = _string_list(values["resamplers"], "resamplers", fail)
    sizes = values["train_sizes"]
    if not isinstance(sizes, list) or not sizes or not all(_is_int(s) and s > 0 for s in sizes):
        raise fail(f"train_sizes must be a non-empty list of positive integers, got {sizes!r}")
    if len(set(sizes)) != len(sizes):
        raise fail(f"train_sizes has duplicates: {sizes!r}")
    resamples = values["resamples"]
    if not _is_int(resamples) or resamples < 1:
        raise fail(f"resamples must be a positive integer, got {resamples!r}")
    seed = values["seed"]
    if not _is_int(seed) or seed < 0:
        raise fail(f"seed must be a non-negative integer, got {seed!r}")
    cap = values["max_examples"]
    if cap is not None and not (_is_int(cap) and cap > 0) and not (
        isinstance(cap, dict) and all(_is_int(v) and v > 0 for v in cap.values())
    ):
        raise fail(f"max_examples must be a positive integer or a table of dataset = integer, got {cap!r}")
    protocol = values["protocol"]
    if protocol not in PROTOCOLS:
        raise fail(unknown_name_message("protocol", str(protocol), list(PROTOCOLS)))
    if not isinstance(values["protocol_options"], dict):
        raise fail("protocol_options must be a table")

    config = ExperimentConfig(
        name=name, datasets=datasets, featurizers=featurizers, targets=targets,
        train_sizes=sorted(int(s) for s in sizes), resamples=int(resamples), metrics=metrics,
        samplers=samplers, resamplers=resamplers, seed=int(seed), max_examples=cap,
        protocol=protocol, protocol_options=dict(values["protocol_options"]),
        description=str(values["description"]), source=source,
    )
    if validate_names:
        try:
            config = validate_components(config)
        except ConfigError as exc:
            raise fail(str(exc)) from exc
    return config


def validate_components(config: ExperimentConfig) -> ExperimentConfig:
    """Resolve every name against its registry and build every component once.

    Returns the config with names in their registered spelling.
    """
    from enso.data import DATASETS
    from enso.features import make_featurizer
    from enso.metrics import METRICS
    from enso.engine.runner import check_protocol_options
    from enso.engine.sampling import RESAMPLERS, SAMPLERS
    from enso.targets import make_target

    datasets = [DATASETS.canonical(name) for name in config.datasets]
    if isinstance(config.max_examples, dict):
        for name in config.max_examples:
            DATASETS.canonical(name)
    featurizers = []
    for spec in config.featurizers:
        featurizer = make_featurizer(spec.name, spec.params)
        featurizers.append(Spec(featurizer.name, dict(spec.params)))
    targets = []
    for spec in config.targets:
        target = make_target(spec.name, spec.params)
        targets.append(Spec(target.name, dict(spec.params)))
    check_protocol_options(config)
    metrics = [METRICS.canonical(name) for name in config.metrics]
    samplers = [SAMPLERS.canonical(name) for name in config.samplers]
    resamplers = [RESAMPLERS.canonical(name) for name in config.resamplers]
    for kind, items in (("datasets", datasets), ("featurizers", featurizers), ("targets", targets),
                        ("metrics", metrics), ("samplers", samplers), ("resamplers", resamplers)):
        if len(set(items)) != len(items):
            raise ConfigError(f"{kind} lists the same entry twice")
    return ExperimentConfig(**{**config.__dict__, "datasets": datasets, "featurizers": featurizers,
                               "targets": targets, "metrics": metrics, "samplers": samplers,
                               "resamplers": resamplers})


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _string_list(value: Any, key: str, fail) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise fail(f"{key} must be a non-empty list of names, got {value!r}")
    return list(value)


def _spec_list(value: Any, key: str, fail) -> list[Spec]:
    if isinstance(value, (str, dict)):
        value = [value]
    if not isinstance(value, list) or not value:
        raise fail(f"{key} must be a non-empty list of names or tables with a 'name', got {value!r}")
    specs = []
    for item in value:
        if isinstance(item, str) and item:
            specs.append(Spec(item))
        elif isinstance(item, dict) and isinstance(item.get("name"), str):
            params = {k: v for k, v in item.items() if k != "name"}
            specs.append(Spec(item["name"], params))
        else:
            raise fail(f"each entry of {key} must be a name or a table with a 'name' key, got {item!r}")
    return specs
