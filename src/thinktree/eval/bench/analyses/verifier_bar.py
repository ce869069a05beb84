"""How good a verifier must be to beat the vote (``analyses: [verifier_bar]``;
benchmarks/recipes/verifier_bar.yaml).

Issue 51 asks the weighted vote over sc@4's samples for majority + 5 points. How far
that is depends on the samples as much as on the verifier: a scorer can only gain
where some sample is right and the vote is not. This analysis replays the recipe's
stored sc runs, each problem's first ``options.samples`` samples (classed and graded
as stored), under scorers whose pairwise accuracy is known, and picks with the
selection rules ``thinktree rescore`` uses (:mod:`thinktree.search.selection`):

- ``mean_logprob``: the policy's own geometric-mean token probability, a scorer that
  needs no training, given to the rules as ``2p − 1``: its pairwise accuracy on the
  samples' (right, wrong) pairs of a problem (ties count half), and the weighted
  vote and best-of-k it gives, with sign tests against the vote;
- ``simulated``: for each accuracy ``a`` in ``options.accuracies``, a scorer whose
  score of a sample is ``tanh(d / 2)`` (the LM PPM's squash of its logit difference)
  with ``d = μ·[right] + N(0, 1)`` and ``μ = √2·Φ⁻¹(a)``, so that a right sample
  outscores a wrong one of its problem with probability ``a``; the rules' accuracy
  is the mean over ``options.draws`` seeded draws. ``options.spread`` (default 1)
  scales ``d`` before the squash: how sure the scorer is, which only the weighted
  vote reads. Its errors are independent from
  sample to sample, a real verifier's need not be: the mean-logprob figures put a
  real scorer beside the curve.

``options.arms`` (optional) keeps only the runs of those arm names, for a report on the
runs that hold more samples (``samples: 8`` over the sc@8 runs).

``needed``: per rule, the lowest accuracy of the grid whose simulated rule reaches
the vote + ``options.margin``, null when none does. Models pool their runs' problems
(a problem of two runs counts twice).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

from thinktree.eval.bench.context import ReportContext
from thinktree.eval.metrics import sign_test
from thinktree.search.selection import Selection, best, majority, weighted
from thinktree.search.settle import token_probability
from thinktree.steps import Step
from thinktree.store import ResultRow

ACCURACIES = (0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)
RULES: dict[str, Selection] = {"weighted": weighted, "best": best}


@dataclass(frozen=True)
class Problem:
    """One problem's first samples: answer class (None: no answer), right or not, and
    the policy's geometric-mean token probability (None where none was recorded)."""

    classes: tuple[str | None, ...]
    right: tuple[bool, ...]
    probability: tuple[float | None, ...]

    def picks_right(self, rule: Selection, scores: Sequence[float | None]) -> bool:
        answer, _ = rule(self.classes, scores, str.__eq__)
        return answer is not None and self.right[self.classes.index(answer)]


def problem_of(row: ResultRow, samples: int) -> Problem:
    """``row``'s first ``samples`` samples (ValueError, one line, for a row of no sc run)."""
    stored = row.samples
    if "classes" not in stored or "class_correct" not in stored:
        raise ValueError(
            f"{row.problem_id}: the row has no graded sample classes; verifier_bar "
            "reads sc runs (strategy sc) only"
        )
    graded = {str(c): bool(right) for c, right in stored["class_correct"].items()}
    classes = [None if c is None else str(c) for c in stored["classes"][:samples]]
    right = [c is not None and graded.get(c, False) for c in classes]
    probability = [
        token_probability([Step.from_dict(s) for s in t.get("steps", [])])
        for t in row.trajectories[:samples]
    ]
    probability += [None] * (len(classes) - len(probability))
    return Problem(tuple(classes), tuple(right), tuple(probability))


def verifier_bar(ctx: ReportContext) -> dict[str, Any]:
    samples = int(ctx.option("samples", 4))
    accuracies = [float(a) for a in ctx.option("accuracies", ACCURACIES)]
    draws = int(ctx.option("draws", 200))
    margin = float(ctx.option("margin", 0.05))
    seed = int(ctx.option("seed", 0))
    spread = float(ctx.option("spread", 1.0))
    if not all(0.5 <= a < 1.0 for a in accuracies):
        raise ValueError("options.accuracies: each must be in [0.5, 1)")
    if spread <= 0:
        raise ValueError("options.spread: must be above 0")
    arms = ctx.option("arms")
    chosen = [rep for rep in ctx.reports if arms is None or rep.arm in arms]
    models: dict[str, Any] = {}
    for model in dict.fromkeys(rep.run.model for rep in chosen):
        reps = [rep for rep in chosen if rep.run.model == model]
        rows = [row for rep in reps for row in rep.rows if row.correct is not None]
        problems = [problem_of(row, samples) for row in rows]
        entry = model_bar(problems, accuracies, draws, margin, random.Random(seed), spread)
        models[model] = {"runs": [rep.run.id for rep in reps], **entry}
    return {
        "samples": samples, "draws": draws, "margin": margin, "spread": spread, "models": models,
    }  # fmt: skip


