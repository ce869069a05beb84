"""Named report functions a recipe lists (``reports[].analyses``).

Each takes a :class:`~thinktree.eval.bench.report.ReportContext` and returns the
keys it writes into the report's results file (``runs`` entries are merged by run
id). ``summary`` is the one every recipe uses; the others are the bespoke analyses
of one issue, kept as functions of stored results so any recipe can list them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from thinktree.eval.bench.analyses.evolve import evolve
from thinktree.eval.bench.analyses.evolve_default import evolve_default
from thinktree.eval.bench.analyses.issue5 import issue5
from thinktree.eval.bench.analyses.ppm_guided import ppm_guided
from thinktree.eval.bench.analyses.search18 import issue18
from thinktree.eval.bench.analyses.summary import by_arm, summary
from thinktree.eval.bench.analyses.verifier import verifier
from thinktree.eval.bench.analyses.verifier_bar import verifier_bar
from thinktree.eval.bench.context import ReportContext

Analysis = Callable[[ReportContext], dict[str, Any]]

ANALYSES: dict[str, Analysis] = {
    "summary": summary,
    "by_arm": by_arm,
    "issue5": issue5,
    "ppm_guided": ppm_guided,
    "search18": issue18,
    "evolve": evolve,
    "evolve_default": evolve_default,
    "verifier": verifier,
    "verifier_bar": verifier_bar,
}
