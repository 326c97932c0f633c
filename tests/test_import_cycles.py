"""No import cycle in the package: a static walk of every ``import`` in ``videossr/`` (function-level ones
too, since they run sooner or later; ``if TYPE_CHECKING:`` blocks never run and are skipped).

An edge goes from a module to each package module it names: ``from a.b import c`` is an edge to ``a.b.c``
when that is a module, else to ``a.b``. Importing ``a.b.c`` also runs ``a/__init__`` and ``a/b/__init__``;
those implicit edges are left out (else every module would sit in one cycle through ``videossr/__init__``).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "videossr"

#: Cycles known and owned elsewhere, each as the set of its modules (a cycle listed here must be one
#: someone is breaking). Empty: the tasks <-> evaluation.baselines circle and the learnbed -> training ->
#: training.data -> learnbed one (issue 29) are both gone.
ALLOWED: list[frozenset[str]] = []


def module_names() -> dict[str, Path]:
    names = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        names[".".join(parts)] = path
    return names


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports (anywhere in its body)."""
    modules = module_names()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    anchor = name.split(".") if is_package else name.split(".")[:-1]
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                    for alias in node.names
                ]
            graph[name] |= {t for t in targets if t in modules and t != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def connect(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return found


def test_the_walker_sees_function_level_and_relative_imports():
    graph = import_graph()
    assert "videossr.tasks.registry" in graph["videossr.tasks"]
    assert "videossr.tasks.base" in graph["videossr.tasks.registry"]
    # A toy graph with a cycle through a function-level import is reported.
    code = "def f():\n    from videossr.b import x\n"
    tree = ast.parse(code)
    assert [n.module for n in _imports(tree)] == ["videossr.b"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle_in_the_package():
    found = cycles(import_graph())
    for component in found:
        print("import cycle:", " <-> ".join(component))
    unexpected = [c for c in found if frozenset(c) not in ALLOWED]
    assert not unexpected, f"import cycles in videossr/: {unexpected}"
