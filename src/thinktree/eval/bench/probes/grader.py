"""Grader throughput and agreement on the regression corpus.

    thinktree bench benchmarks/recipes/grader.yaml [--set rounds=5] [--set workers=2]

Runs every corpus case through one ``Grader`` (2 workers by default, started
and warm before timing), ``rounds`` times, and reports:

* ``checks_per_second`` (also ``checks_per_s``): corpus checks per second (the
  mix of fast-path and worker cases the corpus has) in the first round, when
  every parse is new: the figure a first grading of new answers sees. It is the
  median over ``cold`` fresh graders (each its own new workers), since one
  first round is a single short sample. Workers
  cache parsed answers, so later rounds see the gold answers (and here the very
  pairs) again, as votes and regrades do: ``checks_per_second_warm`` is their
  median;
* ``mathverify_public_agreement`` / ``plain_mathverify_agreement``: the share of
  Math-Verify's public regression cases (``corpus/mathverify_public.jsonl``)
  whose verdict thinktree's grader / plain ``verify(parse(gold), parse(pred))``
  gets right;
* ``corpus_agreement``: share of cases whose verdict matches the human one
  (known failures count as disagreements);
* extras: the worker-only rate, the fast-path share, start-up time, the rate of
  ``group_answers`` on GSM8K-style numbers, and the agreement of plain
  math-verify (``verify(parse(gold), parse(pred))``, default settings) on the
  same corpus, for comparison.

Writes ``benchmarks/results/grader.json``.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import statistics
import time
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

from pydantic import Field

from thinktree.eval.bench.probes.base import Probe, ProbeContext, ProbeOptions
from thinktree.eval.bench.probes.results import write_results


class GraderOptions(ProbeOptions):
    rounds: int = Field(5, ge=1)
    """Rounds over the corpus with one grader (the first is cold, the rest warm)."""
    cold: int = Field(3, ge=1)
    """Fresh graders timed on a first round (the cold figure is their median)."""
    workers: int = Field(2, ge=1)
    """Grader worker processes."""
    timeout: float = Field(5.0, gt=0)
    """Seconds a worker may spend on one check."""
    out: str = "benchmarks/results/grader.json"
    """The results file (relative to the repository)."""


def raw_math_verify_agreement(cases: Sequence[Any], wrap_gold: bool = True) -> float:
    """Agreement of math-verify used directly, as most evaluation scripts do.

    ``wrap_gold`` puts the project's bare gold answers in ``$...$``; the public
    cases' golds are texts already and are passed as they are.
    """
    from math_verify import parse, verify

    logging.getLogger("math_verify").setLevel(logging.CRITICAL)
    agree = 0
    for case in cases:
        gold = f"${case.gold}$" if wrap_gold else case.gold
        try:
            ok = verify(parse(gold), parse(case.pred))
        except Exception:
            ok = False
        agree += ok == case.expected
    return agree / len(cases)


def run(options: GraderOptions, ctx: ProbeContext) -> Path:
    from thinktree.grading import Grader, group_answers
    from thinktree.grading.cases import load_corpus, load_public_corpus
    from thinktree.grading.grader import Verdict, prepare

    cases = load_corpus()
    pairs = [(c.pred, c.gold) for c in cases]
    worker_pairs = [pair for pair in pairs if not isinstance(prepare(*pair), Verdict)]

    public = load_public_corpus()
    with Grader(workers=options.workers, timeout=options.timeout) as grader:
        public_verdicts = grader.check_batch([(c.pred, c.gold) for c in public])
    public_agreement = sum(
        v.equivalent == c.expected for c, v in zip(public, public_verdicts, strict=True)
    ) / len(public)

    cold_rates = []
    for _ in range(max(0, options.cold - 1)):
        with Grader(workers=options.workers, timeout=options.timeout) as grader:
            grader.start()
            start = time.monotonic()
            grader.check_batch(pairs)
            cold_rates.append(len(pairs) / (time.monotonic() - start))

    with Grader(workers=options.workers, timeout=options.timeout) as grader:
        start = time.monotonic()
        grader.start()
        startup_s = time.monotonic() - start

        round_rates, verdicts = [], []
        for _ in range(options.rounds):
            start = time.monotonic()
            verdicts = grader.check_batch(pairs)
            round_rates.append(len(pairs) / (time.monotonic() - start))

        start = time.monotonic()
        grader.check_batch(worker_pairs)
        worker_rate = len(worker_pairs) / (time.monotonic() - start)

        numbers = [str(n) for n in range(40)] + ["1,000", "1000.0", "\\$18", "18 dollars"]
        votes = [numbers[(i * 7) % len(numbers)] for i in range(64)]
        start = time.monotonic()
        reps = 200
        for _ in range(reps):
            group_answers(votes, grader=grader)
        group_rate = reps / (time.monotonic() - start)
        restarts = grader.restarts

    agree = [v.equivalent == c.expected for c, v in zip(cases, verdicts, strict=True)]
    disagreements = [
        {
            "line": c.line,
            "group": c.group,
            "gold": c.gold,
            "pred_answer": v.pred_answer,
            "expected": c.expected,
            "known_failure": c.known_failure,
            "timed_out": v.timed_out,
        }
        for c, v, ok in zip(cases, verdicts, agree, strict=True)
        if not ok
    ]
    result = {
        "checks_per_second": round(statistics.median([*cold_rates, round_rates[0]]), 1),
        "cold_checks_per_s": [round(r, 1) for r in [*cold_rates, round_rates[0]]],
        "checks_per_second_warm": round(statistics.median(round_rates[1:] or round_rates), 1),
        "mathverify_public_agreement": round(public_agreement, 4),
        "plain_mathverify_agreement": round(raw_math_verify_agreement(public, False), 4),
        "mathverify_public_size": len(public),
        "checks_per_s": round(statistics.median([*cold_rates, round_rates[0]]), 1),
        "corpus_size": len(cases),
        "corpus_agreement": round(sum(agree) / len(cases), 4),
        "known_failures": sum(c.known_failure for c in cases),
        "disagreements": disagreements,
        "worker_checks_per_s": round(worker_rate, 1),
        "fast_path_share": round(1 - len(worker_pairs) / len(pairs), 3),
        "group_answers_64_numbers_per_s": round(group_rate, 1),
        "startup_s": round(startup_s, 2),
        "worker_restarts": restarts,
        "raw_math_verify_agreement": round(raw_math_verify_agreement(cases), 4),
        "round_checks_per_s": [round(r, 1) for r in round_rates],
        "workers": options.workers,
        "timeout_s": options.timeout,
        "rounds": options.rounds,
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "math_verify": version("math-verify"),
            "latex2sympy2_extended": version("latex2sympy2_extended"),
            "sympy": version("sympy"),
        },
    }
    path = write_results(ctx.path(options.out), result, ensure_ascii=False)
    summary = {k: v for k, v in result.items() if k not in ("disagreements", "machine")}
    ctx.say(json.dumps(summary, indent=2))
    return path


PROBE = Probe(GraderOptions, "grader throughput and agreement on the corpora", run)
