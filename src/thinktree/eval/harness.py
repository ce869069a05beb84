"""Evaluate a strategy on a slice of problems, resumably, into the run store.

The same command run twice finds its run by fingerprint (data set, strategy
config, model, scorer; not the slice) and only solves what is missing, so a run
can be resumed after a kill and grown to a larger slice later. A problem's
result is stored in one transaction as soon as it is solved.

Who searches is a :class:`ProblemSolver`: :class:`LocalSolver` in this process,
or the Ray fan-out (:mod:`thinktree.eval.fanout`), whose workers hand back
finished rows; either way this process alone writes the store.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from thinktree.eval.manifest import build_manifest
from thinktree.eval.metrics import summarize
from thinktree.grading.voting import answer_classes
from thinktree.problems import Problem
from thinktree.reward.base import is_scored
from thinktree.search import AnswerJudge, SearchConfig, SolveResult, run_search
from thinktree.search.base import ProblemSearch, SearchContext
from thinktree.search.identity import run_identity, stored_aliases
from thinktree.search.registry import budget_label, resolved, strategy_class
from thinktree.store import ResultRow, RunRecord, RunStore

# Rough generated tokens per trajectory, used only for the up-front estimate
# until the run has results of its own.
TOKENS_PER_TRAJECTORY = {"gsm8k": 150, "math500": 400}
DEFAULT_TOKENS_PER_TRAJECTORY = 450


@dataclass
class EvalPlan:
    run: RunRecord
    todo: list[Problem]
    done: int
    estimated_tokens: int
    estimated_seconds: float
    resumed: bool


@dataclass
class EvalOutcome:
    run: RunRecord
    rows: list[ResultRow]
    summary: dict[str, Any]
    stopped: bool
    new_results: int


def fingerprint(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def estimate_tokens_per_problem(
    config: SearchConfig, dataset: str, prior: Sequence[ResultRow]
) -> float:
    if prior:
        return sum(r.generated_tokens for r in prior) / len(prior)
    base = TOKENS_PER_TRAJECTORY.get(dataset.split(":")[0], DEFAULT_TOKENS_PER_TRAJECTORY)
    return base * strategy_class(config.strategy).trajectories(config)


def sample_record(
    answers: list[str | None], gold: str | None, judge: AnswerJudge
) -> dict[str, Any]:
    """Per-sample answers, their equivalence classes and correctness (for pass@k, maj@k)."""
    ids = answer_classes(answers, judge.same)
    names: dict[int, str] = {}
    for answer, class_id in zip(answers, ids, strict=True):
        if answer is not None:
            names.setdefault(class_id, answer)  # a class is named by its first member
    classes = [c if c >= 0 else None for c in ids]
    class_correct = {
        str(i): (gold is not None and judge.correct(name, gold)) for i, name in names.items()
    }
    correct = [cls is not None and class_correct[str(cls)] for cls in classes]
    return {
        "answers": answers,
        "classes": classes,
        "class_correct": class_correct,
        "correct": correct,
    }


def verdict(answer: str | None, gold: str | None, judge: AnswerJudge) -> bool | None:
    """A problem's correctness: unknown without gold, wrong without an answer."""
    if gold is None:
        return None
    return answer is not None and judge.correct(answer, gold)


def result_row(
    result: SolveResult, problem: Problem, position: int, judge: AnswerJudge
) -> ResultRow:
    gold = problem.answer
    correct = verdict(result.answer, gold, judge)
    return ResultRow(
        problem_id=problem.id,
        position=position,
        question=problem.question,
        gold=gold,
        answer=result.answer,
        correct=correct,
        generated_tokens=result.usage.generated_tokens,
        prompt_tokens=result.usage.prompt_tokens,
        cached_tokens=result.usage.cached_tokens,
        seconds=result.seconds,
        stop_reason=result.stop_reason,
        samples=sample_record(result.sample_answers, gold, judge),
        votes=result.votes,
        trajectories=[t.to_dict() for t in result.trajectories],
        extra={**result.extra, "usage": result.usage.to_dict()},
    )


