"""Advance many problems' searches in lock step."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Protocol, runtime_checkable

from thinktree.problems import Problem
from thinktree.reward.base import step_scorer
from thinktree.search.base import ProblemSearch, SearchContext
from thinktree.search.expand import Expansion, StepExpander
from thinktree.search.registry import strategy_class
from thinktree.search.result import SolveResult

ResultHook = Callable[[SolveResult], None]
RoundHook = Callable[[list[ProblemSearch]], None]


@runtime_checkable
class ProblemFeed(Protocol):
    """Problems that arrive while the search runs (a Ray worker is fed by its driver)."""

    def take(self, n: int, *, wait: bool) -> list[Problem] | None:
        """Up to ``n`` problems available now; with ``wait``, block until there is one.

        None means no problem will come any more. ``wait`` is asked only when no
        search is active, so a feed that is empty for a moment never stalls the
        searches in flight.
        """
        ...


class _ListFeed:
    def __init__(self, problems: Iterable[Problem]) -> None:
        self._problems: Iterator[Problem] = iter(problems)

    def take(self, n: int, *, wait: bool) -> list[Problem] | None:
        taken = [p for _, p in zip(range(n), self._problems, strict=False)]
        return taken or None


def run_search(
    problems: Iterable[Problem] | ProblemFeed,
    ctx: SearchContext,
    *,
    window: int = 4,
    on_result: ResultHook | None = None,
    on_round: RoundHook | None = None,
    stop: Callable[[], bool] | None = None,
) -> list[SolveResult]:
    """Solve ``problems`` with ``ctx.config.strategy``, ``window`` problems at a time.

    Each round sends one batch of expansion requests across all active problems.
    Results come back (and ``on_result`` fires) as each problem finishes, so a
    caller can store them one by one; the returned list is in input order.
    When ``stop()`` turns true, searches still in flight are dropped (not
    returned) and no new problem starts. ``problems`` may be a
    :class:`ProblemFeed`, read as slots free up.
    """
    strategy = strategy_class(ctx.config.strategy)
    expander = StepExpander(ctx.engine, ctx.sandbox, ctx.config, step_scorer(ctx.scorer))
    feed = problems if isinstance(problems, ProblemFeed) else _ListFeed(problems)
    fed = True
    order: dict[str, int] = {}
    active: list[ProblemSearch] = []
    done: set[str] = set()  # problem ids: the driver's own record, not a strategy attribute
    results: list[SolveResult] = []

    def finish(search: ProblemSearch, reason: str) -> None:
        result = search.result(reason)
        done.add(search.problem.id)
        results.append(result)
        if on_result is not None:
            on_result(result)

    while fed or active:
        if stop is not None and stop():
            break
        free = max(1, window) - len(active)
        fresh = feed.take(free, wait=not active) if fed and free > 0 else []
        if fresh is None:
            fed = False
        for problem in fresh or ():
            order[problem.id] = len(order)
            prompt = strategy.build_prompt(
                problem.question, ctx.engine.render_chat, ctx.prompt_style
            )
            active.append(strategy(problem, prompt, ctx))
        wanted: list[tuple[ProblemSearch, list[Expansion]]] = []
        for search in active:
            reason = search.budget_exhausted()
            expansions = [] if reason else search.next_expansions()
            if not expansions:
                finish(search, reason or "done")
            else:
                wanted.append((search, expansions))
        active = [s for s in active if s.problem.id not in done]
        if not wanted:
            continue
        expander.expand([e for _, batch in wanted for e in batch])
        for search, batch in wanted:
            search.account(batch)
            search.absorb(batch)
        if on_round is not None:
            on_round(active)
    results.sort(key=lambda r: order[r.problem_id])
    return results
