"""Run a scripted evaluation into a store; the resume test SIGKILLs it midway.

Usage: python -m tests.eval.resume_worker STORE_PATH DELAY_SECONDS
"""

from __future__ import annotations

import sys
import time

from tests.conftest import answer, cell, depth_of
from thinktree.engines.scripted import ScriptedEngine
from thinktree.eval import Evaluation
from thinktree.grading import Grader
from thinktree.problems import Problem
from thinktree.reward import NullScorer
from thinktree.sandbox import Sandbox, SandboxConfig
from thinktree.search import SearchConfig, SearchContext
from thinktree.search.judge import GraderJudge
from thinktree.store import RunStore

PROBLEMS = [Problem(f"p{i}", f"What is {i} + {i}?", str(2 * i)) for i in range(6)]


def make_script(delay: float):
    def script(request, index):
        time.sleep(delay)
        n = int(request.prompt.rsplit("What is ", 1)[1].split(" ")[0])
        if depth_of(request.prompt) == 0:
            return cell(f"s = {n} + {n}\nprint(s)")
        return answer(str(2 * n if n != 3 else 7))  # problem 3 is answered wrongly

    return script


def main(store_path: str, delay: float) -> None:
    with (
        Sandbox(SandboxConfig(workers=1)) as sandbox,
        Grader(workers=1) as grader,
        RunStore(store_path) as store,
    ):
        ctx = SearchContext(
            ScriptedEngine(make_script(delay)),
            sandbox,
            SearchConfig(strategy="greedy"),
            GraderJudge(grader),
            NullScorer(),
        )
        evaluation = Evaluation(
            PROBLEMS,
            dataset="toy:test",
            dataset_hash="h",
            ctx=ctx,
            store=store,
            model_id={"name": "scripted"},
        )
        outcome = evaluation.run_all(window=1)
        print(outcome.run.id, outcome.summary["correct"], outcome.new_results, flush=True)


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]))
