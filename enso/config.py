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
from typing import Any, Protocol

from enso.errors import ConfigError
from enso.hashing import stable_hash
from enso.params import Bool, Constraint, Satisfies, check_names, shown, validate_params

MAX_RESAMPLES = 1000
MAX_TRAIN_SIZE = 10_000_000
MAX_TRAIN_SIZES = 100
MAX_SEED = 2**32 - 1  # numpy's seed range
MAX_NAME_LENGTH = 100
#: string parameter values may be paths (a model folder), so they get more room than names
MAX_PARAM_STRING_LENGTH = 1024
#: a ``label = "..."`` on a featurizer or target table: what results, legends and tables show
MAX_LABEL_LENGTH = 40
#: the key of a featurizer or target table that names the entry's label (not a parameter)
LABEL_KEY = "label"
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


# -- The registries a config is validated against ---------------------------------------------

class Lookup(Protocol):
    """A registry as config sees it: names in their registered spelling (``UnknownNameError`` otherwise).

    ``enso.registry.Registry`` is one. Registries of components with parameters (featurizers,
    targets) also offer ``validate(name, params) -> str``: the registered name once the
    parameters pass the component's declared constraints (``Registry.validate``); a
    protocol registry's ``get(name)`` gives the protocol, whose ``check_options`` checks its options.
    """

    kind: str

    def canonical(self, name: str) -> str: ...

    def get(self, name: str) -> Any: ...


@dataclass(frozen=True)
class Registries:
    """Every registry a config names things in; ``enso.components.registries(workspace)`` builds the default."""

    datasets: Lookup
    featurizers: Lookup
    targets: Lookup
    metrics: Lookup
    samplers: Lookup
    resamplers: Lookup
    protocols: Lookup
    tasks: Lookup | None = None


# -- Config keys, declared once -------------------------------------------------------------

def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _control_character(text: str) -> str | None:
    """The first control or format character in ``text`` (newline, NUL, bidi override, ...), if any."""
    for char in text:
        if unicodedata.category(char) in ("Cc", "Cf", "Cs"):
            return char
    return None


def _check_name(key: str, name: str, limit: int = MAX_NAME_LENGTH) -> None:
    """A name that becomes a label or a folder: at most ``limit`` characters, no control characters."""
    if len(name) > limit:
        raise ValueError(f"{key}: {name[:40]!r}... is {len(name)} characters long; at most {limit} are allowed")
    char = _control_character(name)
    if char is not None:
        raise ValueError(f"{key}: {shown(name)} contains the control character {char!r}; use printable characters")


class Name(Constraint):
    """A printable name of at most :data:`MAX_NAME_LENGTH` characters (``what`` says what kind, when it is not a string)."""

    def __init__(self, what: str | None = None, *, optional: bool = False):
        self.what, self.optional = what, optional

    def check(self, name, value):
        if value is None and self.optional:
            return
        if self.what is not None and (not isinstance(value, str) or not value):
            raise ValueError(f"{name} must be {self.what}, got {shown(value)}")
        _check_name(name, value)


class FolderName(Constraint):
    """The experiment's name: a plain folder name."""

    def check(self, name, value):
        if not isinstance(value, str) or not value or any(c in value for c in "/\\") or value.startswith("."):
            raise ValueError(f"{name} must be a plain folder name, got {shown(value)}")
        _check_name(name, value)


class Names(Constraint):
    """A non-empty list of names (a single name counts as a list of one)."""

    def check(self, name, value):
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
            raise ValueError(f"{name} must be a non-empty list of names, got {shown(value)}")
        for item in value:
            _check_name(name, item)


def _check_param_values(key: str, spec_name: str, value: Any) -> None:
    """String parameter values appear in labels: no control characters, and a bounded length."""
    if isinstance(value, str):
        _check_name(f"{key}: a parameter of {spec_name!r}", value, MAX_PARAM_STRING_LENGTH)
    elif isinstance(value, list):
        for item in value:
            _check_param_values(key, spec_name, item)
    elif isinstance(value, dict):
        for name, item in value.items():
            _check_name(f"{key}: a parameter of {spec_name!r}", name)
            _check_param_values(key, spec_name, item)
    elif not isinstance(value, (bool, int, float)):
        raise ValueError(f"{key}: parameter values of {spec_name!r} are strings, numbers, booleans, lists or "  # noqa: TRY004
                         f"tables, got {type(value).__name__} {shown(value)}")


