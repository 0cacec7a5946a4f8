"""A throw-away installed package for plug-in tests: modules plus a ``*.dist-info`` with entry points.

``importlib.metadata`` finds a distribution's entry points in a ``<name>-<version>.dist-info``
folder on ``sys.path``, which is all ``pip install`` leaves for it; writing one by hand stands in
for installing a package, in a fraction of the time and without a network::

    site = plugin_package(tmp_path / "site", "toy_plugins", {"__init__.py": SOURCE}, '''
        [enso.targets]
        nearest-mean = toy_plugins:NearestMean
    ''')
    monkeypatch.syspath_prepend(str(site))        # in this process
    env = plugin_env(site)                         # for an enso child process

Registries load their entry points on first use, so a child process (or a fresh ``Registry``) is
what sees a package added during a test.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path


def plugin_package(site: Path, package: str, modules: dict[str, str], entry_points: str, *,
                   version: str = "0.1") -> Path:
    """``site/<package>/`` holding ``modules`` (file name -> source) and its dist-info; returns ``site``."""
    site = Path(site)
    folder = site / package
    folder.mkdir(parents=True)
    for name, source in {"__init__.py": "", **modules}.items():
        (folder / name).write_text(textwrap.dedent(source), encoding="utf-8")
    info = site / f"{package}-{version}.dist-info"
    info.mkdir()
    distribution = package.replace("_", "-")
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\n",
                                   encoding="utf-8")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points).lstrip(), encoding="utf-8")
    (info / "top_level.txt").write_text(package + "\n", encoding="utf-8")
    return site


def plugin_env(site: Path, env: dict[str, str] | None = None) -> dict[str, str]:
    """Environment variables for a child process that has ``site`` on its path (before the rest)."""
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p)
    return {**(env or {}), "PYTHONPATH": path}
