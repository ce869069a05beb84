"""Preference pairs from search trees (rStar-Math's rules), for training the PPM.

At every expanded node with several children:

- a child *reaches a correct answer* if a correct answer terminal lies in its
  subtree; it *fails* if its subtree holds terminals and none is a correct answer
  (wrong answers, invalid steps, error chains, too-deep branches all count);
  children whose subtrees were never explored to a terminal are not used;
- positives are the (up to) 2 children that reach a correct answer with the
  highest Q, negatives the (up to) 2 failing children with the lowest Q;
- a (positive, negative) pair is kept when ``Q⁺ − Q⁻ ≥ 0.5`` and the two steps'
  texts differ by a Levenshtein distance of at least 20 characters.

Final-answer pairs: per problem, the (up to) 2 correct answer terminals with the
highest Q against the (up to) 2 wrong ones with the lowest Q, each side being
the full trajectory, with the same distance rule on the full texts.

Ties are broken by node id, so extraction is deterministic. Q of an invalid
terminal is its local −1 (−1/2 under ``invalid_backup = "visits"``, which adds a visit
worth 0); Q of a node with no propagated visits is 0.

Outcome pairs (:func:`outcome_pairs`), from a sampling run's stored row: a right and
a wrong full solution of the same problem (DESIGN.md: cheap final-answer data), the
first (up to) 4 distinct right texts against the first (up to) 4 distinct wrong
ones in sample order, with the same distance rule. Four a side, not rStar's two: the
verifier's data are sc@8 samples, and every right one against every wrong one is a
comparison the weighted vote makes at test time; four keeps an easy problem's many
right samples from crowding out other problems (at most 16 pairs a problem). Their Q are the outcomes, +1 and
−1, so the margin rule always holds.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any, NamedTuple

from rapidfuzz.distance import Levenshtein

from thinktree.search.mcts.tree import Node, deserialize
from thinktree.search.result import Trajectory
from thinktree.steps import Step, solution_text, steps_text
from thinktree.store import ResultRow

MIN_MARGIN = 0.5
MIN_EDIT_DISTANCE = 20
PER_SIDE = 2
OUTCOME_PER_SIDE = 4
PAIR_KINDS = ("step", "final", "outcome")
"""Every pair's kind, in the order :func:`thinktree.train.ppm.data.collect_pairs` gives
a problem's pairs."""


@dataclass(frozen=True)
class PreferencePair:
    problem_id: str
    question: str
    prefix: tuple[Step, ...]
    """Steps shared by both sides (empty for final-answer pairs)."""
    chosen: tuple[Step, ...]
    rejected: tuple[Step, ...]
    chosen_q: float
    rejected_q: float
    kind: str
    """"step" (siblings at one node), "final" (whole trajectories of one tree) or
    "outcome" (whole sampled solutions of one problem)."""
    node_id: int
    """The shared parent node (final and outcome pairs: the root, 0)."""
    policy: str = ""
    """The model whose search or samples gave the pair (its run's model; empty when the
    pair was not read from a run), so a verifier's accuracy can be read per policy."""

    @property
    def clean(self) -> bool:
        """No step of either side raised (the hard case for the error-flag baseline)."""
        return all(s.error is None for s in self.chosen + self.rejected)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["prefix"] = [s.to_dict() for s in self.prefix]
        data["chosen"] = [s.to_dict() for s in self.chosen]
        data["rejected"] = [s.to_dict() for s in self.rejected]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PreferencePair:
        steps = lambda items: tuple(Step.from_dict(s) for s in items)  # noqa: E731
        return cls(
            problem_id=data["problem_id"], question=data["question"],
            prefix=steps(data["prefix"]), chosen=steps(data["chosen"]),
            rejected=steps(data["rejected"]), chosen_q=data["chosen_q"],
            rejected_q=data["rejected_q"], kind=data["kind"], node_id=data["node_id"],
            policy=data.get("policy", ""),
        )  # fmt: skip


