"""The LM PPM's held-out record: accuracies and one row of scores a pair."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from tests.train.lm_ppm_fakes import pair
from thinktree.train.ppm.lm.held_out import (
    HeldOutScores,
    held_out_accuracy,
    held_out_rows,
    write_held_out,
)

# The first pair names its policy; the second, read from no run, names none.
PAIRS = [replace(pair("p1", 5), policy="m1"), pair("p2", 7, kind="final")]
TRAINED = (np.array([2.0, -1.0]), np.array([0.5, 3.0]))
BASE = (np.array([0.1, 0.2]), np.array([0.1, 0.0]))
LOGPROB = (np.array([-0.2, -0.9]), np.array([-0.4, -0.3]))
FEATURES = (np.array([0.9, 0.2]), np.array([0.1, 0.8]))


def test_accuracies_by_kind_and_baselines() -> None:
    held = held_out_accuracy(PAIRS, HeldOutScores(TRAINED, BASE, LOGPROB, FEATURES))
    assert held == {
        "lm_ppm": 0.5,
        "lm_ppm_clean": None,  # both rejected sides raised
        "lm_ppm_by_kind": {"final": 0.0, "step": 1.0},
        "base": 0.75,  # a tie counts half
        "mean_logprob": 0.5,
        "feature_ppm": 0.5,
        "by_policy": {
            "m1": {"lm_ppm": {"step": 1.0}, "mean_logprob": {"step": 1.0}},
            "unknown": {"lm_ppm": {"final": 0.0}, "mean_logprob": {"final": 0.0}},
        },
    }


def test_one_row_a_pair_with_its_answers_and_every_scorer(tmp_path: Path) -> None:
    rows = held_out_rows(PAIRS, HeldOutScores(TRAINED, BASE, LOGPROB, None))
    assert rows[1] == {
        "problem_id": "p2",
        "kind": "final",
        "node_id": 0,
        "clean": False,
        "policy": "",
        "chosen_answer": "x",
        "rejected_answer": None,  # the rejected side ends in a raising cell
        "chosen_steps": 3,
        "rejected_steps": 2,
        "scores": {
            "lm": [-1.0, 3.0],
            "base": [0.2, 0.0],
            "mean_logprob": [-0.9, -0.3],
            "feature": None,
        },
    }
    assert rows[0]["kind"] == "step" and rows[0]["chosen_steps"] == 1
    assert rows[0]["policy"] == "m1"
    path = tmp_path / "held_out.jsonl"
    write_held_out(path, rows)
    assert [json.loads(line) for line in path.read_text().splitlines()] == rows
