"""The grader's regression corpus: real answer shapes with verdicts decided by a person.

``corpus/cases.jsonl`` holds one case per line::

    {"gold": "18", "pred": "Answer: \\boxed{\\$18}", "expected": true,
     "group": "currency-units", "source": "constructed", "note": "..."}

``expected`` is what a careful human grader says, never what math-verify says.
``source`` is ``"constructed"`` for hand-written cases and ``"model:<name>"`` for
outputs of real model runs. A case the grader still gets wrong carries
``"known_failure": true``; its test asserts that it is still wrong, so a fix is
noticed (then drop the flag). New bugs become new lines, not new test functions.

``corpus/mathverify_public.jsonl`` holds Math-Verify's own public regression
cases in the same shape (see ``corpus/PROVENANCE.md``); there ``expected`` is
Math-Verify's verdict, ``source`` names the test it came from, and ``config``
records how that test called Math-Verify. :func:`load_public_corpus` reads it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

REQUIRED_FIELDS = ("gold", "pred", "expected", "group", "source", "note")


@dataclass(frozen=True)
class CorpusCase:
    line: int
    gold: str
    pred: str
    expected: bool
    group: str
    source: str
    note: str
    known_failure: bool = False
    config: dict[str, Any] | None = None
    """How the case's source test called Math-Verify (public cases only)."""

    @property
    def case_id(self) -> str:
        return f"{self.line:03d}-{self.group}"


PROJECT_CORPUS = "cases.jsonl"
PUBLIC_CORPUS = "mathverify_public.jsonl"


def load_corpus(name: str = PROJECT_CORPUS) -> list[CorpusCase]:
    """Every case of ``corpus/<name>``, in file order (``line`` counts from 1)."""
    text = resources.files("thinktree.grading").joinpath("corpus", name).read_text(encoding="utf-8")
    cases = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        row = json.loads(line)
        missing = [f for f in REQUIRED_FIELDS if f not in row]
        if missing:
            raise ValueError(f"{name} line {lineno}: missing {', '.join(missing)}")
        if not isinstance(row["expected"], bool):
            raise ValueError(f"{name} line {lineno}: 'expected' must be true or false")
        cases.append(
            CorpusCase(
                line=lineno,
                gold=row["gold"],
                pred=row["pred"],
                expected=row["expected"],
                group=row["group"],
                source=row["source"],
                note=row["note"],
                known_failure=bool(row.get("known_failure", False)),
                config=row.get("config"),
            )
        )
    return cases


def load_public_corpus() -> list[CorpusCase]:
    """Math-Verify's public regression cases (``corpus/mathverify_public.jsonl``)."""
    return load_corpus(PUBLIC_CORPUS)
