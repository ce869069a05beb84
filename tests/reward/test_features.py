"""Handcrafted PPM features: exact values, names recorded in the spec, old PPMs."""

from __future__ import annotations

import pytest

from thinktree.reward.base import ScoreItem
from thinktree.reward.features import (
    HANDCRAFTED_NAMES,
    HANDCRAFTED_V1,
    FeatureSpec,
    Featurizer,
    handcrafted,
)
from thinktree.steps import Step, StepKind

QUESTION = "Ann has 1,200 apples and gives away 3 boxes of 12.5 apples. How many are left?"


def _code(code: str, output: str, error: str | None = None) -> Step:
    kind = StepKind.ERROR if error else StepKind.CODE
    text = f" Work.\n```python\n{code}\n```\n"
    return Step(text=text, kind=kind, code=code, output=output, error=error, mean_logprob=-0.5)


def _final(answer: str) -> Step:
    return Step(text=f" The answer is \\boxed{{{answer}}}.", kind=StepKind.FINAL, answer=answer)


def _named(steps: list[Step]) -> dict[str, float]:
    return dict(zip(HANDCRAFTED_NAMES, handcrafted(QUESTION, steps), strict=True))


def test_sanity_features_of_a_solution_that_uses_every_quantity() -> None:
    steps = [_code("left = 1200 - 3 * 12.5\nprint(left)", "1162.5"), _final("1162.5")]
    values = _named(steps)
    assert values["question_numbers_used"] == 1.0
    assert values["answer_fractional"] == 1.0
    assert values["answer_negative"] == 0.0
    assert values["output_fractional"] == 1.0
    assert values["answer_matches_output"] == 1.0
    assert values["answer_integer"] == 0.0
    assert values["final"] == 1.0
    assert values["depth"] == 2.0


def test_sanity_features_of_a_solution_that_drops_a_quantity() -> None:
    steps = [_code("left = 1200 - 12\nprint(left)", "1188"), _final("-1,188")]
    values = _named(steps)
    # The question gives 1200 ("1,200"), 3 and 12.5; the code writes only 1200.
    assert values["question_numbers_used"] == pytest.approx(1 / 3)
    assert values["answer_fractional"] == 0.0
    assert values["answer_negative"] == 1.0
    assert values["output_fractional"] == 0.0


def test_error_steps_and_questions_without_numbers() -> None:
    steps = [_code("print(y)", "NameError: name 'y' is not defined", error="NameError")]
    values = dict(zip(HANDCRAFTED_NAMES, handcrafted("Why?", steps), strict=True))
    assert values["question_numbers_used"] == 1.0
    assert values["error"] == 1.0
    assert values["consecutive_errors"] == 1.0
    assert values["error_share"] == 1.0
    assert values["output_fractional"] == 0.0
    assert values["answer_negative"] == 0.0
    assert values["mean_logprob"] == -0.5


def test_the_spec_records_and_selects_its_features() -> None:
    spec = FeatureSpec(("handcrafted",), handcrafted=("error", "answer_negative"))
    assert FeatureSpec.from_dict(spec.to_dict()) == spec
    item = ScoreItem(QUESTION, [_final("-4")])
    assert Featurizer(spec).features([item]).tolist() == [[0.0, 1.0]]
    assert Featurizer(FeatureSpec(("handcrafted",))).features([item]).shape == (1, 19)


def test_a_ppm_written_before_features_were_named_reads_the_first_fifteen() -> None:
    old = {"kinds": ["handcrafted"], "model": None, "context": "full", "backend": "torch"}
    assert FeatureSpec.from_dict(old).handcrafted == HANDCRAFTED_V1
    assert len(HANDCRAFTED_V1) == 15 and HANDCRAFTED_V1[-1] == "answer_matches_output"


def test_an_unknown_feature_name_is_refused_with_the_known_names() -> None:
    with pytest.raises(ValueError, match="unknown handcrafted features \\['nope'\\]"):
        FeatureSpec(("handcrafted",), handcrafted=("error", "nope"))
