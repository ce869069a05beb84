"""The grader's regression corpus: real answer shapes with verdicts decided by a person.

``corpus/cases.jsonl`` holds one case per line::

    {"gold": "18", "pred": "Answer: \\boxed{\\$18}", "expected": true,
     "group": "currency-units", "source": "constructed", "note": "..."}

``expected`` is what a careful human grader says, never what math-verify says.
``source`` is ``"constructed"`` for hand-written cases and ``"model:<name>"`` for
outputs of real model runs. A case the grader still gets wrong carries
``"known_failure": true``; its test asserts that it is still wrong, so a fix is
noticed (then drop the flag). New bugs become new lines, not new test functions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources

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

    @property
    def case_id(self) -> str:
        return f"{self.line:03d}-{self.group}"


def load_corpus() -> list[CorpusCase]:
    """Every case of ``corpus/cases.jsonl``, in file order (``line`` counts from 1)."""
    text = (
        resources.files("thinktree.grading")
        .joinpath("corpus", "cases.jsonl")
        .read_text(encoding="utf-8")
    )
    cases = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        row = json.loads(line)
        missing = [f for f in REQUIRED_FIELDS if f not in row]
        if missing:
            raise ValueError(f"corpus line {lineno}: missing {', '.join(missing)}")
        if not isinstance(row["expected"], bool):
            raise ValueError(f"corpus line {lineno}: 'expected' must be true or false")
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
            )
        )
    return cases