@dataclass(frozen=True)
class SolvedProblem:
    """A problem's row as it will be stored, with its tree (MCTS) if any."""

    row: ResultRow
    tree: dict[str, Any] | None = None


@dataclass(frozen=True)
class SolveHooks:
    """What a solver calls back: each finished problem, each search round, and when to stop.

    ``on_round`` sees the rounds of searches run in this process only.
    """

    on_solved: Callable[[SolvedProblem], None]
    on_round: Callable[[list[ProblemSearch]], None] | None = None
    stop: Callable[[], bool] | None = None

    def stopped(self) -> bool:
        return self.stop is not None and self.stop()


class ProblemSolver(Protocol):
    """Searches problems and hands back their rows, each as soon as it is done."""

    @property
    def config(self) -> SearchConfig: ...

    @property
    def scored(self) -> bool:
        """Whether a scorer guides the search (part of the run's identity)."""
        ...

    def solve(self, todo: Sequence[tuple[int, Problem]], window: int, hooks: SolveHooks) -> None:
        """Solve ``(position, problem)`` pairs; once ``hooks.stopped()``, drop the rest."""
        ...


class LocalSolver:
    """The search in this process: lock-step batches over ``ctx``'s engine."""

    def __init__(self, ctx: SearchContext) -> None:
        self.ctx = ctx

    @property
    def config(self) -> SearchConfig:
        return resolved(self.ctx.config, self.scored)

    @property
    def scored(self) -> bool:
        return is_scored(self.ctx.scorer)

    def solve(self, todo: Sequence[tuple[int, Problem]], window: int, hooks: SolveHooks) -> None:
        positions = {p.id: (i, p) for i, p in todo}

        def solved(result: SolveResult) -> None:
            position, problem = positions[result.problem_id]
            row = result_row(result, problem, position, self.ctx.judge)
            hooks.on_solved(SolvedProblem(row, result.tree))

        run_search(
            [p for _, p in todo],
            self.ctx,
            window=window,
            on_result=solved,
            on_round=hooks.on_round,
            stop=hooks.stop,
        )


