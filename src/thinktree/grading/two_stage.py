"""Two-stage ANTLR parsing for latex2sympy inside a grader worker.

latex2sympy's parser runs ANTLR's default prediction mode, full LL, which on
every ambiguous decision re-simulates the grammar with the whole parser stack
("full context") and caches little of that work. Most of a worker's time goes
there (profiled on the regression corpus: about three quarters of a cold check
is LaTeX parsing). ANTLR's documented remedy is two-stage parsing: parse in SLL
mode, whose predictions are all cached in the DFA, and only if that fails parse
again in LL mode. For an input SLL parses without a syntax error the result can
differ from LL's only where the grammar is ambiguous, so the rule is checked,
not assumed: ``tests/grading/test_two_stage.py`` compares both parsers' SymPy
results on every answer of both regression corpora.

Installed once per worker process by :func:`install`; never in the caller's
process, which does not import math-verify at all.
"""

from __future__ import annotations

from typing import Any

_INSTALLED_FLAG = "_thinktree_two_stage"


def install() -> bool:
    """Make latex2sympy parse SLL first, LL on failure; False if its API is not the one known."""
    try:
        from antlr4.atn.PredictionMode import PredictionMode
        from latex2sympy2_extended import latex2sympy2
    except ImportError:
        return False
    converter = getattr(latex2sympy2, "_Latex2Sympy", None)
    if converter is None or not all(hasattr(converter, a) for a in ("create_parser", "parse")):
        return False
    if getattr(converter, _INSTALLED_FLAG, False):
        return True
    create_parser, parse = converter.create_parser, converter.parse

    def create_sll_first(self: Any, latex: str) -> Any:
        parser = create_parser(self, latex)
        if getattr(self, "_sll", False):
            parser._interp.predictionMode = PredictionMode.SLL
        return parser

    def parse_two_stage(self: Any, latex: str) -> Any:
        # latex2sympy's error listener raises on the first syntax error, so a
        # failed SLL parse (or a conversion that rejects its tree) ends here and
        # the LL parse decides, exactly as without this module.
        self._sll = True
        try:
            return parse(self, latex)
        except Exception:
            self._sll = False
            return parse(self, latex)

    converter.create_parser = create_sll_first
    converter.parse = parse_two_stage
    setattr(converter, _INSTALLED_FLAG, True)
    return True
