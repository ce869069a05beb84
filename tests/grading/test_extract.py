"""Extraction and normalisation, as tables of (input, expected output)."""

from __future__ import annotations

import time

import pytest

from thinktree.grading import answer_from_text, extract_answer, normalise
from thinktree.grading.normalise import choice_letter, text_answer

EXTRACTIONS = [
    ("Answer: \\boxed{8}", "8"),
    ("so $\\boxed{\\frac{1}{2}}$.", "\\frac{1}{2}"),
    (
        "\\boxed{\\left(\\frac{1}{2}, \\sqrt{\\frac{3}{4}}\\right)}",
        "\\left(\\frac{1}{2}, \\sqrt{\\frac{3}{4}}\\right)",
    ),
    ("\\fbox{7}", "7"),
    ("\\boxed{1} then \\boxed{2}", "2"),
    ("$x=\\boxed{2}$ and $x=\\boxed{-3}$", "2, -3"),
    ("\\boxed{5} ... much later, after a long discussion of other things, \\boxed{6}", "6"),
    ("\\boxed{18", None),
    ("\\boxed{}", None),
    ("\\boxed{\\boxed{5}}", "5"),
    ("\\boxed{\\{1,2\\}}", "\\{1,2\\}"),
    ("Janet makes $18.\n#### 18", "18"),
    ("#### 1,000\n", "1,000"),
    ("#### \n", None),
    ("The answer is 18.", "18"),
    ("The answer is 3.5.", "3.5"),
    ("The final answer is $\\frac{3}{4}$. I hope it is correct.", "\\frac{3}{4}"),
    ("**Final Answer:** 42", "42"),
    ("Answer: the answer is 5", "5"),
    ("answer: $x = 2$", "x = 2"),
    ("18", None),
    ("I give up.", None),
    ("", None),
]


@pytest.mark.parametrize(("text", "expected"), EXTRACTIONS)
def test_extract_answer(text: str, expected: str | None) -> None:
    assert extract_answer(text) == expected


BARE = [
    ("18", "18"),
    ("  $18$ ", "18"),
    ("\\frac{1}{2}", "\\frac{1}{2}"),
    ("18 dollars", "18 dollars"),
    ("\\text{Evelyn}", "\\text{Evelyn}"),
    ("To find the total we first add the two numbers and then divide", None),
    ("\\begin{pmatrix}\n1 \\\\\n2\n\\end{pmatrix}", "\\begin{pmatrix}\n1 \\\\\n2\n\\end{pmatrix}"),
    ("\\text{the larger of the two}", "\\text{the larger of the two}"),
    ("The answer is \\boxed{18", None),
]


@pytest.mark.parametrize(("text", "expected"), BARE)
def test_answer_from_text(text: str, expected: str | None) -> None:
    assert answer_from_text(text) == expected


NORMALISED = [
    ("\\$18", "18"),
    ("18 \\text{ dollars}", "18"),
    ("\\$32,\\!348", "32348"),
    ("10{,}000", "10000"),
    ("1,000.50", "1000.50"),
    ("1,-2", "1,-2"),
    ("3, 5, 7", "3,5,7"),
    ("90^\\circ", "90"),
    ("15\\mbox{ cm}^2", "15"),
    ("50%", "50\\%"),
    ("50 percent", "50\\%"),
    ("\\dfrac{1}{2}", "\\frac{1}{2}"),
    ("\\left( 3, \\frac{\\pi}{2} \\right)", "(3,\\frac{\\pi}{2})"),
    ("\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", "\\begin{pmatrix}1 \\\\ 2 \\end{pmatrix}"),
    ("5xy", "5xy"),  # a product, not 5 with a unit
    ("2 pi", "2 pi"),  # pi is not a unit
    ("x = 3 \\text{ cm}", "x=3"),
]


@pytest.mark.parametrize(("answer", "expected"), NORMALISED)
def test_normalise(answer: str, expected: str) -> None:
    assert normalise(answer) == expected


@pytest.mark.parametrize(
    ("answer", "letter"),
    [("C", "C"), ("(C)", "C"), ("\\text{(C)}", "C"), ("\\textbf{(C)}Plane", "C"), ("12", None)],
)
def test_choice_letter(answer: str, letter: str | None) -> None:
    assert choice_letter(normalise(answer)) == letter


@pytest.mark.parametrize(
    ("answer", "words"),
    [("\\text{Evelyn}", "evelyn"), ("an ellipse", "ellipse"), ("sin x", None), ("x", None)],
)
def test_text_answer(answer: str, words: str | None) -> None:
    assert text_answer(normalise(answer)) == words


@pytest.mark.parametrize(
    "text",
    [
        "\\boxed{" * 100_000,
        "{" * 500_000 + "}" * 500_000,
        "The answer is " * 50_000,
        "#### " * 100_000,
        "a" * 1_000_000,
    ],
    ids=["open-boxes", "deep-braces", "answer-phrases", "gsm8k-markers", "letters"],
)
def test_extraction_is_linear_on_megabyte_inputs(text: str) -> None:
    start = time.monotonic()
    answer = answer_from_text(text)
    if answer is not None:
        normalise(answer[:2000])
    assert time.monotonic() - start < 2.0
