"""The boundaries of train/'s packages, and the one door the viewer reads evolve by.

- the viewer imports nothing of ``thinktree.train`` but ``thinktree.train.evolve.results``;
- ``train.ppm``, ``train.sft`` and ``train.export`` never import ``train.evolve`` (the
  loop uses them, not the other way round);
- ``train.ppm`` and ``train.sft`` do not import each other.

Edges are every import statement, inside functions too (see test_imports).
"""

from __future__ import annotations

import ast

from tests.layout.test_imports import _under, import_graph

RESULTS = "thinktree.train.evolve.results"


def edges(graph: dict[str, set[str]], source: str, target: str) -> list[tuple[str, str]]:
    return sorted(
        (module, imported)
        for module, imported_modules in graph.items()
        if _under(module, source)
        for imported in imported_modules
        if _under(imported, target)
    )


def test_the_viewer_reads_train_through_the_evolve_results_only() -> None:
    graph = import_graph()
    wrong = [e for e in edges(graph, "thinktree.viewer", "thinktree.train") if e[1] != RESULTS]
    assert wrong == []
    assert ("thinktree.viewer.evolve", RESULTS) in edges(graph, "thinktree.viewer", RESULTS)


def test_the_capabilities_never_import_the_evolve_loop() -> None:
    graph = import_graph()
    for package in ("thinktree.train.ppm", "thinktree.train.sft", "thinktree.train.export"):
        assert edges(graph, package, "thinktree.train.evolve") == [], package


def test_ppm_and_sft_do_not_import_each_other() -> None:
    graph = import_graph()
    assert edges(graph, "thinktree.train.ppm", "thinktree.train.sft") == []
    assert edges(graph, "thinktree.train.sft", "thinktree.train.ppm") == []


def test_a_forbidden_edge_is_seen() -> None:
    graph = {"thinktree.train.sft.data": {"thinktree.train.ppm.pairs"}, "thinktree.x": set()}
    assert edges(graph, "thinktree.train.sft", "thinktree.train.ppm") == [
        ("thinktree.train.sft.data", "thinktree.train.ppm.pairs")
    ]


def test_train_names_no_strategy_by_a_string_of_its_own() -> None:
    """Strategy names come from thinktree.search.registry, so a rename reaches train."""

    from tests.layout.test_imports import ROOT
    from thinktree.search.registry import STRATEGIES

    found = sorted(
        (str(path.relative_to(ROOT)), node.lineno)
        for path in (ROOT / "thinktree" / "train").rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and node.value in STRATEGIES
    )
    assert found == []