class Evaluation:
    """One evaluation: plan (find or create the run), then run it."""

    def __init__(
        self,
        problems: Sequence[Problem],
        *,
        dataset: str,
        dataset_hash: str,
        ctx: SearchContext | None = None,
        store: RunStore,
        model_id: dict[str, Any],
        scorer_id: str = "none",
        kind: str = "eval",
        new_run: bool = False,
        run_id: str | None = None,
        tokens_per_second: float = 12.0,
        clock: Callable[[], float] = time.monotonic,
        solver: ProblemSolver | None = None,
    ) -> None:
        """``run_id`` adopts that stored run (resumed and grown whatever its
        fingerprint, as long as its data set matches) instead of looking one up.
        Give ``ctx`` to search in this process, or a ``solver`` (e.g. Ray workers).
        ``clock`` measures the sitting's wall time and ``max_minutes`` (a test's own
        clock makes both exact)."""
        if solver is None:
            if ctx is None:
                raise TypeError("Evaluation needs ctx or a solver")
            solver = LocalSolver(ctx)
        if not problems:
            raise ValueError("the slice holds no problems; check --offset/--limit")
        ids = [p.id for p in problems]
        if len(set(ids)) != len(ids):
            raise ValueError("problem ids in the data are not unique; give --id-field")
        self.problems = list(problems)
        self.dataset = dataset
        self.ctx = ctx
        self.solver: ProblemSolver = solver
        self.store = store
        search_config = self.solver.config
        # Fields added later are left out at their old behaviour, so old runs resume.
        config = run_identity(search_config, scored=self.solver.scored)
        identity = {
            "dataset": dataset,
            "dataset_hash": dataset_hash,
            "search": config,
            "model": model_id,
            "scorer": scorer_id,
            "kind": kind,
        }
        fp = fingerprint(identity)
        if run_id is not None:
            run = store.get_run(run_id)
            if run.dataset != dataset:
                raise ValueError(
                    f"run {run.id} searched {run.dataset}, not {dataset}; adopt a run of the "
                    "same data set"
                )
        elif not new_run:
            run = store.find_run(fp)
            for alias in stored_aliases(search_config, scored=self.solver.scored):
                run = run or store.find_run(fingerprint({**identity, "search": alias}))
        else:
            run = None
        self.resumed = run is not None
        if run is None:
            manifest = build_manifest(
                config={**identity},
                model=str(model_id.get("name")),
                model_sha256=model_id.get("sha256"),
                dataset=dataset,
                dataset_hash=dataset_hash,
                seed=search_config.seed,
            )
            size = budget_label(search_config.strategy, search_config.model_dump())
            run_name = f"{dataset.replace(':', '-')}-{search_config.strategy}{size}-{fp[:6]}"
            run = store.create_run(
                run_name,
                fingerprint=fp,
                kind=kind,
                dataset=dataset,
                strategy=search_config.strategy,
                model=str(model_id.get("name")),
                config=identity,
                manifest=manifest,
            )
        self.run = run
        self.tokens_per_second = tokens_per_second
        self.clock = clock

    def plan(self) -> EvalPlan:
        done_ids = self.store.done_problem_ids(self.run.id)
        todo = [p for p in self.problems if p.id not in done_ids]
        prior = self.store.results(self.run.id)
        per_problem = estimate_tokens_per_problem(self.solver.config, self.dataset, prior)
        tokens = int(per_problem * len(todo))
        wall = float(self.run.metrics.get("wall_seconds", 0.0))
        if prior and wall > 0:
            seconds = wall / len(prior) * len(todo)
        else:
            seconds = tokens / max(self.tokens_per_second, 1e-6)
        return EvalPlan(
            self.run, todo, len(self.problems) - len(todo), tokens, seconds, self.resumed
        )

    def run_all(
        self,
        *,
        window: int = 4,
        max_minutes: float | None = None,
        on_result: Callable[[ResultRow], None] | None = None,
        on_round: Callable[[list[Any]], None] | None = None,
    ) -> EvalOutcome:
        plan = self.plan()
        positions = {p.id: i for i, p in enumerate(self.problems)}
        started = self.clock()
        deadline = None if max_minutes is None else started + 60 * max_minutes
        new_results = 0
        # Wall time adds up across sittings; it is written with every result so
        # that a killed sitting still counts the time its stored results took.
        metrics = dict(self.store.get_run(self.run.id).metrics)
        wall_before = float(metrics.get("wall_seconds", 0.0))

        def wall() -> float:
            return wall_before + self.clock() - started

        self.store.update_run(self.run.id, status="running")

        def store_result(solved: SolvedProblem) -> None:
            nonlocal new_results
            row = solved.row
            if self.store.add_result(self.run.id, row, solved.tree):
                new_results += 1
                metrics["wall_seconds"] = wall()
                self.store.update_run(self.run.id, metrics=metrics)
            if on_result is not None:
                on_result(row)

        def should_stop() -> bool:
            return deadline is not None and self.clock() >= deadline

        self.solver.solve(
            [(positions[p.id], p) for p in plan.todo],
            window,
            SolveHooks(store_result, on_round, should_stop),
        )
        done_ids = self.store.done_problem_ids(self.run.id)
        stopped = any(p.id not in done_ids for p in self.problems)
        all_rows = self.store.results(self.run.id)
        wanted = {p.id for p in self.problems}
        rows = [r for r in all_rows if r.problem_id in wanted]
        # The wall clock as of the last stored result: time spent on searches a
        # stop dropped is not counted, since a resumed sitting redoes them.
        total_wall = float(metrics.get("wall_seconds", wall_before))
        self.store.update_run(
            self.run.id,
            status="stopped" if stopped else "complete",
            metrics=summarize(all_rows, wall_seconds=total_wall),
        )
        self.run = self.store.get_run(self.run.id)
        slice_wall = total_wall * len(rows) / len(all_rows) if all_rows else 0.0
        return EvalOutcome(
            self.run, rows, summarize(rows, wall_seconds=slice_wall), stopped, new_results
        )
