"""The package's layers (docs/architecture.md): no module imports one above its layer, and no import cycles.

Every module under ``enso/`` is parsed (nothing is imported), and every import it makes is
collected: at module level and inside functions and classes alike, ``if TYPE_CHECKING:`` blocks
excepted. A module may import only modules of its own layer or below. Two string-named
imports count too: ``importlib.import_module("enso....")`` and a ``Registered("enso.mod:NAME")``
parameter constraint, which imports ``enso.mod`` when it checks a value. Module-level imports
(those that run when the module is imported) must not form a cycle.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "enso"

#: layer of each module or package (a package covers every module below it)
LAYERS: dict[str, int] = {
    "enso": 0, "enso.errors": 0, "enso.hashing": 0, "enso.params": 0, "enso.seeds": 0,
    "enso.store": 1, "enso.registry": 1, "enso.workspace": 1, "enso.config": 1, "enso.progress": 1,
    "enso.tasks": 2,
    "enso.data": 3, "enso.metrics": 3, "enso.sampling": 3,
    "enso.features": 4, "enso.targets": 4,
    "enso.protocols": 5,
    "enso.engine": 6, "enso.components": 6,
    "enso.report": 7,
    "enso.download": 8, "enso.featurize": 8, "enso.experiment": 8, "enso.visualize": 8, "enso.cli": 8,
    "enso.cli_common": 8, "enso.__main__": 8, "enso.compare": 8, "enso.init": 8,
}
LAYER_NAMES = {0: "core", 1: "store/registry/workspace/config/progress", 2: "tasks", 3: "data/metrics/sampling",
               4: "features/targets", 5: "protocols", 6: "engine/components", 7: "report", 8: "commands"}

#: Upward imports that are known and being removed, as (importer, imported, whose file holds it).
#: Empty when issue 11 is done; an entry that no longer occurs is reported by
#: ``test_expected_violations_still_occur`` so the list only shrinks.
EXPECTED: set[tuple[str, str]] = set()


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int
    module_level: bool
    by_name: bool = False  # importlib.import_module("...") or Registered("...:NAME")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module: str) -> int | None:
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        layer = LAYERS.get(".".join(parts[:end]))
        if layer is not None and (end > 1 or module == "enso"):
            return layer
    return None


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _absolute(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[:len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def imports_of(module: str, path: Path, known: set[str]) -> Iterator[Import]:
    """Every ``enso`` import in ``path``: (imported module, line, whether it runs at import time)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    is_package = path.name == "__init__.py"

    def visit(node: ast.AST, module_level: bool) -> Iterator[Import]:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                yield from visit(child, module_level)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "enso":
                    yield Import(module, alias.name, node.lineno, module_level)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(module, is_package, node)
            if base.split(".")[0] == "enso":
                for alias in node.names:
                    candidate = f"{base}.{alias.name}"
                    yield Import(module, candidate if candidate in known else base, node.lineno, module_level)
        elif isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if (name in ("import_module", "Registered") and node.args and isinstance(node.args[0], ast.Constant)
                    and isinstance(node.args[0].value, str) and node.args[0].value.startswith("enso")):
                yield Import(module, node.args[0].value.partition(":")[0], node.lineno, False, by_name=True)
        nested = module_level and not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        for child in ast.iter_child_nodes(node):
            yield from visit(child, nested)

    yield from visit(tree, True)


def all_imports() -> list[Import]:
    found = modules()
    return list(dict.fromkeys(imp for module, path in found.items() for imp in imports_of(module, path, set(found))))


def upward(imports: list[Import]) -> list[Import]:
    return [imp for imp in imports
            if (layer_of(imp.imported) or 0) > (layer_of(imp.importer) or 0) and imp.importer != imp.imported]


def _describe(imp: Import) -> str:
    low, high = layer_of(imp.importer), layer_of(imp.imported)
    where = ("by name" if imp.by_name else "at module level" if imp.module_level else "inside a function")
    return (f"{imp.importer} (layer {low}, {LAYER_NAMES[low]}) imports {imp.imported} (layer {high}, "
            f"{LAYER_NAMES[high]}) {where}, line {imp.line}")


def test_every_module_has_a_layer():
    missing = [module for module in modules() if layer_of(module) is None]
    assert not missing, f"modules without a layer (add them to LAYERS and docs/architecture.md): {missing}"


def test_no_module_imports_a_layer_above_its_own():
    unexpected = [imp for imp in upward(all_imports()) if (imp.importer, imp.imported) not in EXPECTED]
    assert not unexpected, "upward imports:\n" + "\n".join(map(_describe, unexpected))


def test_expected_violations_still_occur():
    """``EXPECTED`` only shrinks: an entry that is fixed must leave the list."""
    occurring = {(imp.importer, imp.imported) for imp in upward(all_imports())}
    fixed = sorted(EXPECTED - occurring)
    assert not fixed, f"fixed, remove from EXPECTED in tests/test_layers.py: {fixed}"


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), or a module importing itself."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in sorted(edges.get(node, ())):
            if succ not in index:
                connect(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            connect(node)
    return found


def test_no_import_cycles_at_module_level():
    edges: dict[str, set[str]] = {}
    for imp in all_imports():
        if imp.module_level and imp.imported != imp.importer:
            edges.setdefault(imp.importer, set()).add(imp.imported)
    cycles = _cycles(edges)
    assert not cycles, "module-level import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


# --- the checker itself -------------------------------------------------------------------

def test_the_checker_sees_function_level_and_string_imports_and_skips_type_checking(tmp_path):
    source = tmp_path / "config.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "from enso.errors import ConfigError\n"
        "if TYPE_CHECKING:\n"
        "    from enso.engine import Plan\n"
        "def validate():\n"
        "    from enso.data import DATASETS\n"
        "    import importlib\n"
        "    importlib.import_module('enso.report')\n"
        "LIMIT = Registered('enso.engine.sampling:RESAMPLERS')\n")
    found = list(imports_of("enso.config", source, {"enso.errors"}))
    assert [(i.imported, i.module_level) for i in found] == [
        ("enso.errors", True), ("enso.data", False), ("enso.report", False), ("enso.engine.sampling", False)]
    assert [i.imported for i in upward(found)] == ["enso.data", "enso.report", "enso.engine.sampling"]


def test_the_checker_resolves_relative_imports_and_finds_cycles(tmp_path):
    source = tmp_path / "__init__.py"
    source.write_text("from .cache import load\nfrom . import base\n")
    found = list(imports_of("enso.features", source, {"enso.features.cache", "enso.features.base"}))
    assert [i.imported for i in found] == ["enso.features.cache", "enso.features.base"]
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_the_layer_map_covers_submodules_and_refuses_strangers():
    assert layer_of("enso.engine.runner") == 6 and layer_of("enso.data.records") == 3 and layer_of("enso") == 0
    assert layer_of("enso.somethingnew") is None
