"""Shapes that warm a grader worker's LaTeX parser before it says it is ready.

latex2sympy's ANTLR parser predicts with a DFA that starts empty in every
process and is filled lazily, one grammar decision at a time; in a fresh worker
the first answers of each shape spend most of their time building it (measured
on the regression corpus: a cold worker takes about four times as long over its
175 sympy cases as one warmed with the pairs below). Comparing these generic
shapes once at start moves that cost into start-up, where it is paid once per
worker instead of by the first answers graded.

The pairs are written for coverage of the grammar (numbers, fractions, roots,
powers, sets, tuples, intervals, relations, matrices, bases, functions, text,
units), not taken from any corpus: the benchmark's cold rate must stay a
figure about new answers.
"""

from __future__ import annotations

WARMUP_PAIRS: tuple[tuple[str, str], ...] = (
    ("0.375", "\\frac{3}{8}"),
    ("\\dfrac{3}{4}", "\\tfrac{6}{8}"),
    ("\\sqrt{2}+1", "1+\\sqrt[3]{2}"),
    ("3\\pi", "\\frac{\\pi}{3}"),
    ("3^{7}", "x^{2}+3x-4"),
    ("-3.25", "50\\%"),
    ("1\\pm\\sqrt{5}", "\\infty"),
    ("(1,2]", "[-\\infty,3)"),
    ("[1,2]\\cup(3,4)", "x \\in [-1,4]"),
    ("\\{1,2\\}", "\\{2,1\\}"),
    ("(1,2)", "(2,1)"),
    ("4,-1", "-1,4"),
    ("x=2", "y-3=0"),
    ("x\\geq 5", "x<3"),
    ("a \\le b", "a \\neq b"),
    ("\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}", "\\begin{bmatrix}1\\\\2\\end{bmatrix}"),
    ("101_2", "5_{10}"),
    ("\\sin(x)+\\cos^2 x", "\\tan\\theta"),
    ("\\log_2 8", "\\ln(e)"),
    ("|x-1|", "n!"),
    ("\\frac{7b+5}{12}", "a b c"),
    ("f(x)=2x", "\\mathbb{R}"),
    ("\\text{(A)}", "90^\\circ"),
    ("5\\text{ cm}", "\\$18"),
)
