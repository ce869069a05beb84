"""The evaluation harness: resume after SIGKILL, clean stop, growth of a run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.eval.resume_worker import PROBLEMS, make_script
from thinktree.engines.scripted import ScriptedEngine
from thinktree.eval import Evaluation
from thinktree.reward import NullScorer
from thinktree.search import SearchConfig, SearchContext
from thinktree.search.judge import GraderJudge
from thinktree.search.mcts.search import MCTSSearch
from thinktree.store import RunStore

ROOT = Path(__file__).resolve().parents[2]


def _count(path: Path) -> int:
    with RunStore(path) as store:
        runs = store.list_runs()
        return store.count_results(runs[0].id) if runs else 0


def test_sigkill_mid_run_then_resume(tmp_path: Path) -> None:
    db = tmp_path / "runs.db"
    cmd = [sys.executable, "-m", "tests.eval.resume_worker", str(db), "0.25"]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not db.exists() or _count(db) < 2):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    stored = _count(db)
    assert 2 <= stored < len(PROBLEMS)
    with RunStore(db) as store:
        killed = store.list_runs()[0]
        before = store.results(killed.id)
    # The killed sitting's time is not lost: it was written with each result.
    killed_wall = killed.metrics["wall_seconds"]
    assert killed_wall >= 0.25 * 2
    out = subprocess.run(
        [sys.executable, "-m", "tests.eval.resume_worker", str(db), "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    run_id, correct, new = out.stdout.split()
    assert (int(correct), int(new)) == (5, len(PROBLEMS) - stored)
    with RunStore(db) as store:
        runs = store.list_runs()
        assert [r.id for r in runs] == [run_id]  # the same run, resumed
        rows = store.results(run_id)
        assert sorted(r.problem_id for r in rows) == sorted(p.id for p in PROBLEMS)
        assert rows[: len(before)] == before  # nothing stored was touched
        assert runs[0].status == "complete"
        assert runs[0].metrics["correct"] == 5
        assert runs[0].metrics["wall_seconds"] > killed_wall
        assert runs[0].metrics["seconds"] == runs[0].metrics["wall_seconds"]


class FakeClock:
    """A wall clock that moves only when the scripted engine answers."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def ticking(self, script, seconds: float):
        def ticked(request, index):
            self.now += seconds
            return script(request, index)

        return ticked


def _evaluation(store: RunStore, sandbox, grader, problems, delay=0.0, clock=None, **config):
    script = make_script(delay) if clock is None else clock.ticking(make_script(0.0), 0.25)
    ctx = SearchContext(
        ScriptedEngine(script),
        sandbox,
        SearchConfig(**{"strategy": "greedy", **config}),
        GraderJudge(grader),
        NullScorer(),
    )
    return Evaluation(
        problems,
        dataset="toy:test",
        dataset_hash="h",
        ctx=ctx,
        store=store,
        model_id={"name": "scripted"},
        **({} if clock is None else {"clock": clock}),
    )


def test_max_minutes_stops_cleanly_and_resumes(tmp_path: Path, sandbox, grader) -> None:
    """Every engine answer takes 0.25 s of a fake clock: a greedy problem (a cell, then
    the answer) costs 0.5 s, exactly, however busy the machine is."""
    clock = FakeClock()
    with RunStore(tmp_path / "runs.db") as store:
        first = _evaluation(store, sandbox, grader, PROBLEMS, clock=clock)
        walls: list[float] = []
        record_wall = lambda row: walls.append(store.get_run(first.run.id).metrics["wall_seconds"])  # noqa: E731
        # 0.6 s: p0 is stored at 0.5 s; p1 has had one answer (0.75 s) when the stop comes.
        outcome = first.run_all(window=1, max_minutes=0.6 / 60, on_result=record_wall)
        # The run's wall time stops at its last stored result: the search the stop
        # dropped is redone on resume, so its seconds would be counted twice.
        assert walls == [0.5] and outcome.run.metrics["wall_seconds"] == 0.5
        assert outcome.stopped and outcome.run.status == "stopped"
        assert [r.problem_id for r in outcome.rows] == ["p0"]
        assert clock.now == 0.75
        again = _evaluation(store, sandbox, grader, PROBLEMS, clock=clock)
        assert again.plan().resumed and again.plan().done == 1
        final = again.run_all(window=2)
        assert not final.stopped and len(final.rows) == len(PROBLEMS)
        assert final.new_results == len(PROBLEMS) - 1
        assert final.summary["accuracy"] == 5 / 6
        # Wall time adds up over both sittings: 0.5 s, then p1..p5 two at a time
        # (0.5 s a round of two answers, two rounds a pair: 1 s a pair, 0.5 s for p5).
        assert final.run.metrics["wall_seconds"] == 0.5 + 2.5
        # Seconds per problem is wall time.
        assert final.run.metrics["seconds_per_problem"] == 3.0 / len(PROBLEMS)


def test_run_grows_with_a_larger_slice_and_config_changes_make_new_runs(
    tmp_path: Path, sandbox, grader
) -> None:
    with RunStore(tmp_path / "runs.db") as store:
        small = _evaluation(store, sandbox, grader, PROBLEMS[:2]).run_all()
        grown = _evaluation(store, sandbox, grader, PROBLEMS[:4])
        plan = grown.plan()
        assert plan.run.id == small.run.id and len(plan.todo) == 2
        outcome = grown.run_all()
        assert [r.problem_id for r in outcome.rows] == ["p0", "p1", "p2", "p3"]
        other = _evaluation(store, sandbox, grader, PROBLEMS[:2], seed=1)
        assert other.run.id != small.run.id
        manifest = other.run.manifest
        assert manifest["seed"] == 1 and manifest["dataset_hash"] == "h"
        assert "xllamacpp" in manifest["packages"]


def test_a_run_stored_at_a_former_default_temperature_is_found(
    tmp_path: Path, sandbox, grader, monkeypatch
) -> None:
    """MCTS's runs stored while its default was 0.7 wrote a null temperature: asking for
    0.7 grows such a run, and the new default (1.0) makes a run of its own. Full
    expansion: a lazy search resolves its temperature to 0.7 itself."""
    mcts = {"strategy": "mcts", "samples": 1, "k": 1, "expand": "all"}
    with RunStore(tmp_path / "runs.db") as store:
        with monkeypatch.context() as before:
            before.setattr(MCTSSearch, "default_temperature", 0.7)
            before.setattr(MCTSSearch, "stored_default_temperature", None)
            old = _evaluation(store, sandbox, grader, PROBLEMS[:2], **mcts).run_all()
        assert old.run.config["search"]["temperature"] is None
        at_former = _evaluation(store, sandbox, grader, PROBLEMS[:4], temperature=0.7, **mcts)
        assert at_former.run.id == old.run.id and len(at_former.plan().todo) == 2
        default = _evaluation(store, sandbox, grader, PROBLEMS[:2], **mcts)
        assert default.run.id != old.run.id
        assert default.run.config["search"]["temperature"] == 1.0