def _subtree_outcome(node: Node) -> tuple[bool, bool]:
    """(a correct answer lies below, any terminal lies below) — the node included."""
    correct = terminal = False
    for n in node.walk():
        if n.terminal:
            terminal = True
            if n.terminal_reason == "answer" and n.correct:
                correct = True
    return correct, terminal


def _pairs_from_sides(
    positives: list[Any], negatives: list[Any], make: Any, text_of: Any
) -> Iterator[PreferencePair]:
    """Every (positive, negative) with Q margin and edit distance enough, positives
    first; a side is anything with a ``q_value`` (a node, a sample)."""
    for pos in positives:
        for neg in negatives:
            if pos.q_value - neg.q_value < MIN_MARGIN:
                continue
            if Levenshtein.distance(text_of(pos), text_of(neg)) < MIN_EDIT_DISTANCE:
                continue
            yield make(pos, neg)


def step_pairs(problem_id: str, question: str, root: Node) -> list[PreferencePair]:
    pairs: list[PreferencePair] = []
    for node in root.walk():
        if len(node.children) < 2:
            continue
        outcomes = {c.id: _subtree_outcome(c) for c in node.children}
        good = [c for c in node.children if outcomes[c.id][0]]
        bad = [c for c in node.children if not outcomes[c.id][0] and outcomes[c.id][1]]
        good = sorted(good, key=lambda c: (-c.q_value, c.id))[:PER_SIDE]
        bad = sorted(bad, key=lambda c: (c.q_value, c.id))[:PER_SIDE]
        prefix = tuple(node.steps())

        def make(
            pos: Node, neg: Node, prefix: tuple[Step, ...] = prefix, node_id: int = node.id
        ) -> PreferencePair:
            assert pos.step is not None and neg.step is not None
            return PreferencePair(
                problem_id,
                question,
                prefix,
                (pos.step,),
                (neg.step,),
                pos.q_value,
                neg.q_value,
                "step",
                node_id,
            )

        pairs.extend(_pairs_from_sides(good, bad, make, lambda n: n.step.text if n.step else ""))
    return pairs


def final_pairs(problem_id: str, question: str, root: Node) -> list[PreferencePair]:
    answers = [n for n in root.walk() if n.terminal_reason == "answer" and n.correct is not None]
    good = sorted((n for n in answers if n.correct), key=lambda n: (-n.q_value, n.id))[:PER_SIDE]
    bad = sorted((n for n in answers if not n.correct), key=lambda n: (n.q_value, n.id))[:PER_SIDE]

    def make(pos: Node, neg: Node) -> PreferencePair:
        return PreferencePair(
            problem_id,
            question,
            (),
            tuple(pos.steps()),
            tuple(neg.steps()),
            pos.q_value,
            neg.q_value,
            "final",
            root.id,
        )

    return list(_pairs_from_sides(good, bad, make, lambda n: steps_text(n.steps())))


class _Sample(NamedTuple):
    steps: tuple[Step, ...]
    q_value: float
    """The outcome: +1 right, −1 wrong."""


