"""The run viewer: HTML pages over the run store, served by ``thinktree serve`` and ``view``.

:mod:`thinktree.viewer.pages` holds the routes; what they show is computed by
:mod:`~thinktree.viewer.runs` (run summaries, problem filters),
:mod:`~thinktree.viewer.tree` (the search tree's layout),
:mod:`~thinktree.viewer.problem` (samples side by side),
:mod:`~thinktree.viewer.chart` (accuracy vs. tokens) and
:mod:`~thinktree.viewer.evolve` (an evolve directory's rounds).
"""

from __future__ import annotations

from thinktree.viewer.pages import PageError, Viewer, ViewerConfig, problem_url, run_url

__all__ = ["PageError", "Viewer", "ViewerConfig", "problem_url", "run_url"]
