"""Test-time search strategies over code-augmented steps."""

from thinktree.search.base import AnswerJudge, ProblemSearch, SearchContext
from thinktree.search.config import SearchConfig
from thinktree.search.driver import run_search
from thinktree.search.registry import STRATEGIES
from thinktree.search.result import SolveResult, Trajectory, Usage

__all__ = [
    "STRATEGIES",
    "AnswerJudge",
    "ProblemSearch",
    "SearchConfig",
    "SearchContext",
    "SolveResult",
    "Trajectory",
    "Usage",
    "run_search",
]
