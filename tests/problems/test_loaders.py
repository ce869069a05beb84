"""Bundled benchmarks and JSONL loading."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from thinktree.problems import BENCHMARKS, Problem, gsm8k_gold, load_benchmark, load_jsonl

COUNTS = [
    ("gsm8k", "train", 7473),
    ("gsm8k", "test", 1319),
    ("math500", "test", 500),
    ("aime24", "test", 30),
    ("amc23", "test", 40),
]


@pytest.mark.parametrize(("name", "split", "count"), COUNTS)
def test_counts_and_ids(name: str, split: str, count: int) -> None:
    problems = load_benchmark(name, split)
    assert len(problems) == count
    assert [p.id for p in problems] == [f"{name}/{split}/{i}" for i in range(count)]
    assert all(isinstance(p, Problem) and p.source == name for p in problems)
    assert all(p.question.strip() and p.answer for p in problems)


def test_default_split_is_test() -> None:
    for name in BENCHMARKS:
        assert load_benchmark(name) == load_benchmark(name, "test")


KNOWN_GOLDS = [
    ("gsm8k", "test", 0, "18"),
    ("gsm8k", "test", 1, "3"),
    ("gsm8k", "test", 146, "2125"),  # "#### 2,125" in the file
    ("gsm8k", "test", 1318, "14"),
    ("gsm8k", "train", 0, "72"),
    ("math500", "test", 0, "\\left( 3, \\frac{\\pi}{2} \\right)"),
    ("math500", "test", 4, "\\text{Evelyn}"),
    ("math500", "test", 499, "106^\\circ"),
    ("aime24", "test", 0, "204"),
    ("aime24", "test", 7, "25"),  # "025" in the file
    ("amc23", "test", 0, "27"),  # 27.0 in the file
    ("amc23", "test", 15, "-1"),
]


@pytest.mark.parametrize(("name", "split", "index", "gold"), KNOWN_GOLDS)
def test_known_golds(name: str, split: str, index: int, gold: str) -> None:
    assert load_benchmark(name, split)[index].answer == gold


def test_gsm8k_keeps_the_worked_solution() -> None:
    problem = load_benchmark("gsm8k", "test")[0]
    assert problem.question.startswith("Janet’s ducks lay 16 eggs per day.")
    assert problem.meta["solution"].endswith("#### 18")
    assert "<<16-3-4=9>>" in problem.meta["solution"]


def test_gsm8k_golds_are_integers() -> None:
    for split in ("train", "test"):
        for problem in load_benchmark("gsm8k", split):
            assert problem.answer is not None
            int(problem.answer)


def test_aime_meta() -> None:
    problem = load_benchmark("aime24")[7]
    assert problem.meta["answer_raw"] == "025"
    assert problem.meta["source_id"] == 67
    assert problem.meta["url"].startswith("https://artofproblemsolving.com/")


def test_gsm8k_gold() -> None:
    assert gsm8k_gold("He pays 5 * 200 = 1,000 dollars.\n#### 1,000") == "1000"
    with pytest.raises(ValueError, match="####"):
        gsm8k_gold("no answer line")


def test_provenance_and_licence_are_bundled() -> None:
    from importlib import resources

    data = resources.files("thinktree.problems").joinpath("data")
    provenance = data.joinpath("PROVENANCE.md").read_text(encoding="utf-8")
    for name in BENCHMARKS:
        assert name in provenance
    assert "MIT License" in data.joinpath("gsm8k", "LICENSE").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("name", "split", "message"),
    [("gsm9k", None, "unknown benchmark 'gsm9k'"), ("math500", "train", "no split 'train'")],
)
def test_unknown_benchmark_or_split(name: str, split: str | None, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_benchmark(name, split)


def write_jsonl(path: Path, rows: list[object]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def test_load_jsonl_with_field_mapping(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "mine.jsonl",
        [
            {"q": "What is 2+2?", "a": 4, "level": 1},
            {"q": "Half of 1?", "a": "\\frac{1}{2}", "level": 2},
            {"q": "Thirty?", "a": 30.0},
        ],
    )
    problems = load_jsonl(path, question_field="q", answer_field="a")
    assert [p.id for p in problems] == ["mine/0", "mine/1", "mine/2"]
    assert [p.answer for p in problems] == ["4", "\\frac{1}{2}", "30"]
    assert problems[0].meta == {"level": 1}
    assert problems[0].source == "mine"


def test_load_jsonl_ids_and_no_answers(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "x.jsonl", [{"id": "p7", "question": "Why?"}])
    (problem,) = load_jsonl(path, answer_field=None, id_field="id")
    assert problem.id == "p7" and problem.answer is None


def test_blank_lines_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text('\n{"question": "a", "answer": "1"}\n\n{"question": "b", "answer": "2"}\n')
    assert [p.id for p in load_jsonl(path)] == ["x/0", "x/1"]


LOAD_ERRORS = {
    "missing-question": (
        '{"question": "a", "answer": "1"}\n{"q": "b", "answer": "2"}\n',
        {},
        r"x.jsonl:2: no field 'question' \(fields: 'q', 'answer'\)",
    ),
    "missing-answer": ('{"question": "a"}\n', {}, r"x.jsonl:1: no field 'answer'"),
    "mapped-answer": (
        '{"q": "a", "a": "1"}\n',
        {"question_field": "q", "answer_field": "ans"},
        r"x.jsonl:1: no field 'ans'",
    ),
    "missing-id": (
        '{"question": "a", "answer": "1"}\n',
        {"id_field": "uid"},
        r"x.jsonl:1: no field 'uid'",
    ),
    "bad-json": ('{"question": "a", "answer": "1"\n', {}, r"x.jsonl:1: not valid JSON"),
    "not-object": ("[1, 2]\n", {}, r"x.jsonl:1: expected a JSON object"),
    "empty-question": (
        '{"question": "", "answer": "1"}\n',
        {},
        r"x.jsonl:1: field 'question' must be a non-empty string",
    ),
    "duplicate-id": (
        '{"question": "a", "answer": "1", "id": 1}\n{"question": "b", "answer": "2", "id": 1}\n',
        {"id_field": "id"},
        r"x.jsonl:2: duplicate id '1'",
    ),
}


@pytest.mark.parametrize(
    ("content", "kwargs", "message"), LOAD_ERRORS.values(), ids=LOAD_ERRORS.keys()
)
def test_load_jsonl_errors(tmp_path: Path, content: str, kwargs: dict, message: str) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_jsonl(path, **kwargs)


def test_load_jsonl_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_jsonl(tmp_path / "absent.jsonl")
