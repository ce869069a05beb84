"""MCTS with a real model: the tree branches and its N/W bookkeeping adds up."""

from __future__ import annotations

import pytest

from thinktree.problems import Problem
from thinktree.reward import OutcomeScorer
from thinktree.search import SearchConfig, SearchContext, run_search
from thinktree.search.judge import GraderJudge
from thinktree.search.mcts import check_invariants, deserialize

pytestmark = pytest.mark.model

EASY = Problem("easy", "Tom has 3 boxes with 4 apples in each box. He eats 2 apples. "
               "How many apples are left?", "10")  # fmt: skip


def test_mcts_tree_branches_and_adds_up(fast_engine, sandbox, grader) -> None:
    config = SearchConfig(strategy="mcts", samples=2, k=3, temperature=1.0, seed=3,
                          max_step_tokens=128, max_steps=4)  # fmt: skip
    ctx = SearchContext(fast_engine, sandbox, config, GraderJudge(grader), OutcomeScorer())
    (result,) = run_search([EASY], ctx)
    root = deserialize(result.tree)
    assert check_invariants(root) == []
    assert len(root.children) >= 2  # k=3 samples at temperature 1 gave distinct first steps
    assert result.extra["rollouts"] >= 1
    terminals = [n for n in root.walk() if n.terminal]
    assert terminals and all(n.visits >= 1 for n in terminals)
    for node in root.walk():
        if node.terminal_reason == "answer":
            assert node.correct is not None
            assert node.value_sum == (1.0 if node.correct else -1.0)
    # Siblings share their parent's prompt: one evaluation, the rest from cache.
    assert result.usage.cached_tokens > result.usage.prompt_tokens
