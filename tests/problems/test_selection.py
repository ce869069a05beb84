"""Slice specs, deterministic selection and dataset hashes."""

from __future__ import annotations

import pytest

from thinktree.problems import (
    Problem,
    dataset_hash,
    load_benchmark,
    load_slice,
    parse_slice,
    select,
)

GOOD = [
    ("gsm8k:test[:50]", ("gsm8k", "test", 0, 50)),
    ("gsm8k:test[10:20]", ("gsm8k", "test", 10, 10)),
    ("math500[10:20]", ("math500", "test", 10, 10)),
    ("gsm8k:train", ("gsm8k", "train", 0, None)),
    ("gsm8k", ("gsm8k", "test", 0, None)),
    ("aime24[5:]", ("aime24", "test", 5, None)),
    ("amc23[:]", ("amc23", "test", 0, None)),
    ("gsm8k:test[7:7]", ("gsm8k", "test", 7, 0)),
    (" gsm8k:test[:3] ", ("gsm8k", "test", 0, 3)),
]


@pytest.mark.parametrize(("spec", "parsed"), GOOD)
def test_parse_slice(spec: str, parsed: tuple) -> None:
    assert parse_slice(spec) == parsed


BAD = [
    ("gsm8k:dev", "no split 'dev'"),
    ("math500:train[:5]", "no split 'train'"),
    ("gsm9k[:5]", "unknown benchmark 'gsm9k'"),
    ("gsm8k[20:10]", "stop 10 is before start 20"),
    ("gsm8k[-5:]", "start must be a non-negative integer"),
    ("gsm8k[:x]", "stop must be a non-negative integer"),
    ("gsm8k[5]", "expected NAME[:SPLIT][[START:STOP]]"),
    ("gsm8k:test[:50", "expected NAME[:SPLIT][[START:STOP]]"),
    ("", "expected NAME[:SPLIT][[START:STOP]]"),
    ("gsm8k:test:train", "expected NAME[:SPLIT][[START:STOP]]"),
]


@pytest.mark.parametrize(("spec", "message"), BAD)
def test_parse_slice_errors(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_slice(spec)


def test_select_is_deterministic() -> None:
    problems = load_benchmark("gsm8k", "test")
    first = select(problems, 0, 50)
    assert [p.id for p in first] == [f"gsm8k/test/{i}" for i in range(50)]
    assert select(problems, 0, 50) == first
    assert [p.id for p in select(problems, 1310)] == [f"gsm8k/test/{i}" for i in range(1310, 1319)]
    assert select(problems, 2000, 5) == []
    assert [p.id for p in load_slice("gsm8k:test[10:13]")] == [
        "gsm8k/test/10",
        "gsm8k/test/11",
        "gsm8k/test/12",
    ]


@pytest.mark.parametrize(("offset", "limit"), [(-1, None), (0, -1)])
def test_select_rejects_negative(offset: int, limit: int | None) -> None:
    with pytest.raises(ValueError):
        select([], offset, limit)


def test_dataset_hash_is_stable() -> None:
    problems = load_slice("gsm8k:test[:50]")
    assert dataset_hash(problems) == dataset_hash(load_slice("gsm8k:test[:50]"))
    # Pinned: changes only if the bundled data or the hash definition changes.
    assert dataset_hash(problems) == PINNED_GSM8K_TEST_50
    assert dataset_hash(problems) != dataset_hash(problems[::-1])
    assert dataset_hash(problems) != dataset_hash(problems[:49])
    assert len(dataset_hash([])) == 64


def test_dataset_hash_covers_ids_questions_answers_not_meta() -> None:
    base = [Problem("a/0", "What is 1+1?", "2", meta={"x": 1})]
    assert dataset_hash(base) == dataset_hash([Problem("a/0", "What is 1+1?", "2", source="other")])
    assert dataset_hash(base) != dataset_hash([Problem("a/1", "What is 1+1?", "2")])
    assert dataset_hash(base) != dataset_hash([Problem("a/0", "What is 1+2?", "2")])
    assert dataset_hash(base) != dataset_hash([Problem("a/0", "What is 1+1?", "3")])
    assert dataset_hash(base) != dataset_hash([Problem("a/0", "What is 1+1?", None)])


PINNED_GSM8K_TEST_50 = "39e44f7db376168c1f4c6ae79ee8c78d627cbefc2dc23491562ae16943bb6f00"