def outcome_pairs(row: ResultRow) -> list[PreferencePair]:
    """Outcome pairs of one problem from a sampling run's row (``sc``, ``best_of_n``).

    ``row.trajectories`` are the samples in the order drawn and
    ``row.samples["correct"]`` their verdicts (:func:`thinktree.eval.harness.sample_record`).
    Sides: the samples with an answer, each text once (its first sample); positives the
    first 4 right, negatives the first 4 wrong (:data:`OUTCOME_PER_SIDE`), in sample order — draws are random, so
    the first ones are as good a pick as any, and a stored score (a best-of-N run's) is
    not used: the label is the outcome. Pairs are kept by the distance rule (the margin,
    +1 against −1, always holds), positives first.

    A sample without an answer (cut off, too many errors, dropped as unsure) is on
    neither side: the PPM ranks finished solutions at test time (a rescore scores only
    those), and an unfinished negative is told apart by its missing ``\boxed{}`` alone,
    an easy pair that teaches nothing and costs a training example. Final pairs from
    trees leave invalid endings out for the same reason.

    Without a gold answer there are no verdicts, hence no pairs.
    """
    if row.gold is None:
        return []
    verdicts = row.samples.get("correct", [])
    if len(verdicts) != len(row.trajectories):
        raise ValueError(
            f"problem {row.problem_id}: {len(row.trajectories)} samples but {len(verdicts)} "
            "verdicts; outcome pairs need a sampling run's row (sc, best_of_n)"
        )
    seen: set[str] = set()
    good: list[_Sample] = []
    bad: list[_Sample] = []
    for data, right in zip(row.trajectories, verdicts, strict=True):
        trajectory = Trajectory.from_dict(data)
        text = steps_text(trajectory.steps)
        if trajectory.answer is None or not trajectory.steps or text in seen:
            continue
        seen.add(text)
        (good if right else bad).append(_Sample(tuple(trajectory.steps), 1.0 if right else -1.0))

    def make(pos: _Sample, neg: _Sample) -> PreferencePair:
        return PreferencePair(
            row.problem_id, row.question, (), pos.steps, neg.steps, pos.q_value, neg.q_value,
            "outcome", 0,
        )  # fmt: skip

    good, bad = good[:OUTCOME_PER_SIDE], bad[:OUTCOME_PER_SIDE]
    return list(_pairs_from_sides(good, bad, make, lambda s: steps_text(s.steps)))


def pairs_from_tree(problem_id: str, question: str, tree: dict[str, Any]) -> list[PreferencePair]:
    root = deserialize(tree)
    return step_pairs(problem_id, question, root) + final_pairs(problem_id, question, root)


def is_validation(problem_id: str, fraction: float = 0.2) -> bool:
    """Deterministic problem-level split: a problem's pairs all fall on one side."""
    digest = hashlib.sha256(problem_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def fold_of(problem_id: str, folds: int) -> int:
    """Deterministic problem-level fold for cross-validation, independent of
    :func:`is_validation` (another hash), so each fold's training problems still
    split into fitting and early-stopping sides."""
    digest = hashlib.sha256(f"fold:{problem_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % folds


def write_jsonl(pairs: Iterable[PreferencePair], path: str | Path) -> int:
    """Write the pairs a line each; a path ending in ``.gz`` is gzip-compressed, with no
    timestamp (the same pairs give the same bytes, for a file kept in git)."""
    count = 0
    with _open_text(path, "w") as handle:
        for pair in pairs:
            handle.write(json.dumps(pair.to_dict()) + "\n")
            count += 1
    return count


def read_jsonl(path: str | Path) -> list[PreferencePair]:
    """The pairs ``write_jsonl`` wrote (gzip-compressed where the path ends in ``.gz``)."""
    with _open_text(path, "r") as handle:
        return [PreferencePair.from_dict(json.loads(line)) for line in handle if line.strip()]


@contextmanager
def _open_text(path: str | Path, mode: str) -> Iterator[IO[str]]:
    if not str(path).endswith(".gz"):
        with open(path, mode) as handle:
            yield handle
        return
    with (
        open(path, f"{mode}b") as raw,
        gzip.GzipFile(filename="", fileobj=raw, mode=f"{mode}b", mtime=0) as zipped,
        io.TextIOWrapper(zipped, encoding="utf-8") as handle,
    ):
        yield handle


def trl_record(pair: PreferencePair) -> dict[str, str]:
    """TRL's preference format: a shared prompt and two continuations."""
    prompt = solution_text(pair.question, pair.prefix)
    return {
        "prompt": prompt,
        "chosen": solution_text(pair.question, pair.prefix + pair.chosen)[len(prompt) :],
        "rejected": solution_text(pair.question, pair.prefix + pair.rejected)[len(prompt) :],
    }
