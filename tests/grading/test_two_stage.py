"""SLL-first parsing (grading/two_stage.py) gives the LL parser's results, answer for answer."""

from __future__ import annotations

import json
import subprocess
import sys

# Runs in a fresh interpreter: once installed, the two-stage parser stays for the
# process, and math-verify's parse cache must not hand the first pass's results on.
SCRIPT = r"""
import json, sys
import sympy
from math_verify import LatexExtractionConfig, parse
from math_verify.parser import parse_latex_cached
from thinktree.grading import two_stage
from thinktree.grading.cases import load_corpus, load_public_corpus
from thinktree.grading.compare import quiet_math_verify
from thinktree.grading.grader import Verdict, prepare
from thinktree.grading.warmup import WARMUP_PAIRS

quiet_math_verify()
answers = {a for p, g in WARMUP_PAIRS for a in (p, g)}
for case in load_corpus() + load_public_corpus():
    job = prepare(case.pred, case.gold)
    if not isinstance(job, Verdict):
        answers |= {job.pred, job.gold}

def parsed(answer):
    try:
        found = parse("\\boxed{" + answer + "}", parsing_timeout=None,
                      extraction_config=[LatexExtractionConfig(boxed_match_priority=0)])
        return [sympy.srepr(x) if isinstance(x, sympy.Basic) else repr(x) for x in found]
    except Exception as exc:
        return "error " + type(exc).__name__

ordered = sorted(answers)
ll = [parsed(a) for a in ordered]
parse_latex_cached.cache_clear()
installed = two_stage.install()
sll = [parsed(a) for a in ordered]
print(json.dumps({"installed": installed, "answers": len(ordered),
                  "differ": [a for a, x, y in zip(ordered, ll, sll) if x != y]}))
"""


def test_two_stage_parses_every_corpus_answer_as_ll_does() -> None:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=600, check=True
    )
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["installed"] is True
    assert report["answers"] > 400
    assert report["differ"] == []


def test_install_is_idempotent_and_keeps_results_and_errors() -> None:
    script = (
        "from thinktree.grading import two_stage\n"
        "from latex2sympy2_extended.latex2sympy2 import latex2sympy\n"
        "def run(text):\n"
        "    try:\n        return str(latex2sympy(text))\n"
        "    except Exception as exc:\n        return f'{type(exc).__name__}: {exc}'\n"
        "inputs = ['\\\\frac{1}{2}+x', '\\\\frac{1}{', 'x+)']\n"
        "before = [run(t) for t in inputs]\n"
        "assert two_stage.install() and two_stage.install()\n"
        "print(before == [run(t) for t in inputs], before[0])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "True x + 1/2"
