"""Metrics computed from stored results, never by re-running a search.

- accuracy with a 95 % Wilson score interval;
- pass@k with the unbiased estimator of Chen et al. (2021):
  ``1 − C(n − c, k) / C(n, k)`` for ``n`` samples of which ``c`` are correct;
- maj@k: the majority answer of the first ``k`` samples (equivalence classes
  stored per sample; ties go to the class seen first, by
  :func:`thinktree.search.voting.leading`) is correct;
- an MCTS tree's Q-weighted vote (stored beside its best-mean answer) is correct;
- tokens generated, prompt tokens evaluated vs reused from cache, wall time;
- problems stored as failed (workers died on them, see :mod:`.failed`), which
  are not graded;
- pair-wise: problems won and lost with an exact sign test, and dominance (no
  less accurate for no more tokens, one strictly; see :func:`dominance`).
- the evolve round to ship, from the rounds' summary rows (:func:`chosen_round`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from thinktree.eval.failed import FAILED
from thinktree.search.voting import leading
from thinktree.store import ResultRow


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return (0.0, 0.0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def pass_at_k(n: int, c: int, k: int) -> float:
    if k > n:
        raise ValueError(f"pass@{k} needs at least {k} samples, got {n}")
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def majority_correct(classes: Sequence[int | None], class_correct: dict[str, bool], k: int) -> bool:
    counts: dict[int, int] = {}
    for cls in classes[:k]:
        if cls is not None:
            counts[cls] = counts.get(cls, 0) + 1
    found = sorted(counts)  # class ids count up in the order the run found them
    lead = leading([counts[c] for c in found])
    if lead is None:
        return False
    return bool(class_correct.get(str(found[lead]), False))


def vote_correct(votes: dict[str, float], samples: dict[str, Any]) -> bool:
    """Whether the answer with the most votes is correct (ties to the one listed first).

    ``votes`` maps an answer to its weight, ``samples`` holds each answer's class and
    whether each class is correct, as a result row stores them.
    """
    lead = leading(list(votes.values()))
    if lead is None:
        return False
    top = list(votes)[lead]
    answers = samples.get("answers", [])
    if top not in answers:
        return False
    cls = samples["classes"][answers.index(top)]
    return bool(samples["class_correct"].get(str(cls), False))


def sample_ks(n: int) -> list[int]:
    ks, k = [], 1
    while k <= n:
        ks.append(k)
        k *= 2
    if ks and ks[-1] != n:
        ks.append(n)
    return ks


def summarize(rows: Sequence[ResultRow], wall_seconds: float | None = None) -> dict[str, Any]:
    """Run-level metrics over ``rows``.

    ``seconds_per_problem`` is wall time per problem when ``wall_seconds`` (the
    run's elapsed time, problems searched concurrently) is given, else the mean
    per-problem latency, which counts the waits of lock-step batching.
    """
    n = len(rows)
    graded = [r for r in rows if r.correct is not None]
    correct = sum(1 for r in graded if r.correct)
    lo, hi = wilson_interval(correct, len(graded))
    prompt = sum(r.prompt_tokens for r in rows)
    cached = sum(r.cached_tokens for r in rows)
    out: dict[str, Any] = {
        "n": n,
        "graded": len(graded),
        "correct": correct,
        "accuracy": correct / len(graded) if graded else None,
        "ci95": [lo, hi] if graded else None,
        "answered": sum(1 for r in rows if r.answer is not None),
        "failed": sum(1 for r in rows if r.stop_reason == FAILED),
        "tokens": sum(r.generated_tokens for r in rows),
        "tokens_per_problem": sum(r.generated_tokens for r in rows) / n if n else 0.0,
        "prompt_tokens": prompt,
        "cached_tokens": cached,
        "cached_share": cached / (prompt + cached) if prompt + cached else 0.0,
        "latency_seconds_per_problem": sum(r.seconds for r in rows) / n if n else 0.0,
    }
    if wall_seconds is not None:
        out["wall_seconds"] = wall_seconds
        out["seconds"] = wall_seconds
        out["seconds_per_problem"] = wall_seconds / n if n else 0.0
    else:
        out["seconds"] = sum(r.seconds for r in rows)
        out["seconds_per_problem"] = out["latency_seconds_per_problem"]
    sampled = [r for r in graded if len(r.samples.get("correct", [])) > 1]
    if sampled:
        n_samples = min(len(r.samples["correct"]) for r in sampled)
        for k in sample_ks(n_samples):
            out[f"pass@{k}"] = sum(
                pass_at_k(len(r.samples["correct"]), sum(map(bool, r.samples["correct"])), k)
                for r in sampled
            ) / len(sampled)
            out[f"maj@{k}"] = sum(
                majority_correct(r.samples["classes"], r.samples["class_correct"], k)
                for r in sampled
            ) / len(sampled)
    return out


def pairwise(a: Sequence[ResultRow], b: Sequence[ResultRow]) -> dict[str, Any]:
    """Problems won and lost between two runs, on the problems both graded."""
    right_b = {r.problem_id: bool(r.correct) for r in b if r.correct is not None}
    both = won = lost = neither = 0
    for row in a:
        if row.correct is None or row.problem_id not in right_b:
            continue
        ra, rb = bool(row.correct), right_b[row.problem_id]
        both += ra and rb
        won += ra and not rb
        lost += rb and not ra
        neither += not ra and not rb
    common = both + won + lost + neither
    return {
        "common": common,
        "both": both,
        "won": won,
        "lost": lost,
        "neither": neither,
        "sign_test_p": sign_test(won, lost),
    }


def sign_test(won: int, lost: int) -> float:
    """Two-sided exact sign test p-value for ``won`` vs ``lost`` discordant problems."""
    n = won + lost
    if n == 0:
        return 1.0
    k = min(won, lost)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


def dominance(
    a: Sequence[ResultRow], b: Sequence[ResultRow], alpha: float = 0.05
) -> dict[str, Any]:
    """Whether run ``a`` or run ``b`` dominates the other, on the problems both graded.

    A run dominates when it is right at least as often (``won >= lost``) for no more
    generated tokens per problem, and strictly better on one of the two. Tokens are
    taken as measured (their noise is small next to accuracy's); accuracy is compared
    pair-wise, and ``significant`` says whether its difference is beyond noise (exact
    sign test on the discordant problems, ``p < alpha``). So a domination with
    ``significant`` false means "as accurate within noise, at fewer tokens" (or, with
    equal tokens, an accuracy edge that may be noise). ``dominant`` is "a", "b" or None
    (a trade-off, or a tie on both).
    """
    pair = pairwise(a, b)
    graded_b = {r.problem_id for r in b if r.correct is not None}
    common = {r.problem_id for r in a if r.correct is not None} & graded_b
    tokens_a = _mean_tokens(a, common)
    tokens_b = _mean_tokens(b, common)
    won, lost = pair["won"], pair["lost"]
    dominant = None
    if won >= lost and tokens_a <= tokens_b and (won > lost or tokens_a < tokens_b):
        dominant = "a"
    elif lost >= won and tokens_b <= tokens_a and (lost > won or tokens_b < tokens_a):
        dominant = "b"
    n = pair["common"]
    return {
        "common": n,
        "accuracy_a": (pair["both"] + won) / n if n else None,
        "accuracy_b": (pair["both"] + lost) / n if n else None,
        "tokens_a": tokens_a,
        "tokens_b": tokens_b,
        "won": won,
        "lost": lost,
        "sign_test_p": pair["sign_test_p"],
        "significant": pair["sign_test_p"] < alpha,
        "dominant": dominant,
    }


def _mean_tokens(rows: Sequence[ResultRow], ids: set[str]) -> float:
    chosen = [r.generated_tokens for r in rows if r.problem_id in ids]
    return sum(chosen) / len(chosen) if chosen else 0.0


def chosen_round(rows: Sequence[Mapping[str, Any]]) -> int | None:
    """The round whose policy to ship: the best sum of greedy and sc accuracy on the
    pools' dev slices (how the policy answers alone and with a small budget count the
    same), ties to the earlier round (less training); None before any round has both.
    Sums are rounded to 9 places, so that a tie is a tie and not float error."""
    scored = [
        (round(row["pool_dev_greedy"] + row["pool_dev_sc"], 9), -row["round"])
        for row in rows
        if row.get("pool_dev_greedy") is not None and row.get("pool_dev_sc") is not None
    ]
    return -max(scored)[1] if scored else None
