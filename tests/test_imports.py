"""The package's floor plan has no import circles.

Every ``import genrelens...`` and ``from genrelens... import ...`` counts, at module level AND
inside functions: a lazy import defers the cost, not the dependency, and a circle through one
still ties two floors together. Imports under ``if TYPE_CHECKING:`` do not count (they never
run; they name types only). An import of ``genrelens.a.b`` is an arrow to ``genrelens.a.b``
only, not to the package ``genrelens.a`` that Python initialises first (a package's
``__init__`` re-exports its modules, which would make every package a circle).
"""

from __future__ import annotations

import ast
from pathlib import Path

import genrelens

PACKAGE = Path(genrelens.__file__).resolve().parent


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return getattr(test, "id", getattr(test, "attr", None)) == "TYPE_CHECKING"


def _imported(module: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The genrelens modules that ``module`` imports (see the module docstring)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    targets: set[str] = set()

    def known(name: str) -> str:
        while name not in modules:
            name = name.rpartition(".")[0]
        return name

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for other in child.orelse:
                    visit(ast.Module(body=[other], type_ignores=[]))
                continue
            if isinstance(child, ast.Import):
                targets.update(known(a.name) for a in child.names
                               if a.name.split(".")[0] == "genrelens")
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    parent = package
                    for _ in range(child.level - 1):
                        parent = parent.rpartition(".")[0]
                    base = f"{parent}.{base}" if base else parent
                if base.split(".")[0] == "genrelens":
                    for alias in child.names:
                        full = f"{base}.{alias.name}"
                        targets.add(full if full in modules else known(base))
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    targets.discard(module)
    return targets


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan 1972)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return found


def test_the_walker_finds_a_circle_through_a_lazy_import():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _circles(graph) == [["a", "b", "c"]]
    modules = _modules()
    # explanation.py imports the HTML module inside _repr_html_() only
    assert "genrelens.explain.html" in _imported("genrelens.explain.explanation", modules[
        "genrelens.explain.explanation"], modules)


def test_type_checking_imports_do_not_count():
    modules = _modules()
    listen = "genrelens.explain.listen"
    assert "genrelens.explain.explanation" not in _imported(listen, modules[listen], modules)
    assert "genrelens.explain.components" in _imported(listen, modules[listen], modules)


def test_no_import_circles():
    modules = _modules()
    graph = {name: _imported(name, path, modules) for name, path in modules.items()}
    assert len(graph) > 50
    assert _circles(graph) == []


def test_evaluation_reads_synthetic_cues_without_the_recipes():
    modules = _modules()
    graph = {name: _imported(name, path, modules) for name, path in modules.items()}
    synthetic = "genrelens.data.synthetic"
    parts = {m for m in modules if m.startswith(f"{synthetic}.")}
    assert {f"{synthetic}.{m}" for m in ("cues", "genres", "instruments", "track",
                                          "writer")} <= parts
    assert not graph[f"{synthetic}.cues"] & parts
    # the modules that read cue records (the global and quality stages) import nothing else of
    # the synthetic package: not the recipes, not the package (which imports them all)
    readers = {m: graph[m] & (parts | {synthetic}) for m in modules
               if f"{synthetic}.cues" in graph[m] and not m.startswith(synthetic)}
    assert readers and all(found == {f"{synthetic}.cues"} for found in readers.values())


def test_drawing_stands_below_the_explanations():
    """display.py draws results it is given: it imports nothing from explain/ (the HTML of an
    explanation, which needs both, lives in explain/html.py)."""
    modules = _modules()
    drawn_from = _imported("genrelens.display", modules["genrelens.display"], modules)
    assert drawn_from and not {m for m in drawn_from if m.startswith("genrelens.explain")}
    assert "genrelens.display" in _imported("genrelens.explain.html",
                                            modules["genrelens.explain.html"], modules)


def test_the_command_line_is_the_top_floor():
    """Nothing of the library imports genrelens.cli (only ``python -m genrelens`` does); each
    command group's module imports the shared options of the command line and no other part of
    it, and the package imports every command group to build its parser."""
    modules = _modules()
    graph = {name: _imported(name, path, modules) for name, path in modules.items()}
    cli = {m for m in modules if m == "genrelens.cli" or m.startswith("genrelens.cli.")}
    options = "genrelens.cli._options"
    groups = cli - {"genrelens.cli", options}
    assert {f"genrelens.cli.{m}" for m in ("data", "training", "explaining", "quality",
                                           "run")} <= groups
    assert {m for m in modules if graph[m] & cli} - cli == {"genrelens.__main__"}
    assert all(graph[group] & cli == {options} for group in groups)
    assert not graph[options] & cli
    assert graph["genrelens.cli"] & cli == groups
