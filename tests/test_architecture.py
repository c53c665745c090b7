"""The package's shape: no import cycles among instapop's modules, and no module too long to read.

The layers themselves (which package may import which) are import-linter's contracts in
pyproject.toml, checked by ``make test``.
"""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

SRC = Path(__file__).parents[1] / "src"
MAX_LINES = 600  # past this a module holds more than one job: split it by job (see docs/architecture.md)


def module_files() -> dict[str, Path]:
    """``{dotted module name: file}`` of every module under src/; a package is its ``__init__.py``."""
    modules = {}
    for path in sorted(SRC.rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def imported(
    node: ast.Import | ast.ImportFrom, module: str, path: Path, modules: dict[str, Path]
) -> list[str]:
    """The dotted names an import statement reaches: ``from a import b`` is module ``a.b`` if there
    is one, else ``a`` (b is a name in it)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:  # relative: counted from the importing module's package
        package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
    return [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]


def import_graph() -> dict[str, set[str]]:
    """Each instapop module and the instapop modules it imports anywhere in it (functions and
    ``TYPE_CHECKING`` blocks too: a cycle through a deferred import is still a cycle)."""
    modules = module_files()
    graph = {}
    for module, path in modules.items():
        targets = {
            _owning_module(name, modules)
            for node in ast.walk(ast.parse(path.read_text(), str(path)))
            if isinstance(node, ast.Import | ast.ImportFrom)
            for name in imported(node, module, path, modules)
        }
        graph[module] = {t for t in targets if t is not None and t != module}
    return graph


def _owning_module(name: str, modules: dict[str, Path]) -> str | None:
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def test_the_graph_sees_the_imports() -> None:
    graph = import_graph()
    assert "instapop.dedup.threshold" in graph["instapop.dedup.verify"]  # `from ... import name`
    assert "instapop.predict.candidates" in graph["instapop.predict.output"]
    assert "instapop.training" in graph["instapop.predict.card"]  # under TYPE_CHECKING
    assert "instapop.models.ranker" in graph["instapop.predict.scorers"]  # inside a function


def test_no_import_cycles() -> None:
    try:
        tuple(TopologicalSorter(import_graph()).static_order())
    except CycleError as err:
        raise AssertionError(f"modules importing each other: {' -> '.join(err.args[1])}") from None


def test_no_module_is_too_long() -> None:
    lengths = {module: len(path.read_text().splitlines()) for module, path in module_files().items()}
    assert {m: n for m, n in lengths.items() if n > MAX_LINES} == {}
