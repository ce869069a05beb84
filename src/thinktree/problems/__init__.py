"""Problems and the bundled benchmarks.

:class:`Problem` is the unit of work. :mod:`.loaders` reads the bundled
benchmarks (gsm8k train/test, math500, aime24, amc23, MATH train; provenance in
``data/PROVENANCE.md``) and any JSONL file with a field mapping;
:mod:`.selection` turns slice specs like ``gsm8k:test[:50]`` into a
deterministic list of problems and hashes a list for run manifests.
"""

from thinktree.problems.loaders import (
    BENCHMARKS,
    Benchmark,
    gsm8k_gold,
    load_benchmark,
    load_jsonl,
    load_source,
)
from thinktree.problems.problem import Problem
from thinktree.problems.selection import dataset_hash, load_slice, parse_slice, select
from thinktree.problems.source import ProblemSource, load_problems

__all__ = [
    "BENCHMARKS",
    "Benchmark",
    "Problem",
    "ProblemSource",
    "dataset_hash",
    "gsm8k_gold",
    "load_benchmark",
    "load_jsonl",
    "load_problems",
    "load_slice",
    "load_source",
    "parse_slice",
    "select",
]
