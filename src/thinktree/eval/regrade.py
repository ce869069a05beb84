"""Grade a stored run again with the current grader.

The grader improves (a new normalisation, a fixed trap); the runs made before it
should not keep verdicts it now disagrees with. ``regrade`` recomputes, from the
stored answers alone, each problem's correctness, the per-sample classes and
correctness (pass@k, maj@k) and the correctness of tree nodes, then the run's
metrics. Nothing is generated again, and nothing but verdicts changes: in an
``--scorer outcome`` run the Q-values were backed up from the old verdicts and
stay as they were searched.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from thinktree.eval.harness import sample_record, verdict
from thinktree.eval.metrics import summarize
from thinktree.search import AnswerJudge
from thinktree.store import RunRecord, RunStore


@dataclass
class Regrade:
    run: RunRecord
    checked: int = 0
    changed: list[tuple[str, bool | None, bool | None]] = field(default_factory=list)
    nodes_changed: int = 0


def regrade(store: RunStore, run_id: str, judge: AnswerJudge) -> Regrade:
    run = store.get_run(run_id)
    report = Regrade(run)
    for row in store.results(run.id):
        report.checked += 1
        gold = row.gold
        correct = verdict(row.answer, gold, judge)
        samples = row.samples
        if "answers" in samples:
            samples = sample_record(samples["answers"], gold, judge)
        tree = store.tree(run.id, row.problem_id)
        node_correct: dict[int, bool | None] = {}
        for node in tree["nodes"] if tree else []:
            if node["answer"] is None or gold is None:
                continue
            node_verdict = judge.correct(node["answer"], gold)
            if node_verdict != node["correct"]:
                node_correct[node["id"]] = node_verdict
        if correct != row.correct:
            report.changed.append((row.problem_id, row.correct, correct))
        report.nodes_changed += len(node_correct)
        if correct != row.correct or samples != row.samples or node_correct:
            store.update_grades(run.id, row.problem_id, correct, samples, node_correct)
    wall = run.metrics.get("wall_seconds")
    metrics = summarize(store.results(run.id), wall_seconds=wall)
    store.update_run(run.id, metrics=metrics)
    report.run = store.get_run(run.id)
    return report
