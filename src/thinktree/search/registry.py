"""Strategies by name. Adding one: a module with a ProblemSearch subclass, one line here."""

from __future__ import annotations

from thinktree.search.base import ProblemSearch
from thinktree.search.beam import BeamSearch
from thinktree.search.greedy import GreedySearch
from thinktree.search.mcts.search import MCTSSearch
from thinktree.search.sampling import BestOfNSearch, SelfConsistencySearch

STRATEGIES: dict[str, type[ProblemSearch]] = {
    "greedy": GreedySearch,
    "sc": SelfConsistencySearch,
    "best_of_n": BestOfNSearch,
    "beam": BeamSearch,
    "mcts": MCTSSearch,
}
