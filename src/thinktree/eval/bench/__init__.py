"""Benchmarks as data: a recipe (YAML) names the runs behind a figure and the
reports that write it; ``thinktree bench RECIPE`` runs it.

- :mod:`.recipe`: the recipe's schema, checked up front with one-line errors;
- :mod:`.runner`: finds or grows each run through :class:`thinktree.eval.Evaluation`
  (resumed by fingerprint), importing and exporting the recipe's run exports;
- :mod:`.report`: the generic summary and the results file;
- :mod:`.analyses`: the named report functions recipes list;
- :mod:`.probes`: the measurements a recipe's ``probe`` names (timing a component),
  which write their own results files.

It lives in ``eval`` because it is evaluation driven by data: it needs the harness,
the store and the metrics, and nothing above them, so ``thinktree bench`` works from
an installed package, not only from a checkout.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel

from thinktree.eval.bench import recipe as _recipe
from thinktree.eval.bench.analyses import ANALYSES
from thinktree.eval.bench.probes import PROBES, Probe
from thinktree.eval.bench.recipe import Recipe, RecipeError
from thinktree.eval.bench.report import write_report
from thinktree.eval.bench.runner import RunStatus, run_recipe


def option_models(probes: Mapping[str, Probe] | None) -> dict[str, type[BaseModel]]:
    """Each probe's options model by name (default: :data:`PROBES`, this layer's)."""
    return {name: probe.options for name, probe in (PROBES if probes is None else probes).items()}


def load_recipe(path: str | Path, probes: Mapping[str, Probe] | None = None) -> Recipe:
    """Read and check a recipe file, its analyses among :data:`ANALYSES` and its probe
    among ``probes`` (default :data:`PROBES`; ``thinktree bench`` passes every layer's);
    RecipeError, in one line, if it cannot be used."""
    return _recipe.load_recipe(path, ANALYSES, option_models(probes))


def parse_recipe(
    raw: object, origin: str = "recipe", probes: Mapping[str, Probe] | None = None
) -> Recipe:
    """Check a recipe's YAML data, its analyses among :data:`ANALYSES`."""
    return _recipe.parse_recipe(raw, origin, ANALYSES, option_models(probes))


__all__ = [
    "ANALYSES",
    "PROBES",
    "Recipe",
    "RecipeError",
    "RunStatus",
    "load_recipe",
    "option_models",
    "parse_recipe",
    "run_recipe",
    "write_report",
]
