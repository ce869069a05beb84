"""Scored selection over stored samples: score a run's finished trajectories, pick by a rule.

``rescore`` turns a stored run of independent samples (a strategy that declares
``independent_samples``: ``sc``, ``best_of_n``) into a ``best_of_n`` run whose answer
per problem is the one a selection rule (:mod:`thinktree.search.selection`) picks
from the scorer's values of the very samples the source run drew: ``best``, the
best-scored sample (best-of-N's own rule, the default), or ``weighted``, the class of
equivalent answers whose shifted scores add up highest. The rule is then the only
difference between the two runs, and no token is generated again. The new run is
resumable like any other and records its source in its config, and its rule where it
is not ``best`` (so runs rescored before rules were named keep their ids); its token
counts are the source's (generation), its seconds add the scoring time. A problem that
another rule's run already rescored by the same scorer is not scored again: its values
are taken from that run (the rule is then truly the only difference), and so are its
scoring seconds, which the run's seconds add as if it had scored them itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from thinktree.eval.harness import fingerprint, sample_record, verdict
from thinktree.eval.metrics import summarize
from thinktree.eval.rescore_config import RESCORE_RULES
from thinktree.reward.base import ScoreItem, StepScorer
from thinktree.search import AnswerJudge, Trajectory
from thinktree.search.registry import STRATEGIES, strategy_class, strategy_name
from thinktree.search.sampling import BestOfNSearch
from thinktree.search.selection import SELECTIONS
from thinktree.store import ResultRow, RunRecord, RunStore


def rescore(
    store: RunStore,
    source_id: str,
    scorer: StepScorer,
    scorer_id: str,
    judge: AnswerJudge,
    on_result: Callable[[ResultRow], None] | None = None,
    select: str = RESCORE_RULES[0],
) -> RunRecord:
    if select not in RESCORE_RULES:
        raise ValueError(f"unknown selection rule {select!r}; use {' or '.join(RESCORE_RULES)}")
    source = store.get_run(source_id)
    if not strategy_class(source.strategy).independent_samples:
        sampling = ", ".join(n for n, s in STRATEGIES.items() if s.independent_samples)
        raise ValueError(
            f"run {source.id} is {source.strategy}; rescoring needs a sampling run ({sampling})"
        )
    strategy = strategy_name(BestOfNSearch)
    BestOfNSearch.check_scorer(strategy, scorer)
    identity = rescored_identity(source, scorer_id, select)
    chosen = {} if select == RESCORE_RULES[0] else {"select": select}
    fp = fingerprint(identity)
    tag = "bon" if not chosen else select
    run = store.find_run(fp) or store.create_run(
        f"{source.id}-{tag}-{fp[:6]}", fingerprint=fp, kind="rescore", dataset=source.dataset,
        strategy=strategy, model=source.model, config=identity,
        manifest={**source.manifest, "rescored_from": source.id, "scorer": scorer_id, **chosen},
    )  # fmt: skip
    done = store.done_problem_ids(run.id)
    scored = scored_elsewhere(store, source.id, scorer_id, run.id)
    started, reused = time.monotonic(), 0.0
    for row in store.iter_results(source.id):
        if row.problem_id in done:
            continue
        picked = best_of(row, scorer, judge, select, scored.get(row.problem_id))
        if picked.extra.get("scores_reused"):
            reused += picked.extra["score_seconds"]
        store.add_result(run.id, picked)
        if on_result is not None:
            on_result(row)
    wall = float(run.metrics.get("wall_seconds", source.metrics.get("wall_seconds", 0.0)))
    wall += time.monotonic() - started + reused
    store.update_run(
        run.id, status="complete", metrics=summarize(store.results(run.id), wall_seconds=wall)
    )
    return store.get_run(run.id)


def rescored_identity(source: RunRecord, scorer_id: str, select: str) -> dict[str, Any]:
    """The config a rescoring of ``source`` is stored under (its fingerprint's payload):
    the source's, as best_of_n, with its source and scorer, and its rule where it is not
    ``best`` (runs rescored before rules were named keep their ids)."""
    identity = {**source.config, "rescored_from": source.id, "scorer": scorer_id}
    identity["search"] = {
        **source.config.get("search", {}),
        "strategy": strategy_name(BestOfNSearch),
    }
    if select != RESCORE_RULES[0]:
        identity["select"] = select
    return identity


def find_rescored(
    store: RunStore, source: RunRecord, scorer_id: str, select: str
) -> RunRecord | None:
    """The stored rescoring of ``source`` by ``scorer_id`` under ``select``, if any."""
    return store.find_run(fingerprint(rescored_identity(source, scorer_id, select)))


def scored_elsewhere(
    store: RunStore, source_id: str, scorer_id: str, run_id: str
) -> dict[str, ResultRow]:
    """By problem, the rows of ``source_id``'s other rescorings by ``scorer_id`` (other
    rules): their samples carry this scorer's values already."""
    rows: dict[str, ResultRow] = {}
    for run in store.list_runs():
        source, scorer = run.config.get("rescored_from"), run.config.get("scorer")
        if run.id != run_id and (source, scorer) == (source_id, scorer_id):
            for row in store.iter_results(run.id):
                rows.setdefault(row.problem_id, row)
    return rows


def known_scores(known: ResultRow | None, done: list[bool]) -> list[float] | None:
    """The finished samples' values in ``known`` (the same row rescored by the same
    scorer under another rule), or None where it does not hold them all."""
    if known is None or len(known.trajectories) != len(done):
        return None
    values = [t.get("value") for t, d in zip(known.trajectories, done, strict=True) if d]
    return None if None in values else [float(v) for v in values]


def best_of(
    row: ResultRow,
    scorer: StepScorer,
    judge: AnswerJudge,
    select: str = RESCORE_RULES[0],
    known: ResultRow | None = None,
) -> ResultRow:
    """The row best-of-N would have stored choosing by ``select``: the stored samples
    scored (the finished ones; their values in ``known``, another rule's rescoring of
    this row by the same scorer, where it holds them), and the rule's choice and votes."""
    trajectories = [Trajectory.from_dict(t) for t in row.trajectories]
    done = [t.answer is not None and bool(t.steps) for t in trajectories]
    finished = [t for t, d in zip(trajectories, done, strict=True) if d]
    scores = known_scores(known, done)
    reused: dict[str, Any] = {}
    if scores is not None and known is not None:
        seconds = float(known.extra.get("score_seconds", 0.0))
        reused["scores_reused"] = True
    else:
        started = time.perf_counter()
        items = [ScoreItem(row.question, t.steps, row.problem_id) for t in finished]
        scores = scorer.score(items)
        seconds = time.perf_counter() - started
    for trajectory, score in zip(finished, scores, strict=True):
        trajectory.value = score
    # An unfinished sample casts nothing (a stored value of its is not this scorer's).
    values = [t.value if d else None for t, d in zip(trajectories, done, strict=True)]
    answer, votes = SELECTIONS[select]([t.answer for t in trajectories], values, judge.same)
    correct = verdict(answer, row.gold, judge)
    return ResultRow(
        problem_id=row.problem_id, position=row.position, question=row.question, gold=row.gold,
        answer=answer, correct=correct, generated_tokens=row.generated_tokens,
        prompt_tokens=row.prompt_tokens, cached_tokens=row.cached_tokens,
        seconds=row.seconds + seconds, stop_reason=row.stop_reason,
        samples=sample_record([t.answer for t in trajectories], row.gold, judge),
        votes=votes, trajectories=[t.to_dict() for t in trajectories],
        extra={**row.extra, "score_seconds": seconds, **reused},
    )  # fmt: skip
