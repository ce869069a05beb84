"""The policy's fine-tuning data: verified trajectories from search trees.

rStar-Math's rule (``train/sample_sft_data.py`` of its public code), applied to
every stored tree of the given runs:

- a trajectory is a root-to-terminal path whose terminal is an answer graded
  correct; a path with any step whose cell raised (or timed out) is dropped,
  even if a later step repaired it;
- its score is the mean of the Q values of its nodes (the root excluded), its
  tie-breaker their minimum;
- per problem the trajectories of all runs compete together: sorted by mean Q,
  then minimum Q (both descending), then by source and node id so the order is
  deterministic; the top ``per_problem`` (2) with distinct texts are kept.

Converted reference solutions (:mod:`thinktree.train.sft.reference`) carry no Q;
they are added beside the search trajectories, one per problem, and never
displace them.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thinktree.search.mcts.tree import Node, deserialize
from thinktree.steps import Step, StepKind, steps_text
from thinktree.store import RunStore

PER_PROBLEM = 2


@dataclass(frozen=True)
class Trajectory:
    """A verified solution path, ready to become one SFT example."""

    problem_id: str
    question: str
    steps: tuple[Step, ...]
    mean_q: float | None
    min_q: float | None
    source: str
    """The run it came from, or ``reference`` for a converted reference solution."""
    node_id: int = -1

    @property
    def text(self) -> str:
        return steps_text(self.steps)

    def to_dict(self) -> dict[str, Any]:
        return {
            "problem_id": self.problem_id,
            "question": self.question,
            "steps": [s.to_dict() for s in self.steps],
            "mean_q": self.mean_q,
            "min_q": self.min_q,
            "source": self.source,
            "node_id": self.node_id,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Trajectory:
        return cls(
            problem_id=str(data["problem_id"]),
            question=str(data["question"]),
            steps=tuple(Step.from_dict(s) for s in data["steps"]),
            mean_q=data.get("mean_q"),
            min_q=data.get("min_q"),
            source=str(data["source"]),
            node_id=int(data.get("node_id", -1)),
        )


def clean(steps: Iterable[Step]) -> bool:
    """No step's cell raised or timed out."""
    return all(s.error is None and s.kind is not StepKind.ERROR for s in steps)


def tree_trajectories(
    problem_id: str, question: str, tree: dict[str, Any], source: str
) -> list[Trajectory]:
    """Every correct, error-free root-to-answer path of one stored tree."""
    root = deserialize(tree)
    found: list[Trajectory] = []
    for node in root.walk():
        if node.terminal_reason != "answer" or not node.correct:
            continue
        path: list[Node] = node.path()
        steps = tuple(n.step for n in path if n.step is not None)
        if not steps or not clean(steps):
            continue
        qs = [n.q_value for n in path]
        found.append(
            Trajectory(problem_id, question, steps, sum(qs) / len(qs), min(qs), source, node.id)
        )
    return found


def _rank(t: Trajectory) -> tuple[float, float, str, int]:
    return (-(t.mean_q or 0.0), -(t.min_q or 0.0), t.source, t.node_id)


def select_top(
    trajectories: Iterable[Trajectory], per_problem: int = PER_PROBLEM
) -> list[Trajectory]:
    """The best ``per_problem`` distinct trajectories of each problem, problems in
    first-seen order."""
    by_problem: dict[str, list[Trajectory]] = defaultdict(list)
    for t in trajectories:
        by_problem[t.problem_id].append(t)
    chosen: list[Trajectory] = []
    for items in by_problem.values():
        texts: set[str] = set()
        for t in sorted(items, key=_rank):
            if len(texts) >= per_problem:
                break
            if t.text in texts:
                continue
            texts.add(t.text)
            chosen.append(t)
    return chosen


def search_trajectories(store: RunStore, run_ids: Sequence[str]) -> list[Trajectory]:
    """Candidate trajectories from every graded tree of the runs, in a fixed order."""
    found: list[Trajectory] = []
    for run_id in run_ids:
        run = store.get_run(run_id)
        for row in store.iter_results(run.id):
            if row.gold is None:
                continue
            tree = store.tree(run.id, row.problem_id)
            if tree is not None:
                found.extend(tree_trajectories(row.problem_id, row.question, tree, run.id))
    return found


def with_references(
    selected: Sequence[Trajectory], references: Iterable[Trajectory]
) -> list[Trajectory]:
    """The search selection plus one reference trajectory per problem (never a duplicate)."""
    texts = {(t.problem_id, t.text) for t in selected}
    merged = list(selected)
    seen: set[str] = set()
    for ref in references:
        if ref.problem_id in seen or (ref.problem_id, ref.text) in texts:
            continue
        seen.add(ref.problem_id)
        merged.append(ref)
    return merged


def write_trajectories(trajectories: Iterable[Trajectory], path: str | Path) -> str:
    """Write JSONL atomically; returns the sha256 of the file (the data hash manifests keep)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    digest = hashlib.sha256()
    with open(tmp, "w") as handle:
        for t in trajectories:
            line = json.dumps(t.to_dict(), sort_keys=True) + "\n"
            digest.update(line.encode())
            handle.write(line)
    tmp.replace(path)
    return digest.hexdigest()


def read_trajectories(path: str | Path) -> list[Trajectory]:
    with open(path) as handle:
        return [Trajectory.from_dict(json.loads(line)) for line in handle if line.strip()]
