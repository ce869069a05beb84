"""What the bench runner's tests fake: a clock they move by hand and a solver that
answers without a model (a subclass says how in ``solve``)."""

from __future__ import annotations

from collections.abc import Sequence

from thinktree.eval.harness import SolveHooks
from thinktree.problems import Problem
from thinktree.search import SearchConfig


class Clock:
    """Seconds that pass only when a fake solver says so."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class FakeSolver:
    """The solver interface the runner opens (its config, unscored); ``solve`` is the
    subclass's."""

    def __init__(self, config: SearchConfig) -> None:
        self._config = config

    @property
    def config(self) -> SearchConfig:
        return self._config

    @property
    def scored(self) -> bool:
        return False

    def solve(self, todo: Sequence[tuple[int, Problem]], window: int, hooks: SolveHooks) -> None:
        raise NotImplementedError