def model_bar(
    problems: Sequence[Problem],
    accuracies: Sequence[float],
    draws: int,
    margin: float,
    rng: random.Random,
    spread: float = 1.0,
) -> dict[str, Any]:
    """One model's figures over its ``problems`` (see the module's docstring)."""
    n = len(problems)
    if not n:
        return {"n": 0}
    voted = [p.picks_right(majority, [None] * len(p.classes)) for p in problems]
    vote = sum(voted) / n
    simulated = [simulate(problems, a, draws, rng, spread) for a in accuracies]
    needed = {rule: lowest_reaching(simulated, rule, vote + margin) for rule in RULES}
    return {
        "n": n,
        "pass_at_k": sum(any(p.right) for p in problems) / n,
        "majority": vote,
        "mean_logprob": mean_logprob_entry(problems, voted),
        "simulated": simulated,
        "needed": needed,
    }


def lowest_reaching(simulated: Sequence[dict[str, float]], rule: str, bar: float) -> float | None:
    """The lowest pairwise accuracy whose simulated ``rule`` reaches ``bar`` (None: none)."""
    reaching = [s["pairwise_accuracy"] for s in simulated if s[rule] >= bar]
    return min(reaching) if reaching else None


def mean_logprob_entry(problems: Sequence[Problem], voted: Sequence[bool]) -> dict[str, Any]:
    """The mean log-probability's pairwise accuracy and the rules' figures with it."""
    ordered = [
        1.0 if p.probability[i] > p.probability[j] else 0.5 * (p.probability[i] == p.probability[j])
        for p in problems
        for i, j in right_wrong_pairs(p)
        if p.probability[i] is not None and p.probability[j] is not None
    ]
    entry: dict[str, Any] = {
        "pairs": len(ordered),
        "pairwise_accuracy": sum(ordered) / len(ordered) if ordered else None,
    }
    for name, rule in RULES.items():
        picked = [p.picks_right(rule, probability_scores(p)) for p in problems]
        entry[name] = sum(picked) / len(problems)
        entry[f"{name}_vs_majority"] = versus_vote(picked, voted)
    return entry


def probability_scores(p: Problem) -> list[float | None]:
    """The token probabilities as the rules read scores, in [-1, 1]."""
    return [None if q is None else 2 * q - 1 for q in p.probability]


def probability_weighted(rows: Sequence[ResultRow], samples: int) -> list[bool]:
    """Per graded sc row, whether the weighted vote by token probability over its first
    ``samples`` samples is right."""
    problems = [problem_of(row, samples) for row in rows if row.correct is not None]
    return [p.picks_right(weighted, probability_scores(p)) for p in problems]


def versus_vote(picked: Sequence[bool], voted: Sequence[bool]) -> dict[str, Any]:
    """Won and lost against the vote on the same problems, as ``pairwise`` counts them."""
    pairs = list(zip(picked, voted, strict=True))
    won = sum(a and not b for a, b in pairs)
    lost = sum(b and not a for a, b in pairs)
    return {
        "common": len(pairs), "both": sum(a and b for a, b in pairs), "won": won,
        "lost": lost, "neither": sum(not a and not b for a, b in pairs),
        "sign_test_p": sign_test(won, lost),
    }  # fmt: skip


def right_wrong_pairs(p: Problem) -> list[tuple[int, int]]:
    """(right sample, wrong answered sample) index pairs of one problem."""
    answered = [i for i, c in enumerate(p.classes) if c is not None]
    return [(i, j) for i in answered for j in answered if p.right[i] and not p.right[j]]


def simulate(
    problems: Sequence[Problem],
    accuracy: float,
    draws: int,
    rng: random.Random,
    spread: float = 1.0,
) -> dict[str, float]:
    """The rules' mean accuracy under a scorer of pairwise ``accuracy``."""
    right = dict.fromkeys(RULES, 0)
    for _ in range(draws):
        for p in problems:
            scores = simulated_scores(p.right, accuracy, rng, spread)
            for name, rule in RULES.items():
                right[name] += p.picks_right(rule, scores)
    total = draws * len(problems)
    return {"pairwise_accuracy": accuracy, **{name: right[name] / total for name in RULES}}


def simulated_scores(
    right: Sequence[bool], accuracy: float, rng: random.Random, spread: float = 1.0
) -> list[float]:
    """``tanh(spread · d / 2)``, ``d = μ·[right] + N(0, 1)``: a right sample outscores a
    wrong one with probability ``accuracy`` (the difference of two draws is N(±μ, 2)),
    whatever the spread."""
    shift = math.sqrt(2) * NormalDist().inv_cdf(accuracy)
    return [math.tanh(spread * (shift * r + rng.gauss(0.0, 1.0)) / 2) for r in right]
