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


def test_default_split_is_test_where_there_is_one() -> None:
    for name in BENCHMARKS:
        if name != "math":
            assert load_benchmark(name) == load_benchmark(name, "test")
    assert BENCHMARKS["math"].splits == ("train",)  # MATH's test problems are math500's
    assert load_benchmark("math") == load_benchmark("math", "train")


# The vendored MATH train answers are the source's last \boxed{} of each worked
# solution. The grader's extraction (which joins boxes that list several answers)
# reads the same answer from every solution but these.
MATH_EXTRACTION_DIFFERS = {
    # "Find all ...", "Enter all ...": several boxes, the joined list is the full answer
    "algebra/152.json": ("(8,38)", "(-2,18), (8,38)"),
    "algebra/1771.json": ("(0, 1)", "(-2, 23), (0, 1)"),
    "intermediate_algebra/1486.json": ("-\\frac{5}{2}", "\\frac{1}{3}, -\\frac{5}{2}"),
    "intermediate_algebra/1964.json": ("9", "1, 9"),
    "precalculus/860.json": ("-3", "\\frac{3}{2}, -3"),
    "precalculus/1040.json": ("18", "12, 18"),
    "precalculus/1089.json": ("-3", "5, -3"),
    "precalculus/1149.json": ("150^\\circ", "30^\\circ, 150^\\circ"),
    # one answer boxed twice in two forms, or one of two asked for
    "intermediate_algebra/396.json": ("(-5, 1)", "(-5, 7), (-5, 1)"),
    "number_theory/796.json": ("28_9", "28, 28_9"),
    "number_theory/837.json": ("8\\!:\\!34 \\text{ p.m.}", "20\\!:\\!34, 8\\!:\\!34 \\text{ p.m.}"),
    "prealgebra/452.json": ("2 - b", "-b+2, 2 - b"),
}
MATH_UNANSWERED = ["algebra/24014.json", "algebra/25040.json"]
"""Solutions that end in ``\\boxed 2`` without braces: no answer in the source, none
read by the grader; these two problems are ungraded."""


def test_math_train_comes_in_a_fixed_mixed_order_with_line_ids() -> None:
    """The file is grouped by subject; the loader orders problems by the sha256 of
    their source ids, so the first 300 (a pool) hold every subject and level."""
    problems = load_benchmark("math", "train")
    assert len(problems) == 7500
    assert sorted(int(p.id.rsplit("/", 1)[1]) for p in problems) == list(range(7500))
    assert [p.id for p in problems[:3]] == ["math/train/5124", "math/train/4261", "math/train/7248"]
    first = problems[0]
    assert first.meta["source_id"] == "number_theory/773.json"
    assert (first.meta["level"], first.meta["type"]) == ("Level 3", "Number Theory")
    assert first.answer == "\\frac{70}{333}"
    pool = problems[:300]
    assert len({p.meta["type"] for p in pool}) == 7
    assert {p.meta["level"] for p in pool} == {f"Level {n}" for n in "12345"}


def test_math_train_answers_are_what_the_grader_reads_from_the_solutions() -> None:
    from thinktree.grading.extract import last_boxed

    problems = load_benchmark("math", "train")
    unanswered = [p.meta["source_id"] for p in problems if p.answer is None]
    assert unanswered == MATH_UNANSWERED
    assert all(last_boxed(p.meta["solution"]) is None for p in problems if p.answer is None)
    differs = {}
    for problem in problems:
        extracted = last_boxed(problem.meta["solution"])
        if problem.answer is not None and (extracted or "").strip() != problem.answer.strip():
            differs[problem.meta["source_id"]] = (problem.answer, extracted)
    assert differs == MATH_EXTRACTION_DIFFERS


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
