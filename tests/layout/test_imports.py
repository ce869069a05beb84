"""The import graph of src/thinktree: no circle, counting imports inside functions.

Every ``import`` statement of every module is an edge, wherever it stands (a
lazy import inside a function still makes one module depend on another), to the
module it names: ``from thinktree.a import b`` is an edge to ``thinktree.a.b``
when that is a module, else to ``thinktree.a``. Importing a submodule also runs
its package's ``__init__``, but that is how packages work, not a dependency of
the importer, so it is not an edge.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "src"


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    modules = {module_name(p, root): p for p in (root / "thinktree").rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                    base = f"{anchor}.{base}" if base else anchor
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                    for alias in node.names
                ]
            graph[name] |= {t for t in targets if t in modules and t != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One circle per strongly connected component of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
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
            visit(v)
    return found


def test_the_graph_sees_imports_inside_functions() -> None:
    graph = import_graph()
    # cli/solve_cmd.py imports the API only inside its command function.
    assert "thinktree.api" in graph["thinktree.cli.solve_cmd"]
    assert "thinktree.search.registry" in graph["thinktree.search.driver"]


def test_no_import_circle_in_src_thinktree() -> None:
    assert cycles(import_graph()) == []


def test_a_circle_is_found() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


MUST_NOT = {
    # DESIGN.md's layers: imports run cli/server -> eval/train -> search -> engines,
    # sandbox, reward, grading, steps -> problems and core types.
    "thinktree.grading": ("thinktree.search", "thinktree.engines", "thinktree.reward"),
    "thinktree.engines": ("thinktree.steps", "thinktree.search", "thinktree.reward"),
    "thinktree.embedding": ("thinktree.reward", "thinktree.search"),
    "thinktree.steps": ("thinktree.engines", "thinktree.search", "thinktree.reward"),
    "thinktree.reward": ("thinktree.search", "thinktree.eval", "thinktree.train"),
    "thinktree.search": ("thinktree.eval", "thinktree.train", "thinktree.store"),
    "thinktree.eval": ("thinktree.train",),
}


def _under(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _top_layer_import(module: str, target: str) -> bool:
    """Nothing imports cli (but the entry point) or server (but cli)."""
    if _under(target, "thinktree.cli"):
        return not _under(module, "thinktree.cli") and module != "thinktree.__main__"
    if _under(target, "thinktree.server"):
        return not _under(module, "thinktree.server") and not _under(module, "thinktree.cli")
    return False


def test_no_import_from_a_higher_layer() -> None:
    graph = import_graph()
    wrong = sorted(
        (module, target)
        for module, targets in graph.items()
        for target in targets
        if _top_layer_import(module, target)
        or any(
            _under(module, package) and any(_under(target, f) for f in forbidden)
            for package, forbidden in MUST_NOT.items()
        )
    )
    assert wrong == []
