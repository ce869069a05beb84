"""MCTS with a real model: the tree branches and its N/W bookkeeping adds up."""

from __future__ import annotations

import json

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


DETERMINISM = """
import json
from thinktree.api import open_runtime
from thinktree.engines.factory import EngineConfig
from thinktree.problems import Problem
from thinktree.search import SearchConfig, run_search
problem = Problem("easy", "Tom has 3 boxes with 4 apples in each box. How many apples?", "12")
config = SearchConfig(strategy="mcts", samples=2, k=2, temperature=0.0, seed=5, max_steps=4,
                      max_step_tokens=96)
with open_runtime(EngineConfig(model="fast", parallel=1, ctx_per_slot=2048)) as runtime:
    (result,) = run_search([problem], runtime.context(config))
nodes = [{k: v for k, v in n.items() if k != "step"} | {"text": (n["step"] or {}).get("text")}
         for n in result.tree["nodes"]]
print(json.dumps(nodes))
"""


def test_same_seed_same_tree_on_one_slot_at_temperature_0() -> None:
    import subprocess
    import sys

    runs = [
        subprocess.run([sys.executable, "-c", DETERMINISM], capture_output=True, text=True,
                       timeout=600, check=True).stdout
        for _ in range(2)
    ]  # fmt: skip
    assert runs[0] == runs[1]
    assert len(json.loads(runs[0])) >= 3
