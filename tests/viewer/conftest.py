"""A run store for the viewer tests: one real run (imported from data/) and a few written here.

- ``REAL_RUN``: the fast 0.5B's MCTS on two GSM8K problems (see data/README.md);
- ``SC_RUN``: self-consistency on three problems, one right, one wrong and one
  unanswered whose question, step code and output hold ``HOSTILE`` markup;
- ``TREE_RUN``: an MCTS tree whose nodes hold ``HOSTILE`` code and a markup answer;
- ``LIVE_RUN``: a run still being searched (status ``running``), one result so far.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from thinktree.eval.metrics import summarize
from thinktree.store import ResultRow, RunRecord, RunStore, import_run

DATA = Path(__file__).parent / "data"
REAL_EXPORT = DATA / "fast-mcts-gsm8k.jsonl.gz"
REAL_RUN = "gsm8k-test-mcts4-429c74"
REAL_PROBLEM = "gsm8k/test/4"
SC_RUN = "gsm8k-test-sc3-viewer"
TREE_RUN = "chat-mcts-viewer"
LIVE_RUN = "gsm8k-test-greedy-live"
HOSTILE = "<script>window.pwned = 1</script>"
HOSTILE_PROBLEM = "p<1>&2"
CREATED = 1_700_000_000.0


def step(kind: str = "code", *, code: str | None = None, output: str = "",
         error: str | None = None, answer: str | None = None, tokens: int = 7) -> dict[str, Any]:  # fmt: skip
    text = f"\n```python\n{code}\n```\n" if code else f"\nAnswer: \\boxed{{{answer}}}"
    return {"text": text, "kind": kind, "code": code, "output": output, "error": error,
            "answer": answer, "tokens": tokens, "mean_logprob": None, "finish_reason": "stop",
            "exec_seconds": 0.01 if code else 0.0}  # fmt: skip


def node(node_id: int, parent: int | None, depth: int, the_step: dict[str, Any] | None,
         visits: int, q: float, *, answer: str | None = None, correct: bool | None = None,
         score: float | None = None, reason: str | None = None) -> dict[str, Any]:  # fmt: skip
    return {"id": node_id, "parent": parent, "depth": depth, "step": the_step, "visits": visits,
            "value_sum": q * visits, "q": q, "local_visits": visits, "local_value": q,
            "terminal": reason is not None, "terminal_reason": reason, "answer": answer,
            "score": score, "expanded": reason is None, "correct": correct}  # fmt: skip


def result(problem_id: str, position: int, *, answer: str | None, correct: bool | None,
           tokens: int, seconds: float, question: str = "How many?", gold: str | None = "5",
           trajectories: list[dict[str, Any]] | None = None,
           samples: dict[str, Any] | None = None) -> ResultRow:  # fmt: skip
    return ResultRow(problem_id, position, question, gold, answer, correct, tokens, 100, 50,
                     seconds, "done", samples or {}, {}, trajectories or [], {})  # fmt: skip


def add_run(store: RunStore, run_id: str, strategy: str, rows: list[ResultRow], *,
            status: str = "complete", created: float = CREATED, dataset: str = "gsm8k:test",
            samples: int = 3, trees: dict[str, dict[str, Any]] | None = None) -> None:  # fmt: skip
    metrics = summarize(rows, wall_seconds=sum(r.seconds for r in rows))
    store.add_run(
        RunRecord(
            id=run_id, fingerprint=run_id, kind="eval", created=created, updated=created,
            status=status, dataset=dataset, strategy=strategy, model="qwen2.5-coder-0.5b-instruct",
            config={"search": {"samples": samples}, "scorer": "none"}, manifest={},
            metrics=metrics if status == "complete" else {},
        )
    )  # fmt: skip
    for row in rows:
        store.add_result(run_id, row, (trees or {}).get(row.problem_id))


def sc_rows() -> list[ResultRow]:
    def sample(answer: str | None, code: str, output: str) -> dict[str, Any]:
        steps = [step(code=code, output=output)]
        if answer is not None:
            steps.append(step("final", answer=answer))
        return {"steps": steps, "answer": answer, "value": None}

    graded = {"answers": ["5", "5", "7"], "classes": [0, 0, 1],
              "class_correct": {"0": True, "1": False}, "correct": [True, True, False]}  # fmt: skip
    return [
        result("p-right", 0, answer="5", correct=True, tokens=30, seconds=2.0, samples=graded,
               trajectories=[sample("5", "x = 2 + 3\nprint(x)", "5"),
                             sample("5", "print(10 // 2)", "5"),
                             sample("7", "print(3 + 4)", "7")]),
        result("p-wrong", 1, answer="7", correct=False, tokens=50, seconds=1.0,
               trajectories=[sample("7", "print(7)", "7")],
               samples={"answers": ["7"], "classes": [0], "class_correct": {"0": False},
                        "correct": [False]}),
        result(HOSTILE_PROBLEM, 2, answer=None, correct=False, tokens=10, seconds=3.0,
               question=f"What does {HOSTILE} print?",
               trajectories=[sample(None, f"print('{HOSTILE}')", HOSTILE),
                             sample(None, "raise ValueError('<b>bold</b>')", "")],
               samples={"answers": [None, None], "classes": [None, None], "class_correct": {},
                        "correct": [False, False]}),
    ]  # fmt: skip


def hostile_tree() -> dict[str, Any]:
    return {
        "nodes": [
            node(0, None, 0, None, 3, 0.2),
            node(1, 0, 1, step(code=f"print('{HOSTILE}')", output=HOSTILE), 2, 0.5, score=0.9),
            node(2, 1, 2, step("final", answer="<b>9</b>"), 1, 1.0, answer="<b>9</b>",
                 correct=False, reason="answer"),
            node(3, 0, 1, step("error", code="1/0", error="ZeroDivisionError: division by zero"),
                 1, -1.0, reason="errors"),
        ]
    }  # fmt: skip


def build_store(path: Path) -> Path:
    """The viewer tests' store at ``path`` (see the module doc)."""
    with RunStore(path) as store:
        report = import_run(store, REAL_EXPORT)
        assert (report.run_id, report.added) == (REAL_RUN, 2)
        add_run(store, SC_RUN, "sc", sc_rows(), created=CREATED + 1)
        tree_row = result("q1", 0, answer="<b>9</b>", correct=False, tokens=12, seconds=0.5,
                          question=f"Solve {HOSTILE}", gold=None,
                          trajectories=[{"steps": [hostile_tree()["nodes"][1]["step"],
                                                   hostile_tree()["nodes"][2]["step"]],
                                         "answer": "<b>9</b>", "value": 1.0}])  # fmt: skip
        add_run(store, TREE_RUN, "mcts", [tree_row], created=CREATED + 2, dataset="chat",
                trees={"q1": hostile_tree()})  # fmt: skip
        add_run(store, LIVE_RUN, "greedy", [live_row(0)], status="running", created=CREATED + 3)
    return path


def live_row(position: int) -> ResultRow:
    return result(f"live-{position}", position, answer="5", correct=True, tokens=20 + position,
                  seconds=1.0, trajectories=[{"steps": [step("final", answer="5")],
                                              "answer": "5", "value": None}])  # fmt: skip


@pytest.fixture(scope="module")
def store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_store(tmp_path_factory.mktemp("viewer") / "runs.db")
