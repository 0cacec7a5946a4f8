"""The root folder the stages work in, and the paths inside it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from enso.errors import ConfigError

ROOT_ENV = "ENSO_ROOT"


@dataclass(frozen=True)
class Workspace:
    root: Path

    @classmethod
    def resolve(cls, root: str | Path | None = None) -> Workspace:
        """``root`` if given, else ``$ENSO_ROOT``, else the current directory."""
        chosen = root or os.environ.get(ROOT_ENV) or os.getcwd()
        path = Path(chosen).expanduser().resolve()
        if path.exists() and not path.is_dir():
            raise ConfigError(f"workspace root {path} is a file; pass a folder with --root or {ROOT_ENV}")
        return cls(path)

    @property
    def datasets(self) -> Path:
        return self.root / "datasets"

    @property
    def featurizers(self) -> Path:
        return self.root / "featurizers"

    @property
    def experiments(self) -> Path:
        return self.root / "experiments"

    @property
    def results(self) -> Path:
        return self.root / "results"

    def dataset_dir(self, name: str) -> Path:
        return self.datasets / name

    def results_dir(self, experiment: str) -> Path:
        return self.results / experiment

    def experiment_path(self, name_or_path: str | Path) -> Path:
        """A config given by name (``default``) or by path (``experiments/default.toml``)."""
        candidate = Path(name_or_path)
        if candidate.suffix == ".toml" or candidate.parent != Path("."):
            path = candidate if candidate.is_absolute() else Path.cwd() / candidate
            if not path.exists():
                path = self.root / candidate
        else:
            path = self.experiments / f"{name_or_path}.toml"
        if path.is_dir():
            raise ConfigError(f"experiment config {path} is a folder; pass a .toml file in it or a config name")
        if path.exists() and not path.is_file():
            raise ConfigError(f"experiment config {path} is not a regular file; pass a .toml file")
        if not path.is_file():
            available = sorted(p.stem for p in self.experiments.glob("*.toml")) if self.experiments.is_dir() else []
            listing = f" (available in {self.experiments}: {', '.join(available)})" if available else ""
            raise ConfigError(f"experiment config {path} not found; pass a name from experiments/ or a path to a .toml file{listing}")
        return path