def _check_label(key: str, spec_name: str, value: Any) -> None:
    """A ``label = "..."``: a non-empty printable string of at most :data:`MAX_LABEL_LENGTH` characters."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{key}: the label of {spec_name!r} must be a non-empty string, got {shown(value)}")
    if value != value.strip():
        raise ValueError(f"{key}: the label {value!r} of {spec_name!r} starts or ends with spaces; remove them")
    _check_name(f"{key}: the label of {spec_name!r}", value, MAX_LABEL_LENGTH)


class Specs(Constraint):
    """A non-empty list of component names or tables with a ``name``, parameters and an optional ``label``."""

    def check(self, name, value):
        if isinstance(value, (str, dict)):
            value = [value]
        if not isinstance(value, list) or not value:
            raise ValueError(f"{name} must be a non-empty list of names or tables with a 'name', got {shown(value)}")
        for item in value:
            if isinstance(item, str) and item:
                _check_name(name, item)
            elif isinstance(item, dict) and isinstance(item.get("name"), str) and item["name"]:
                _check_name(name, item["name"])
                if LABEL_KEY in item:
                    _check_label(name, item["name"], item[LABEL_KEY])
                _check_param_values(name, item["name"],
                                    {k: v for k, v in item.items() if k not in ("name", LABEL_KEY)})
            else:
                raise ValueError(f"each entry of {name} must be a name or a table with a 'name' key, got "
                                 f"{shown(item)}")


class TrainSizes(Constraint):
    def check(self, name, value):
        if not isinstance(value, list) or not value or not all(_is_int(s) and s > 0 for s in value):
            raise ValueError(f"{name} must be a non-empty list of positive integers, got {shown(value)}")
        if len(value) > MAX_TRAIN_SIZES:
            raise ValueError(f"{name} lists {len(value)} sizes; at most {MAX_TRAIN_SIZES} are allowed")
        if max(value) > MAX_TRAIN_SIZE:
            raise ValueError(f"{name}: {max(value)} is more than {MAX_TRAIN_SIZE:,} examples; give sizes a "
                             "dataset can have")
        if len(set(value)) != len(value):
            raise ValueError(f"{name} has duplicates: {value!r}")


class Cap(Constraint):
    """``max_examples``: a positive integer, or a table of dataset = positive integer."""

    def check(self, name, value):
        if value is not None and not (_is_int(value) and value > 0) and not (
                isinstance(value, dict) and all(_is_int(v) and v > 0 for v in value.values())):
            raise ValueError(f"{name} must be a positive integer or a table of dataset = integer, got {shown(value)}")
        if isinstance(value, dict):
            for dataset in value:
                _check_name(name, dataset)


#: Every key of an experiment config and its rule, in the order they are checked.
KEY_CONSTRAINTS: dict[str, Constraint] = {
    "name": FolderName(),
    "datasets": Names(),
    "featurizers": Specs(),
    "targets": Specs(),
    "metrics": Names(),
    "samplers": Names(),
    "resamplers": Names(),
    "selection_metric": Name("a metric name (see `enso experiment --list`)", optional=True),
    "dedupe": Bool(),
    "train_sizes": TrainSizes(),
    "resamples": Satisfies(lambda v: _is_int(v) and v >= 1, "{name} must be a positive integer, got {shown}"),
    "seed": Satisfies(lambda v: _is_int(v) and 0 <= v <= MAX_SEED,
                      f"{{name}} must be a non-negative integer of at most {MAX_SEED}, got {{shown}}"),
    "max_examples": Cap(),
    "protocol": Name("a protocol name (see `enso experiment --list`)"),
    "protocol_options": Satisfies(lambda v: isinstance(v, dict), "{name} must be a table"),
    "description": Satisfies(lambda v: isinstance(v, str), "{name} must be a string, got {shown}"),
}
#: Bounds checked after the types, with their own advice.
_BOUNDS: dict[str, Constraint] = {
    "resamples": Satisfies(lambda v: v <= MAX_RESAMPLES,
                           f"{{name}} = {{value}} is more than {MAX_RESAMPLES}; a learning curve needs far fewer "
                           "(5 to 30 is usual)"),
}


@dataclass(frozen=True)
class Spec:
    """A registered component named in a config, with its parameters.

    ``given_label`` is the table's ``label = "..."`` (or the default a model folder gets, its
    folder name): what results, legends and tables call the entry. It is no parameter and no
    part of the entry's identity (``id``, equality, hash, the featurizer id, the cell key), so
    relabelling an entry recomputes nothing.
    """

    name: str
    params: dict[str, Any] = field(default_factory=dict)
    given_label: str | None = field(default=None, kw_only=True, compare=False)

    @property
    def label(self) -> str:
        """Short human name: the given label, else ``knn`` or ``knn(n_neighbors=5)``."""
        if self.given_label:
            return self.given_label
        return self.parameter_label

    @property
    def parameter_label(self) -> str:
        """The label made of the name and the parameters: ``knn(n_neighbors=5)``."""
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
    #: the keys the config file sets itself (the others have their defaults): what a protocol may refuse
    explicit: tuple[str, ...] = ()

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
            "featurizers": [_labelled(s) for s in self.featurizers],
            "targets": [_labelled(s) for s in self.targets],
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


def _labelled(spec: Spec) -> dict[str, Any]:
    """A spec as its config table, with its label where one was given."""
    table = spec.to_dict()
    if spec.given_label:
        table[LABEL_KEY] = spec.given_label
    return table


def read_config(path: str | Path, registries: Registries | None = None, *,
                validate_names: bool = True) -> ExperimentConfig:
    """The config in the file ``path``, checked (names too when ``registries`` are given)."""
    path = Path(path)
    raw = parse_toml(read_config_text(path), path)
    return parse_config(raw, registries, source=path, default_name=path.stem, validate_names=validate_names)


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


def parse_config(raw: dict[str, Any], registries: Registries | None = None, *, source: Path | None = None,
                 default_name: str = "experiment", validate_names: bool = True) -> ExperimentConfig:
    """``raw`` (a parsed TOML table) as a checked config.

    Every key is checked against :data:`KEY_CONSTRAINTS`. With ``registries``, every name is
    resolved to its registered spelling and every component's parameters and the protocol's
    options are checked (``validate_names=False``: only the protocol's name). With
    ``registries=None`` only the structure is checked.
    """
    where = f"{source}: " if source else ""

    def fail(message: str) -> ConfigError:
        return ConfigError(where + message)

    if not isinstance(raw, dict):
        raise fail(f"a config is a TOML table of keys, got {type(raw).__name__}")
    try:
        check_names("key", list(raw), list(KEYS))
    except ConfigError as exc:
        raise fail(str(exc)) from None
    if "datasets" not in raw:
        raise fail("missing key 'datasets'; list at least one dataset name (see `enso download --list`)")
    values = {**_DEFAULTS, "name": default_name, **raw}
    try:
        validate_params(KEY_CONSTRAINTS, {key: values[key] for key in KEY_CONSTRAINTS})
        validate_params(_BOUNDS, values)
    except ValueError as exc:
        raise fail(str(exc)) from None

    metrics = _names(values["metrics"])
    sizes = values["train_sizes"]
    config = ExperimentConfig(
        name=values["name"], datasets=_names(values["datasets"]), featurizers=_specs(values["featurizers"]),
        targets=_specs(values["targets"]), train_sizes=sorted(int(s) for s in sizes),
        resamples=int(values["resamples"]), metrics=metrics, samplers=_names(values["samplers"]),
        resamplers=_names(values["resamplers"]), seed=int(values["seed"]), max_examples=values["max_examples"],
        protocol=values["protocol"], protocol_options=dict(values["protocol_options"]),
        description=values["description"], source=source,
        selection_metric=values["selection_metric"] or metrics[0], dedupe=values["dedupe"],
        explicit=tuple(key for key in KEYS if key in raw),
    )
    try:
        for kind, specs in (("featurizers", config.featurizers), ("targets", config.targets)):
            check_labels(kind, specs)
    except ConfigError as exc:
        raise fail(str(exc)) from None
    cells = (len(config.datasets) * len(config.featurizers) * len(config.targets) * len(sizes) * config.resamples
             * len(config.samplers) * len(config.resamplers))
    if cells > MAX_CELLS:
        raise fail(f"this config asks for {cells:,} cells (datasets x featurizers x targets x train_sizes x "
                   f"resamples x samplers x resamplers), more than {MAX_CELLS:,}; split it into smaller "
                   "experiments")
    if registries is None:
        return config
    try:
        if validate_names:
            return validate_components(config, registries)
        return _replace(config, protocol=registries.protocols.canonical(config.protocol))
    except ConfigError as exc:
        raise fail(str(exc)) from None


def validate_components(config: ExperimentConfig, registries: Registries) -> ExperimentConfig:
    """Resolve every name against ``registries`` and check every component's parameters once.

    Returns the config with names in their registered spelling, and with the datasets the
    protocol runs (``Protocol.resolve_datasets``: SentEval runs SST2 on SST2Phrases).
    """
    protocol = registries.protocols.get(registries.protocols.canonical(config.protocol))
    check_protocol_keys(config, protocol)
    datasets_registry = registries.datasets
    listed = [datasets_registry.canonical(name) for name in config.datasets]
    if len(set(listed)) != len(listed):
        raise ConfigError("datasets lists the same entry twice")
    resolved = protocol.resolve_datasets(list(listed))
    datasets = [datasets_registry.canonical(name) for name in resolved]
    max_examples = config.max_examples
    if isinstance(max_examples, dict):
        renamed = dict(zip(listed, datasets)) if len(datasets) == len(listed) else {}
        max_examples = {}
        for name, cap in config.max_examples.items():
            canonical = datasets_registry.canonical(name)
            max_examples[renamed.get(canonical, canonical)] = cap
    for spec in config.featurizers:
        check_pair_encoding_table(spec.label, spec.params)
    featurizers = default_labels([_validated(registries.featurizers, spec) for spec in config.featurizers])
    targets = [_validated(registries.targets, spec) for spec in config.targets]
    check_labels("featurizers", featurizers)
    check_labels("targets", targets)
    protocol.check_options(dict(config.protocol_options))
    metrics = [registries.metrics.canonical(name) for name in config.metrics]
    try:
        selection_metric = registries.metrics.canonical(config.selection_metric)
    except ConfigError as exc:
        raise ConfigError(f"selection_metric: {exc}") from exc
    samplers = [registries.samplers.canonical(name) for name in config.samplers]
    resamplers = [registries.resamplers.canonical(name) for name in config.resamplers]
    for kind, items in (("datasets", datasets), ("featurizers", featurizers), ("targets", targets),
                        ("metrics", metrics), ("samplers", samplers), ("resamplers", resamplers)):
        if len(set(items)) != len(items):
            raise ConfigError(f"{kind} lists the same entry twice")
    return _replace(config, datasets=datasets, featurizers=featurizers, targets=targets, metrics=metrics,
                    selection_metric=selection_metric, samplers=samplers, resamplers=resamplers,
                    max_examples=max_examples, protocol=protocol.name)


def check_protocol_keys(config: ExperimentConfig, protocol: Any) -> None:
    """``ConfigError`` for a key the config sets that ``protocol`` does not use (mteb, senteval: train_sizes, ...).

    A protocol lists such keys in ``ignored_keys`` (key -> what it does instead); leaving a key
    out of the file is fine (its default is not used either), setting it would be silently ignored.
    """
    ignored = getattr(protocol, "ignored_keys", None) or {}
    for key in config.explicit:
        if key in ignored:
            raise ConfigError(f"{key}: protocol {protocol.name} does not use it ({ignored[key]}); remove {key} "
                              f"from the config, or use protocol = \"enso\" for it")


def check_pair_encoding_table(label: str, table: dict[str, Any]) -> None:
    """``ConfigError`` when a featurizer table sets both ``pair_encoding = "cross"`` and ``pair_features``.

    A cross-encoded pair is one vector (both texts through the encoder together): there are no
    two sides for ``pair_features`` to combine, so giving it would silently mean nothing.
    """
    if table.get("pair_encoding") == "cross" and "pair_features" in table:
        raise ConfigError(f"featurizer {label}: pair_features combines two separately encoded texts, but "
                          "pair_encoding = 'cross' encodes each pair as one sequence (one vector, nothing to "
                          "combine); drop pair_features from this entry, or add a separate entry without "
                          "pair_encoding for it")


def _validated(registry: Lookup, spec: Spec) -> Spec:
    """``spec`` with its registered name, once its parameters pass the component's declared constraints."""
    validate = getattr(registry, "validate", None)
    name = registry.canonical(spec.name) if validate is None else validate(spec.name, dict(spec.params))
    return Spec(name, dict(spec.params), given_label=spec.given_label)


def check_labels(kind: str, specs: list[Spec]) -> None:
    """``ConfigError`` when two entries of ``kind`` would show the same label (a given one, or a default)."""
    seen: dict[str, Spec] = {}
    for spec in specs:
        other = seen.get(spec.label.casefold())
        if other is not None and (other.given_label or spec.given_label):
            raise ConfigError(f"{kind}: two entries are labelled {spec.label!r} ({other.parameter_label} and "
                              f"{spec.parameter_label}); give each a label of its own")
        seen.setdefault(spec.label.casefold(), spec)


def path_labels(paths: list[str]) -> list[str]:
    """Short labels for model folders or files: each one's name, with as many parent folders as make them unique.

    ``["/a/x/model", "/b/y/model", "/c/mini"]`` -> ``["x/model", "y/model", "mini"]``.
    """
    distinct = list(dict.fromkeys(str(Path(path).expanduser()) for path in paths))  # one path, one label
    parts = [[p for p in Path(path).parts if p not in ("/", "\\")] or [path] for path in distinct]
    depth = [1] * len(parts)
    while True:
        labels = ["/".join(p[-d:]) for p, d in zip(parts, depth)]
        counts: dict[str, int] = {}
        for label in labels:
            counts[label] = counts.get(label, 0) + 1
        grow = [i for i, label in enumerate(labels) if counts[label] > 1 and depth[i] < len(parts[i])]
        if not grow:
            by_path = dict(zip(distinct, labels))
            return [by_path[str(Path(path).expanduser())] for path in paths]
        for i in grow:
            depth[i] += 1


def default_labels(specs: list[Spec]) -> list[Spec]:
    """Featurizer entries that take a ``path`` (a model folder, a vectors file) and have no label: labelled by it.

    The label is the folder's or file's name (with parents where two share one), followed by the
    other parameters: ``{ name = "hf-encoder", path = "/srv/models/my-bert" }`` is ``my-bert``,
    with ``layers = "all"`` ``my-bert(layers=all)``.
    """
    chosen = [i for i, spec in enumerate(specs)
              if not spec.given_label and isinstance(spec.params.get("path"), str) and spec.params["path"].strip()]
    if not chosen:
        return specs
    names = path_labels([specs[i].params["path"] for i in chosen])
    out = list(specs)
    for i, name in zip(chosen, names):
        rest = Spec(name, {k: v for k, v in specs[i].params.items() if k != "path"}).parameter_label
        label = rest if len(rest) <= MAX_LABEL_LENGTH else name
        if len(label) <= MAX_LABEL_LENGTH:
            out[i] = Spec(specs[i].name, dict(specs[i].params), given_label=label)
    labels = [spec.label.casefold() for spec in out]
    for i in chosen:  # a default that would clash with another entry's label: keep the full label
        if labels.count(out[i].label.casefold()) > 1:
            out[i] = specs[i]
    return out


def _replace(config: ExperimentConfig, **changes: Any) -> ExperimentConfig:
    return ExperimentConfig(**{**config.__dict__, **changes})


def _names(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _specs(value: Any) -> list[Spec]:
    items = [value] if isinstance(value, (str, dict)) else value
    return [Spec(item) if isinstance(item, str) else
            Spec(item["name"], {k: v for k, v in item.items() if k not in ("name", LABEL_KEY)},
                 given_label=item.get(LABEL_KEY))
            for item in items]
