"""No two modules of the project import each other, directly or around a circle.

Imports are read from the source (every ``import`` and ``from … import`` statement, the ones
inside functions too: a lazy import still ties two modules together), for the packages
``curate``, ``db``, ``trainers``, and for ``tests`` and ``benchmarks`` (which must not import
test modules either). A name imported from a package resolves to its submodule when there is
one (``from curate.gallery import model_ops``).

Imports under ``if TYPE_CHECKING:`` are left out: they never run.

Between packages, one direction: ``curate`` imports ``trainers`` (the galleries load its run
layout and sample its models), never the reverse. No module under ``trainers`` imports
``curate`` or ``db``, lazily or not; what both sides need lives in ``trainers.common``.
"""
from __future__ import annotations

import ast
from pathlib import Path

from tests.helpers import REPO

PACKAGES = ("curate", "db", "trainers", "tests", "benchmarks")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found = {}
    for top in PACKAGES:
        for path in (REPO / top).rglob("*.py"):
            if ".venv" not in path.parts and "node_modules" not in path.parts:
                found[_module_name(path)] = path
    return found


def _runtime_nodes(tree: ast.AST):
    """Every node, except under ``if TYPE_CHECKING:`` (imports for annotations never run)."""
    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            todo.extend(node.orelse)
            continue
        todo.extend(ast.iter_child_nodes(node))


def _imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The project modules ``name`` imports."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        for t in targets:
            while t and t not in known:  # `import a.b.c` of a name inside a module: the module
                t = t.rpartition(".")[0]
            if t and t != name:
                out.add(t)
    return out


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def import_graph() -> dict[str, set[str]]:
    known = _modules()
    return {name: _imports(name, path, known) for name, path in known.items()}


def test_the_import_graph_sees_lazy_and_relative_imports():
    """The reader itself: a function-level import and a relative one are both edges."""
    graph = import_graph()
    assert "trainers.stylegan.stream" in graph["trainers.stylegan.bank"]  # relative, top level
    assert "curate.gallery.model_ops" in graph["curate.gallery.model_worker"]  # inside serve()


def test_no_import_cycles_within_a_package():
    cycles = _cycles(import_graph())
    within = [c for c in cycles if len({m.rpartition(".")[0] for m in c}) == 1]
    assert within == [], f"modules of one package import each other: {within}"


def test_the_trainers_never_import_curate():
    """curate → trainers is the one direction: a trainer runs without the curation app, its
    database layer or their dependencies. Shared code goes in trainers/common/ (the standard
    library and numpy only)."""
    found = sorted((m, t) for m, targets in import_graph().items() if m.split(".")[0] == "trainers"
                   for t in targets if t.split(".")[0] in ("curate", "db"))
    assert found == [], f"move what the trainers need into trainers/common: {found}"


def _test_module_imports() -> set[tuple[str, str]]:
    graph = import_graph()
    return {(m, t) for m, targets in graph.items() if m.split(".")[0] in ("tests", "benchmarks")
            for t in targets
            if t.startswith("tests.") and (t.rpartition(".")[2].startswith("test_")
                                           or t.rpartition(".")[2] == "conftest")}


def test_no_module_imports_a_test_module_or_a_conftest():
    """Shared helpers live in tests/helpers (the browser tests': tests/browser/harness.py) or in
    fixtures; the StyleGAN benchmark has its own baseline (benchmarks/reference_layout.py)."""
    found = sorted(_test_module_imports())
    assert found == [], f"import from tests.helpers or use a fixture instead: {found}"
