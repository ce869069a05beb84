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

from thinktree.eval.bench.recipe import Recipe, RecipeError, load_recipe, parse_recipe
from thinktree.eval.bench.report import write_report
from thinktree.eval.bench.runner import RunStatus, run_recipe

__all__ = [
    "Recipe",
    "RecipeError",
    "RunStatus",
    "load_recipe",
    "parse_recipe",
    "run_recipe",
    "write_report",
]
