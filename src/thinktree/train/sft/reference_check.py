"""Reference solutions run in the sandbox and judged: the trajectories that are kept.

Outputs come from the sandbox, never from the annotations: the ``result``
after ``=`` is not copied anywhere (it only decides whether a line is
well-formed), so a writer's slip can never enter a trajectory as an output.
Cells run as search runs them (:mod:`thinktree.search.expand`): each after the
earlier cells of its trajectory, the output cut by ``format_output``.
The usual float noise of ``/`` stays in outputs (``0.1 * 3`` prints
``0.30000000000000004``), as it would for a model's cell; the judge decides
whether the last one is the gold answer.
Why a solution is rejected is :class:`~thinktree.train.sft.reference.Rejection`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from thinktree.problems import Problem
from thinktree.search.base import AnswerJudge
from thinktree.search.expand import CellRunner, record_execution
from thinktree.steps import Step, StepKind, executed_cells
from thinktree.train.sft.reference import Rejection, convert_solution, reference_solution

EXEC_TIMEOUT = 10.0
"""Seconds per execution, as ``SearchConfig.exec_timeout``."""

BATCH_PROBLEMS = 256
"""Problems whose cells go to the sandbox in one ``run_batch`` call."""


@dataclass
class ConversionReport:
    """Kept trajectories by problem id (in input order) and the rejected problems."""

    trajectories: dict[str, list[Step]] = field(default_factory=dict)
    rejected: dict[str, Rejection] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return len(self.trajectories) + len(self.rejected)

    @property
    def converted(self) -> int:
        return len(self.trajectories)

    @property
    def counts(self) -> dict[Rejection, int]:
        """Rejections by reason, every reason listed (0 when none)."""
        counts = dict.fromkeys(Rejection, 0)
        for reason in self.rejected.values():
            counts[reason] += 1
        return counts

    def summary(self) -> str:
        """``"812 of 1000 converted (no-annotation 18, ...)"``."""
        reasons = ", ".join(f"{reason.value} {n}" for reason, n in self.counts.items())
        return f"{self.converted} of {self.total} converted ({reasons})"


def _execute(items: Sequence[list[Step]], runner: CellRunner, timeout: float) -> None:
    """Run every code step of every trajectory in one sandbox batch; fill outputs.

    Each cell runs after the earlier cells of its trajectory. All are sent at
    once, so a later cell also runs after an earlier one that raised; such a
    trajectory is rejected anyway.
    """
    pending: list[tuple[Step, list[str]]] = []
    for steps in items:
        for i, step in enumerate(steps):
            if step.kind is StepKind.CODE and step.code is not None:
                pending.append((step, [*executed_cells(steps[:i]), step.code]))
    if not pending:
        return
    outcomes = runner.run_batch([cells for _, cells in pending], timeout=timeout)
    for (step, _), outcome in zip(pending, outcomes, strict=True):
        record_execution(step, outcome, timeout, outcome.seconds)


def _verdict(steps: list[Step], gold: str, judge: AnswerJudge) -> Rejection | None:
    """Why executed steps are rejected, ``None`` when they are kept."""
    if any(s.kind is StepKind.ERROR for s in steps):
        return Rejection.CELL_ERROR
    executed = [s for s in steps if s.executed]
    if not executed:
        return Rejection.NO_ANNOTATION
    return None if judge.correct(executed[-1].output, gold) else Rejection.WRONG_ANSWER


def verify_reference(
    problem: Problem,
    steps: list[Step],
    runner: CellRunner,
    judge: AnswerJudge,
    timeout: float = EXEC_TIMEOUT,
) -> list[Step] | None:
    """Run ``steps`` (from :func:`reference_steps`) in the sandbox, filling each code
    step's ``output``, ``error`` and kind in place; ``steps`` when no cell raised and
    the last cell's output is the gold answer by ``judge``, else ``None``."""
    _, gold = reference_solution(problem)
    _execute([steps], runner, timeout)
    return steps if _verdict(steps, gold, judge) is None else None


def convert_references(
    problems: Sequence[Problem],
    runner: CellRunner,
    judge: AnswerJudge,
    progress: Callable[[int, int], None] | None = None,
    timeout: float = EXEC_TIMEOUT,
    batch_problems: int = BATCH_PROBLEMS,
) -> ConversionReport:
    """Convert and verify many reference solutions, ``batch_problems`` problems' cells
    per sandbox call; ``progress(done, total)`` after each call.

    Raises ValueError for a problem without a reference solution, before any
    cell runs.
    """
    converted = [(p, convert_solution(p)) for p in problems]
    report = ConversionReport()
    outcome: dict[str, list[Step] | Rejection] = {}
    for start in range(0, len(converted), batch_problems):
        chunk = converted[start : start + batch_problems]
        runnable = [(p, s) for p, s in chunk if not isinstance(s, Rejection)]
        _execute([s for _, s in runnable], runner, timeout)
        for problem, steps in chunk:
            if isinstance(steps, Rejection):
                outcome[problem.id] = steps
            else:
                reason = _verdict(steps, reference_solution(problem)[1], judge)
                outcome[problem.id] = steps if reason is None else reason
        if progress is not None:
            progress(min(start + batch_problems, len(converted)), len(converted))
    for problem_id, result in outcome.items():
        if isinstance(result, Rejection):
            report.rejected[problem_id] = result
        else:
            report.trajectories[problem_id] = result
    return report
