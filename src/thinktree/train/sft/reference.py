"""GSM8K reference solutions as verified step-format trajectories.

A GSM8K worked solution is prose with calculator annotations,
``Natalia sold 48/2 = <<48/2=24>>24 clips in May.``, and a last line
``#### 72``. :func:`convert_solution` rewrites it in the step format, as the
policy would have written it; :mod:`thinktree.train.sft.reference_check` runs
the cells in the sandbox and keeps a trajectory only when it reaches the gold
answer.

Rules
-----
- Each line with at least one well-formed annotation ``<<expr=result>>`` is one
  step: a cell whose comments are the line's prose with the annotations removed
  (``# Natalia sold 48/2 = 24 clips in May.``), then one assignment per
  annotation, ``name = expr``, then ``print(<last name>)``. Lines without an
  annotation are folded into the next step's comments; those after the last
  annotated line into the last step's. Blank lines and ``#### n`` are dropped.
- The expression is re-written by :func:`ast.unparse` (``48/2`` -> ``48 / 2``).
  A literal is replaced by the variable of an earlier annotation (of this step
  or an earlier one) when, computed exactly with fractions, exactly one earlier
  expression has that value, the number occurs once in the expression
  (``(75/100)*100``: which 100 would it be?), it does not occur in the question
  (as digits or as a number word: ``twice``, ``dozen``, ``seven``), and it is
  not 1 or 2 (:data:`SMALL_LITERALS`).
  So a cell builds on earlier ones as a model's would, and a replacement never
  changes a value (exactly; as a float it may differ in the last bits): a result the writer rounded (``<<10/3=3.33>>``) is not
  replaced, since 3.33 is not exactly 10/3.
- A variable is named after the word that follows the result in the prose
  (``24 clips`` -> ``clips``) when that word is lower case, three letters or
  more, and not a function word, keyword, builtin or module name; else
  ``percent`` (a ``%`` follows), ``dollars`` (a ``$`` precedes), else ``step<n>``
  (``step<n>_<k>`` for the k-th annotation of a step with several). A name
  taken earlier gets a count: ``clips2``. Deterministic, never clever.
- Step texts are exactly what the policy generates after ``Step n:``: a code
  step is ``"\\n```python\\n<code>\\n```\\n"`` (generation stops at
  ``Output:``) and the last step is ``"\\nAnswer: \\\\boxed{<gold>}"``, with the
  gold answer as the loader gives it (commas removed), rendered by
  :mod:`thinktree.steps.render`. ``parse_step`` of each text gives back its
  kind, code and answer: checked for every step.

What is rejected, and why (:class:`Rejection`)
----------------------------------------------
- ``no-annotation``: the solution has no annotation (it reasons in algebra or
  prose only); there is nothing to compute.
- ``unsafe-expression``: an annotation that is malformed (no ``=``, a result
  that is not a plain number, a stray ``<<`` or ``>>``) or whose expression is
  not plain arithmetic: only digits, ``+ - * / ( ) .`` and spaces, and of
  Python's syntax only numbers, ``+ - * / //`` and unary signs (``560//10``
  occurs; ``**`` is refused, as a power can make a number too big to compute). Also prose holding a stop string (``Output:``, ``Question:``)
  or a code fence, which no generated step can contain. The expression is
  parsed with :mod:`ast`, never evaluated by Python in this process; the exact
  values used for the replacement rule are computed by a walk over that tree.
- ``cell-error``: a cell raised or timed out in the sandbox (e.g. a division by
  zero the writer did not notice).
- ``wrong-answer``: every cell ran, but the last cell's printed output is not
  the gold answer by the judge; typically the last annotated line is not the
  final answer (the answer is stated in prose, or an earlier line holds it).

Cells are run and judged by :mod:`thinktree.train.sft.reference_check`.
"""

from __future__ import annotations

import ast
import builtins
import keyword
import math
import re
from collections import Counter
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction

from thinktree.problems import Problem
from thinktree.steps import (
    STOP_STRINGS,
    Step,
    StepKind,
    code_step_text,
    final_step_text,
    parse_step,
)

MAX_EXPRESSION_CHARS = 200

SMALL_LITERALS: frozenset[Fraction] = frozenset({Fraction(1), Fraction(2)})
"""Literals never replaced by a variable: as often "per one" or "double" as a copied result."""

NUMBER_WORDS: dict[str, int] = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
    "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17,
    "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40,
    "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
    "hundred": 100, "thousand": 1000, "dozen": 12, "half": 2, "twice": 2,
    "double": 2, "pair": 2, "triple": 3, "thrice": 3, "quarter": 4,
}  # fmt: skip
"""Number words in a question that make a literal ambiguous (``twice`` -> 2)."""

