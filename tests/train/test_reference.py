"""Reference solutions as step trajectories.

The corpus (reference_cases.jsonl) holds real GSM8K train solutions, one per
line, with the expected outcome. The bundled copy has no line with several
annotations, no unsafe expression and no division by zero, so those rules are
held to hand-written solutions below.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from thinktree.problems import Problem, load_benchmark
from thinktree.sandbox import ExecResult
from thinktree.search.judge import GraderJudge
from thinktree.steps import StepKind, parse_step, solution_text
from thinktree.train.sft.reference import Rejection, convert_solution, reference_steps
from thinktree.train.sft.reference_check import (
    ConversionReport,
    convert_references,
    verify_reference,
)

CASES = [
    json.loads(line)
    for line in (Path(__file__).parent / "reference_cases.jsonl").read_text().splitlines()
    if line.strip()
]


def case_problem(case: dict) -> Problem:
    return Problem(
        case["id"], case["question"], case["answer"], "gsm8k", {"solution": case["solution"]}
    )


def problem(
    solution: str, answer: str = "1", question: str = "How many?", pid: str = "t/0"
) -> Problem:
    return Problem(pid, question, answer, "gsm8k", {"solution": f"{solution}\n#### {answer}"})


def assignments(solution: str, question: str = "How many?") -> list[str]:
    steps = reference_steps(problem(solution, question=question))
    assert steps is not None
    return [
        line
        for step in steps
        if step.code is not None
        for line in step.code.splitlines()
        if not line.startswith(("#", "print("))
    ]


@pytest.fixture(scope="module")
def judge(grader: object) -> GraderJudge:
    return GraderJudge(grader)  # type: ignore[arg-type]


# --- conversion, no sandbox --------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[f"{c['group']}:{c['id']}" for c in CASES])
def test_corpus_conversion(case: dict) -> None:
    steps = convert_solution(case_problem(case))
    if case["outcome"] in (Rejection.NO_ANNOTATION, Rejection.UNSAFE_EXPRESSION):
        assert steps == Rejection(case["outcome"])
        return
    assert not isinstance(steps, Rejection)
    if case["outcome"] == "converted":
        assert len(steps) == case["steps"]
        lines = [ln for s in steps[:-1] for ln in s.code.splitlines()]  # type: ignore[union-attr]
        assert [ln for ln in lines if not ln.startswith(("#", "print("))] == case["assignments"]
    assert [s.kind for s in steps] == [StepKind.CODE] * (len(steps) - 1) + [StepKind.FINAL]
    assert steps[-1].text == f"\nAnswer: \\boxed{{{case['answer']}}}"
    assert steps[-1].answer == case["answer"]
    for step in steps:
        parsed = parse_step(step.text)
        assert (parsed.text, parsed.kind, parsed.code, parsed.answer) == (
            step.text,
            step.kind,
            step.code,
            step.answer,
        )
        assert step.output == "" and step.error is None


def test_folded_lines_exact_texts() -> None:
    joy = next(c for c in CASES if c["id"] == "gsm8k/train/14")
    lee = next(c for c in CASES if c["id"] == "gsm8k/train/65")
    assert [s.text for s in reference_steps(case_problem(joy)) or []] == [
        "\n```python\n# In one hour, there are 3 sets of 20 minutes.\n"
        "# So, Joy can read 8 x 3 = 24 pages in an hour.\npages = 8 * 3\nprint(pages)\n```\n",
        "\n```python\n# It will take her 120/24 = 5 hours to read 120 pages.\n"
        "hours = 120 / pages\nprint(hours)\n```\n",
        "\nAnswer: \\boxed{5}",
    ]
    assert [s.text for s in reference_steps(case_problem(lee)) or []] == [
        "\n```python\n# 33 * 16 = $528\ndollars = 33 * 16\nprint(dollars)\n```\n",
        "\n```python\n# 3 * 10 = $30\ndollars2 = 3 * 10\nprint(dollars2)\n```\n",
        "\n```python\n# 528 + 30 = $558\n# Lee earned $558 mowing lawns last week.\n"
        "dollars3 = dollars + dollars2\nprint(dollars3)\n```\n",
        "\nAnswer: \\boxed{558}",
    ]


def test_several_annotations_in_one_line() -> None:
    steps = reference_steps(
        problem(
            "He pays 2*10 = <<2*10=20>>20 dollars and 3*5 = <<3*5=15>>15 dollars, "
            "so 20+15 = <<20+15=35>>35 dollars in all.\nThe rest is 7-3 = <<7-3=4>>4 and 4*9 = <<4*9=36>>36.",
            answer="36",
        )
    )
    assert steps is not None and len(steps) == 3
    assert steps[0].code == (
        "# He pays 2*10 = 20 dollars and 3*5 = 15 dollars, so 20+15 = 35 dollars in all.\n"
        "dollars = 2 * 10\ndollars2 = 3 * 5\ndollars3 = dollars + dollars2\nprint(dollars3)"
    )
    assert steps[1].code == (
        "# The rest is 7-3 = 4 and 4*9 = 36.\nstep2_1 = 7 - 3\nstep2_2 = step2_1 * 9\nprint(step2_2)"
    )


@pytest.mark.parametrize(
    ("solution", "question", "expected"),
    [
        # A result the writer rounded is not exactly the earlier value: kept.
        ("10/3 = <<10/3=3.33>>3.33\n3.33*3 = <<3.33*3=9.99>>9.99", "?", ["step1 = 10 / 3", "step2 = 3.33 * 3"]),
        # An exact decimal result is replaced, however the writer spelled it.
        ("1/4 = <<1/4=.25>>.25\n0.250*8 = <<0.250*8=2>>2", "?", ["step1 = 1 / 4", "step2 = step1 * 8"]),
        # A number of the question may be meant: kept.
        ("48/2 = <<48/2=24>>24\n24+5 = <<24+5=29>>29", "Ann has 24 pens.", ["step1 = 48 / 2", "step2 = 24 + 5"]),
        ("3*4 = <<3*4=12>>12\n12*5 = <<12*5=60>>60", "A dozen eggs.", ["step1 = 3 * 4", "step2 = 12 * 5"]),
        # Two earlier results of the same value: ambiguous, kept.
        ("<<3+3=6>>6\n<<2*3=6>>6\n<<6*7=42>>42", "?", ["step1 = 3 + 3", "step2 = 2 * 3", "step3 = 6 * 7"]),
        # The same number twice in one expression: which one? Kept.
        ("<<50+50=100>>100\n<<(75/100)*100=75>>75", "?", ["step1 = 50 + 50", "step2 = 75 / 100 * 100"]),
        # 1 and 2 are as often "per one" or "double": kept.
        ("<<4-2=2>>2\n<<2*5=10>>10", "?", ["step1 = 4 - 2", "step2 = 2 * 5"]),
        # Negative and floor-divided results are found too.
        ("<<3-8=-5>>-5\n<<-5*4=-20>>-20\n<<-20//3=-7>>-7\n<<-7+9=2>>2", "?",
         ["step1 = 3 - 8", "step2 = step1 * 4", "step3 = step2 // 3", "step4 = step3 + 9"]),
    ],
)  # fmt: skip
def test_literal_replacement(solution: str, question: str, expected: list[str]) -> None:
    assert assignments(solution, question) == expected


@pytest.mark.parametrize(
    ("line", "name"),
    [
        ("She reads 3*5 = <<3*5=15>>15 pages today.", "pages"),
        ("It is 3*5 = <<3*5=15>>15% of all.", "percent"),
        ("It costs 3*5 = $<<3*5=15>>15 more.", "dollars"),
        ("The sum is 3*5 = <<3*5=15>>15 more apples.", "step1"),  # function word
        ("There are 3*5 = <<3*5=15>>15 sum.", "step1"),  # a builtin
        ("There are 3*5 = <<3*5=15>>15 Toms.", "step1"),  # capitalised
        ("There are 3*5 = <<3*5=15>>15 dog's bones.", "step1"),
        ("There are 3*5 = <<3*5=15>>15 kg.", "step1"),  # too short
        ("There are 3*5 = <<3*5=15>>15-year-olds.", "step1"),
        ("There are 3*5 = <<3*5=15>>15 lambda.", "step1"),  # a keyword
        ("There are 3*5 = <<3*5=15>>15 match.", "step1"),  # a soft keyword
    ],
)
def test_variable_names(line: str, name: str) -> None:
    assert assignments(line) == [f"{name} = 3 * 5"]


def test_a_bare_annotation_gets_no_empty_comment() -> None:
    steps = reference_steps(problem("<<2+2=4>>\nSo it is 4.", "4"))
    assert steps is not None
    # The trailing line joins the last step's comments, which were empty.
    assert steps[0].code == "# So it is 4.\nstep1 = 2 + 2\nprint(step1)"


def test_repeated_names_get_a_count() -> None:
    assert assignments("<<1+2=3>>3 pages\n<<3+1=4>>4 pages\n<<4+1=5>>5 pages") == [
        "pages = 1 + 2",
        "pages2 = pages + 1",
        "pages3 = pages2 + 1",
    ]


@pytest.mark.parametrize(
    ("solution", "reason"),
    [
        ("No calculation here, it is 5.", Rejection.NO_ANNOTATION),
        ("", Rejection.NO_ANNOTATION),
        ("It is 2 x 3 = <<2x3=6>>6.", Rejection.UNSAFE_EXPRESSION),
        ("It is 2 ** 3 = <<2**3=8>>8.", Rejection.UNSAFE_EXPRESSION),
        ("It is <<1,000*2=2000>>2000.", Rejection.UNSAFE_EXPRESSION),
        ("It is <<20%*50=10>>10.", Rejection.UNSAFE_EXPRESSION),
        ("It is <<__import__('os')=0>>0.", Rejection.UNSAFE_EXPRESSION),
        ("It is <<5*2>>10.", Rejection.UNSAFE_EXPRESSION),  # no result
        ("It is <<5*2=ten>>10.", Rejection.UNSAFE_EXPRESSION),
        ("It is <<5*2=10=10>>10.", Rejection.UNSAFE_EXPRESSION),
        ("It is <<=10>>10.", Rejection.UNSAFE_EXPRESSION),  # no expression
        ("It is <<(5*2=10>>10.", Rejection.UNSAFE_EXPRESSION),
        ("It is <<5*2=10>10.", Rejection.UNSAFE_EXPRESSION),  # unclosed
        ("It is 5*2=10>>10.", Rejection.UNSAFE_EXPRESSION),  # stray close
        ("It is <<" + "+".join(["1"] * 101) + "=101>>101.", Rejection.UNSAFE_EXPRESSION),
        ("It is <<5*2=10>>10.\nOutput: 10", Rejection.UNSAFE_EXPRESSION),  # a stop string
        ("It is <<5*2=10>>10 ```", Rejection.UNSAFE_EXPRESSION),  # a fence
    ],
)
def test_rejected_before_running(solution: str, reason: Rejection) -> None:
    assert convert_solution(problem(solution)) == reason
    assert reference_steps(problem(solution)) is None


def test_a_problem_without_a_reference_solution_is_an_error() -> None:
    with pytest.raises(ValueError, match="t/9"):
        convert_solution(Problem("t/9", "What?", "3"))
    with pytest.raises(ValueError, match="t/9"):
        convert_solution(Problem("t/9", "What?", None, meta={"solution": "<<1+2=3>>3\n#### 3"}))


# --- verification, with a stand-in runner ----------------------------------------


class CannedRunner:
    """Records the trajectories it is asked to run; answers each with ``result``."""

    def __init__(self, result: ExecResult) -> None:
        self.result = result
        self.calls: list[list[list[str]]] = []

    def run_batch(
        self, trajectories: list[list[str]], timeout: float | None = None
    ) -> list[ExecResult]:
        self.calls.append([list(t) for t in trajectories])
        return [self.result] * len(trajectories)


class SameJudge:
    def same(self, a: str, b: str) -> bool:
        return a == b

    def correct(self, answer: str, gold: str) -> bool:
        return answer == gold


def test_each_cell_runs_after_the_earlier_cells_in_one_batch() -> None:
    problems = [problem("<<1+2=3>>3 cats\n<<3*5=15>>15 cats", "15", pid=f"t/{i}") for i in range(5)]
    runner = CannedRunner(ExecResult(stdout="15\n", error=None, timed_out=False, seconds=0.01))
    seen: list[tuple[int, int]] = []
    report = convert_references(
        problems, runner, SameJudge(), progress=lambda d, t: seen.append((d, t)), batch_problems=2
    )
    first = "# 3 cats\ncats = 1 + 2\nprint(cats)"
    second = "# 15 cats\ncats2 = cats * 5\nprint(cats2)"
    assert [len(call) for call in runner.calls] == [4, 4, 2]
    assert runner.calls[0][:2] == [[first], [first, second]]
    assert seen == [(2, 5), (4, 5), (5, 5)]
    assert report.converted == 5 and report.rejected == {}
    assert [s.output for s in report.trajectories["t/4"]] == ["15", "15", ""]
    assert [s.exec_seconds for s in report.trajectories["t/4"]] == [0.01, 0.01, 0.0]


def test_a_timed_out_cell_rejects_the_trajectory() -> None:
    runner = CannedRunner(
        ExecResult(stdout="", error="TimeoutError: the cell ran", timed_out=True, seconds=10.0)
    )
    steps = reference_steps(problem("<<1+2=3>>3", "3"))
    assert steps is not None
    assert (
        verify_reference(problem("<<1+2=3>>3", "3"), steps, runner, SameJudge(), timeout=2.5)
        is None
    )
    assert steps[0].kind is StepKind.ERROR
    assert steps[0].error == "TimeoutError: the cell ran longer than 2.5 s"
    assert steps[0].output == "TimeoutError: the cell ran longer than 2.5 s"


def test_report_counts_and_summary() -> None:
    report = ConversionReport(
        trajectories={"a": []},
        rejected={
            "b": Rejection.WRONG_ANSWER,
            "c": Rejection.WRONG_ANSWER,
            "d": Rejection.CELL_ERROR,
        },
    )
    assert (report.total, report.converted) == (4, 1)
    assert report.counts == {
        Rejection.NO_ANNOTATION: 0,
        Rejection.UNSAFE_EXPRESSION: 0,
        Rejection.CELL_ERROR: 1,
        Rejection.WRONG_ANSWER: 2,
    }
    assert report.summary() == (
        "1 of 4 converted (no-annotation 0, unsafe-expression 0, cell-error 1, wrong-answer 2)"
    )


# --- verification in the real sandbox ----------------------------------------------


def test_corpus_in_the_sandbox(sandbox: object, judge: GraderJudge) -> None:
    report = convert_references([case_problem(c) for c in CASES], sandbox, judge)  # type: ignore[arg-type]
    for case in CASES:
        if case["outcome"] == "converted":
            steps = report.trajectories[case["id"]]
            assert [s for s in steps if s.executed][-1].output == case["last_output"], case["id"]
            assert all(s.kind is not StepKind.ERROR and s.error is None for s in steps)
        else:
            assert report.rejected[case["id"]] == case["outcome"], case["id"]
    assert (
        report.summary()
        == "13 of 16 converted (no-annotation 1, unsafe-expression 0, cell-error 0, wrong-answer 2)"
    )


def test_exact_trajectory_with_sandbox_outputs(sandbox: object, judge: GraderJudge) -> None:
    natalia = case_problem(next(c for c in CASES if c["id"] == "gsm8k/train/0"))
    steps = reference_steps(natalia)
    assert steps is not None
    assert verify_reference(natalia, steps, sandbox, judge) is steps  # type: ignore[arg-type]
    assert [s.output for s in steps] == ["24.0", "72.0", ""]
    assert solution_text(natalia.question, steps) == (
        "Question: Natalia sold clips to 48 of her friends in April, and then she sold half as "
        "many clips in May. How many clips did Natalia sell altogether in April and May?\n\n"
        "Step 1:\n```python\n# Natalia sold 48/2 = 24 clips in May.\nclips = 48 / 2\n"
        "print(clips)\n```\nOutput: 24.0\n\n"
        "Step 2:\n```python\n# Natalia sold 48+24 = 72 clips altogether in April and May.\n"
        "clips2 = 48 + clips\nprint(clips2)\n```\nOutput: 72.0\n\n"
        "Step 3:\nAnswer: \\boxed{72}"
    )


def test_cell_error_and_wrong_answer_in_the_sandbox(sandbox: object, judge: GraderJudge) -> None:
    problems = [
        problem("Each gets 5/0 = <<5/0=0>>0 cakes.\nSo 0+1 = <<0+1=1>>1.", "1", pid="t/error"),
        problem("It is 2*3 = <<2*3=6>>6 cakes.", "7", pid="t/wrong"),
        problem("It is 2*3 = <<2*3=6>>6 cakes.", "6", pid="t/right"),
        problem("No annotation.", "6", pid="t/none"),
    ]
    report = convert_references(problems, sandbox, judge)  # type: ignore[arg-type]
    assert report.rejected == {
        "t/error": Rejection.CELL_ERROR,
        "t/wrong": Rejection.WRONG_ANSWER,
        "t/none": Rejection.NO_ANNOTATION,
    }
    assert list(report.trajectories) == ["t/right"]
    steps = reference_steps(problems[0])
    assert steps is not None
    assert verify_reference(problems[0], steps, sandbox, judge) is None  # type: ignore[arg-type]
    assert (steps[0].kind, steps[0].error, steps[0].output) == (
        StepKind.ERROR,
        "ZeroDivisionError: division by zero",
        "ZeroDivisionError: division by zero",
    )


def test_first_50_gsm8k_train_problems(sandbox: object, judge: GraderJudge) -> None:
    problems = load_benchmark("gsm8k", "train")[:50]
    report = convert_references(problems, sandbox, judge)  # type: ignore[arg-type]
    assert report.converted == 45
    assert report.rejected == {
        "gsm8k/train/23": Rejection.WRONG_ANSWER,
        "gsm8k/train/29": Rejection.NO_ANNOTATION,
        "gsm8k/train/32": Rejection.WRONG_ANSWER,
        "gsm8k/train/44": Rejection.WRONG_ANSWER,
        "gsm8k/train/48": Rejection.WRONG_ANSWER,
    }
    gold = {p.id: p.answer for p in problems}
    for pid, steps in report.trajectories.items():
        last = [s for s in steps if s.executed][-1]
        assert judge.correct(last.output, gold[pid]), pid
        assert steps[-1].text == f"\nAnswer: \\boxed{{{gold[pid]}}}"
