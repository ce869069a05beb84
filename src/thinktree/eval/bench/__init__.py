"""Benchmarks as data: a recipe (YAML) names the runs behind a figure and the
reports that write it; ``thinktree bench RECIPE`` runs it.

- :mod:`.recipe`: the recipe's schema, checked up front with one-line errors;
- :mod:`.runner`: finds or grows each run through :class:`thinktree.eval.Evaluation`
  (resumed by fingerprint), importing and exporting the recipe's run exports;
- :mod:`.report`: the generic summary and the results file;
- :mod:`.analyses`: the named report functions recipes list.

It lives in ``eval`` because it is evaluation driven by data: it needs the harness,
the store and the metrics, and nothing above them, so ``thinktree bench`` works from
an installed package, not only from a checkout.
"""

from __future__ import annotations

from pathlib import Path

from thinktree.eval.bench import recipe as _recipe
from thinktree.eval.bench.analyses import ANALYSES
from thinktree.eval.bench.recipe import Recipe, RecipeError
from thinktree.eval.bench.report import write_report
from thinktree.eval.bench.runner import RunStatus, run_recipe


def load_recipe(path: str | Path) -> Recipe:
    """Read and check a recipe file, its analyses among :data:`ANALYSES`
    (RecipeError, in one line, if it cannot be used)."""
    return _recipe.load_recipe(path, ANALYSES)


def parse_recipe(raw: object, origin: str = "recipe") -> Recipe:
    """Check a recipe's YAML data, its analyses among :data:`ANALYSES`."""
    return _recipe.parse_recipe(raw, origin, ANALYSES)


__all__ = [
    "ANALYSES",
    "Recipe",
    "RecipeError",
    "RunStatus",
    "load_recipe",
    "parse_recipe",
    "run_recipe",
    "write_report",
]