_NOT_NAMES = frozenset((
    "the", "and", "but", "then", "from", "with", "into", "onto", "over", "off", "out", "per",
    "each", "every", "all", "any", "more", "less", "fewer", "than", "left", "after", "before",
    "total", "altogether", "together", "remaining", "extra", "additional", "other", "another",
    "different", "are", "was", "were", "been", "has", "have", "had", "will", "would", "can",
    "could", "that", "which", "this", "these", "those", "there", "here", "what", "when",
    "where", "who", "how", "only", "just", "also", "now", "still", "square", "cubic", "times",
    "time", "step", "print", "math", "fractions", "sympy", "numpy", "itertools", "decimal",
    "statistics",
))  # fmt: skip
"""Words that follow a number but name no quantity (``5 more``, ``3 per``), and taken names."""

_ANNOTATION = re.compile(r"<<([^<>]*)>>")
_NUMBER = re.compile(r"-?(?:\d+\.?\d*|\.\d+)")
_ARITHMETIC_CHARS = re.compile(r"[0-9+\-*/(). ]+")
_QUESTION_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?|\.\d+")
_WORD = re.compile(r"[a-z]+")
_AFTER_RESULT = re.compile(r"[\d,.]*(?P<percent>\s*%)?\s+(?P<word>[a-z]+)\b(?![-'’])")
_ALLOWED_BINOPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv)
_ALLOWED_UNARY = (ast.UAdd, ast.USub)


class Rejection(StrEnum):
    """Why a reference solution was not converted (see the module docstring)."""

    NO_ANNOTATION = "no-annotation"
    UNSAFE_EXPRESSION = "unsafe-expression"
    CELL_ERROR = "cell-error"
    WRONG_ANSWER = "wrong-answer"


class _Unsafe(Exception):
    """An annotation or a line that cannot become a step."""


@dataclass(frozen=True)
class _Annotation:
    tree: ast.expr
    value: Fraction | None
    """The exact value, ``None`` when it divides by zero."""
    name_hint: str | None


def reference_solution(problem: Problem) -> tuple[str, str]:
    """(GSM8K worked solution, gold answer); ValueError when the problem has neither."""
    solution = problem.meta.get("solution")
    if not isinstance(solution, str) or problem.answer is None:
        raise ValueError(
            f"problem {problem.id!r} has no GSM8K reference solution "
            "(meta['solution']) and gold answer"
        )
    return solution, problem.answer


def _checked_tree(expression: str) -> ast.expr:
    """The expression's syntax tree, if it is plain arithmetic; ``_Unsafe`` otherwise."""
    if len(expression) > MAX_EXPRESSION_CHARS or not _ARITHMETIC_CHARS.fullmatch(expression):
        raise _Unsafe(expression)
    try:
        tree = ast.parse(expression.strip(), mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise _Unsafe(expression) from None
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, _ALLOWED_BINOPS):
            continue
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, _ALLOWED_UNARY):
            continue
        if isinstance(node, ast.Constant) and type(node.value) in (int, float):
            continue
        if isinstance(node, _ALLOWED_BINOPS + _ALLOWED_UNARY):
            continue
        raise _Unsafe(expression)
    return tree


def _exact(node: ast.expr) -> Fraction | None:
    """The exact value of a checked tree; ``None`` on a division by zero."""
    if isinstance(node, ast.Constant):
        return _literal(node)
    if isinstance(node, ast.UnaryOp):
        operand = _exact(node.operand)
        if operand is None:
            return None
        return -operand if isinstance(node.op, ast.USub) else operand
    assert isinstance(node, ast.BinOp)
    left, right = _exact(node.left), _exact(node.right)
    if left is None or right is None:
        return None
    if isinstance(node.op, ast.Add):
        return left + right
    if isinstance(node.op, ast.Sub):
        return left - right
    if isinstance(node.op, ast.Mult):
        return left * right
    if right == 0:
        return None
    if isinstance(node.op, ast.FloorDiv):
        return Fraction(math.floor(left / right))
    return left / right


def _name_hint(line: str, start: int, end: int) -> str | None:
    """A readable name from the prose around the annotation at ``line[start:end]``."""
    after = _AFTER_RESULT.match(line, end)
    if after is not None:
        word = after.group("word")
        if _usable_name(word):
            return word
    if re.match(r"[\d,.]*\s*%", line[end:]):
        return "percent"
    if line[:start].rstrip().endswith("$"):
        return "dollars"
    return None


def _usable_name(word: str) -> bool:
    return (
        len(word) >= 3
        and word not in _NOT_NAMES
        and not keyword.iskeyword(word)
        and not keyword.issoftkeyword(word)
        and not hasattr(builtins, word)
    )


def _parse_line(line: str) -> tuple[str, list[_Annotation]]:
    """The line's prose without annotations, and its annotations in order."""
    annotations = []
    for match in _ANNOTATION.finditer(line):
        expression, equals, result = match.group(1).rpartition("=")
        if not equals or not _NUMBER.fullmatch(result.strip()):
            raise _Unsafe(match.group(0))
        tree = _checked_tree(expression)
        hint = _name_hint(line, match.start(), match.end())
        annotations.append(_Annotation(tree, _exact(tree), hint))
    prose = " ".join(_ANNOTATION.sub("", line).split())
    if "<<" in prose or ">>" in prose or "```" in prose:
        raise _Unsafe(prose)
    if any(stop in prose for stop in STOP_STRINGS):
        raise _Unsafe(prose)
    return prose, annotations


def _question_values(question: str) -> set[Fraction]:
    values = {Fraction(n.replace(",", "")) for n in _QUESTION_NUMBER.findall(question)}
    words = set(_WORD.findall(question.lower()))
    values.update(Fraction(v) for w, v in NUMBER_WORDS.items() if w in words)
    return values


class _Namer:
    """Unique variable names and the exact values they hold."""

    def __init__(self, ambiguous: set[Fraction]) -> None:
        self.ambiguous = ambiguous
        self.used: set[str] = set()
        self.by_value: dict[Fraction, list[str]] = {}

    def name(self, hint: str | None, step: int, index: int, count: int) -> str:
        base = hint or (f"step{step}" if count == 1 else f"step{step}_{index}")
        name, n = base, 1
        while name in self.used:
            n += 1
            name = f"{base}{n}"
        self.used.add(name)
        return name

    def bind(self, name: str, value: Fraction | None) -> None:
        if value is not None:
            self.by_value.setdefault(value, []).append(name)

    def substitute(self, tree: ast.expr) -> ast.expr:
        """``tree`` with each literal that stands for one earlier result replaced by
        that result's variable (the rules in the module docstring)."""
        literals = Counter(_literals(tree))
        replace = {}
        for value, count in literals.items():
            names = self.by_value.get(value, [])
            if count == 1 and len(names) == 1 and value not in self.ambiguous | SMALL_LITERALS:
                replace[value] = names[0]
        return _ReplaceLiterals(replace).visit(tree)


def _literal(node: ast.Constant) -> Fraction:
    return Fraction(repr(node.value))


def _negated(node: ast.AST) -> ast.Constant | None:
    """The constant of ``-c``: a negative number is one literal, as the writer meant."""
    if (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, ast.USub)
        and isinstance(node.operand, ast.Constant)
    ):
        return node.operand
    return None


def _literals(node: ast.AST) -> list[Fraction]:
    """The numbers written in a checked tree, ``-5`` as -5 (not as 5)."""
    negated = _negated(node)
    if negated is not None:
        return [-_literal(negated)]
    if isinstance(node, ast.Constant):
        return [_literal(node)]
    return [value for child in ast.iter_child_nodes(node) for value in _literals(child)]


class _ReplaceLiterals(ast.NodeTransformer):
    def __init__(self, names: dict[Fraction, str]) -> None:
        self.names = names

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.expr:
        negated = _negated(node)
        if negated is not None:
            name = self.names.get(-_literal(negated))
            return node if name is None else ast.Name(id=name, ctx=ast.Load())
        self.generic_visit(node)
        return node

    def visit_Constant(self, node: ast.Constant) -> ast.expr:
        name = self.names.get(_literal(node))
        return node if name is None else ast.Name(id=name, ctx=ast.Load())


def convert_solution(problem: Problem) -> list[Step] | Rejection:
    """The problem's reference solution as unexecuted steps, or why it cannot be.

    Code steps have kind ``CODE`` and no output yet; the last step is ``FINAL``
    with the gold answer. Raises ValueError for a problem without a reference
    solution and gold answer (not a GSM8K problem).
    """
    solution, gold = reference_solution(problem)
    body = solution.rsplit("####", 1)[0]
    namer = _Namer(_question_values(problem.question))
    cells: list[tuple[list[str], list[str]]] = []  # (comment lines, code lines)
    pending: list[str] = []
    try:
        for raw in body.splitlines():
            line = raw.strip()
            if not line:
                continue
            prose, annotations = _parse_line(line)
            if prose:
                pending.append(f"# {prose}")
            if not annotations:
                continue
            step = len(cells) + 1
            code = []
            for index, annotation in enumerate(annotations, start=1):
                name = namer.name(annotation.name_hint, step, index, len(annotations))
                expression = ast.unparse(namer.substitute(annotation.tree))
                namer.bind(name, annotation.value)
                code.append(f"{name} = {expression}")
            code.append(f"print({name})")
            cells.append((pending, code))
            pending = []
    except _Unsafe:
        return Rejection.UNSAFE_EXPRESSION
    if not cells:
        return Rejection.NO_ANNOTATION
    cells[-1][0].extend(pending)
    steps = []
    for comments, code in cells:
        source = "\n".join([*comments, *code])
        steps.append(Step(text=code_step_text(source), kind=StepKind.CODE, code=source))
    steps.append(Step(text=final_step_text(gold), kind=StepKind.FINAL, answer=gold))
    for step in steps:
        _check_round_trip(step)
    return steps


def _check_round_trip(step: Step) -> None:
    parsed = parse_step(step.text)
    if (parsed.text, parsed.kind, parsed.code, parsed.answer) != (
        step.text,
        step.kind,
        step.code,
        step.answer,
    ):
        raise AssertionError(f"reference step does not parse back as written: {step.text!r}")


def reference_steps(problem: Problem) -> list[Step] | None:
    """The reference solution as unexecuted steps; ``None`` when it cannot be converted."""
    steps = convert_solution(problem)
    return None if isinstance(steps, Rejection) else steps
