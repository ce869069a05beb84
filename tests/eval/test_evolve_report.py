"""The evolve recipe's report (``analyses: [evolve]``): evolve.json from hand-made rounds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from thinktree.eval.bench import parse_recipe, write_report
from thinktree.store import ResultRow, RunStore

MEASURED = json.loads(
    (Path(__file__).resolve().parents[2] / "benchmarks/results/evolve.json").read_text()
)
"""The committed evolve.json, written by the script this report replaced: its schema."""
ROUND_KEYS = list(MEASURED["rounds"][0])

# Which of four problems each dev run answered right.
RIGHT = {
    "g0": "1000", "m0": "0100",  # round 0
    "g1": "1110", "m1": "0110",  # round 1, search only
    "g2": "1101", "m2": "0111",  # round 2
    "g1r": "0111", "m1r": "1110",  # round 1, search + reference
}  # fmt: skip
VS_ROUND0 = {"common": 4, "both": 1, "won": 2, "lost": 0, "neither": 1, "sign_test_p": 0.5}
ROWS = [
    {"round": 0, "pool_size": 3, "pool_accuracy": 0.5, "dev_greedy": 0.25, "dev_greedy_n": 4,
     "dev_mcts": 0.25, "dev_mcts_n": 4,
     "parity": {"agree": None, "base_agree": None, "positions": None}},
    {"round": 1, "pool_size": 2, "pool_accuracy": 1.0, "trajectories": 5, "pairs": 7,
     "sft_tokens": 900, "sft_minutes": 1.5, "holdout_loss_after": 0.25, "dev_greedy": 0.75,
     "dev_greedy_n": 4, "dev_greedy_in_format": 1.0, "dev_mcts": 0.5, "dev_mcts_n": 4,
     "dev_greedy_vs_round0": VS_ROUND0,
     "parity": {"agree": 0.875, "base_agree": 0.5, "positions": 8}},
    {"round": 2, "trajectories": 6, "dev_greedy": 0.75, "dev_mcts": 0.75,
     "parity": {"agree": None, "base_agree": None, "positions": None}},
]  # fmt: skip
REFERENCE_ROWS = [
    ROWS[0],
    {"round": 1, "trajectories": 9, "sft_tokens": 1500, "sft_minutes": 2.5,
     "holdout_loss_after": 0.5, "dev_greedy": 0.75, "dev_greedy_n": 4,
     "dev_greedy_in_format": 0.75, "dev_mcts": 0.75, "dev_mcts_n": 4},
]  # fmt: skip
SERVE = {"adapter_sha256": "ab", "servings": {"base": {"decode_tok_s": 40.0}},
         "merged_over_adapter": {"decode_tok_s": 1.1}, "merged_q8_0_agree": 0.99,
         "base_agree": 0.9, "positions": 10, "command": "python x.py", "machine": "not copied"}  # fmt: skip


def write(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def write_round(directory: Path, index: int, greedy: str, mcts: str) -> None:
    write(directory / f"round-{index}" / "manifest.json", {
        "round": index,
        "config": {"policy": "fast", "bootstrap": "default"},
        "stages": {"sft": {"sft_tokens": 1}, "dev_greedy": {"run_id": greedy},
                   "dev_mcts": {"run_id": mcts}},
    })  # fmt: skip


def make_store(path: Path, short: str | None = None) -> RunStore:
    """The dev runs of :data:`RIGHT`; run ``short`` lacks its last problem."""
    store = RunStore(path)
    for run_id, right in RIGHT.items():
        store.create_run(run_id, fingerprint=run_id, kind="eval", dataset="gsm8k:test",
                         strategy="greedy", model="m", config={}, manifest={})  # fmt: skip
        for i, bit in enumerate(right[:-1] if run_id == short else right):
            row = ResultRow(f"p{i}", i, "q", "1", "1" if bit == "1" else "2", bit == "1",
                            10, 5, 0, 1.0, "answer")  # fmt: skip
            store.add_result(run_id, row)
    return store


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A repository with both evolve runs' rounds and the serving benchmark."""
    main, reference = tmp_path / "runs" / "evolve", tmp_path / "runs" / "evolve-ref"
    write(main / "summary.json", ROWS)
    for index in range(3):
        write_round(main, index, f"g{index}", f"m{index}")
    write(reference / "summary.json", REFERENCE_ROWS)
    write_round(reference, 0, "g0", "m0")
    write_round(reference, 1, "g1r", "m1r")
    write(tmp_path / "benchmarks" / "results" / "serve_adapter.json", SERVE)
    return tmp_path


def report(root: Path, store: RunStore, options: dict[str, str] | None = None) -> dict[str, Any]:
    spec = {"results": "out/evolve.json", "analyses": ["evolve"], "options": options or {}}
    recipe = parse_recipe({"store": "runs.db", "reports": [spec]})
    path, _ = write_report(store, recipe, recipe.reports[0], root)
    return json.loads(path.read_text())


def row(**given: Any) -> dict[str, Any]:
    return dict.fromkeys(ROUND_KEYS) | given


def test_the_report_writes_evolve_json_from_the_rounds(root: Path) -> None:
    with make_store(root / "runs.db") as store:
        doc = report(root, store)
    assert list(doc) == list(MEASURED)
    assert [list(r) for r in doc["rounds"]] == [ROUND_KEYS] * 3
    assert list(doc["bootstrap_ablation"]) == list(MEASURED["bootstrap_ablation"])
    assert list(doc["bootstrap_ablation"]["search_only"]) == list(
        MEASURED["bootstrap_ablation"]["search_only"]
    )
    assert doc["notes"] == MEASURED["notes"]
    assert (doc["policy"], doc["bootstrap"], doc["complete"]) == ("fast", "default", True)
    assert doc["rounds"] == [
        row(round=0, pool_size=3, pool_accuracy=0.5, dev_greedy=0.25, dev_greedy_n=4,
            dev_mcts=0.25, dev_mcts_n=4),
        row(round=1, pool_size=2, pool_accuracy=1.0, trajectories=5, pairs=7, sft_tokens=900,
            sft_minutes=1.5, holdout_loss_after=0.25, dev_greedy=0.75, dev_greedy_n=4,
            dev_greedy_in_format=1.0, dev_mcts=0.5, dev_mcts_n=4,
            dev_greedy_vs_round0=VS_ROUND0),
        row(round=2, trajectories=6, dev_greedy=0.75, dev_mcts=0.75),
    ]  # fmt: skip
    assert doc["dev_vs_previous_round"] == [
        {"round": 1, "against": 0,
         "dev_greedy": VS_ROUND0,
         "dev_mcts": {"common": 4, "both": 1, "won": 1, "lost": 0, "neither": 2,
                      "sign_test_p": 1.0}},
        {"round": 2, "against": 1,
         "dev_greedy": {"common": 4, "both": 2, "won": 1, "lost": 1, "neither": 0,
                        "sign_test_p": 1.0},
         "dev_mcts": {"common": 4, "both": 2, "won": 1, "lost": 0, "neither": 1,
                      "sign_test_p": 1.0}},
    ]  # fmt: skip
    # Round 2 has no parity figures: round 1's is the latest.
    assert doc["parity"] == {"round": 1, "agree": 0.875, "base_agree": 0.5, "positions": 8}
    ablation = doc["bootstrap_ablation"]
    assert ablation["search_only"] == {
        "trajectories": 5, "sft_tokens": 900, "sft_minutes": 1.5, "holdout_loss_after": 0.25,
        "dev_greedy": 0.75, "dev_greedy_n": 4, "dev_greedy_in_format": 1.0, "dev_mcts": 0.5,
        "dev_mcts_n": 4, "dev_greedy_vs_round0": VS_ROUND0,
        "dev_greedy_run": "g1", "dev_mcts_run": "m1",
    }  # fmt: skip
    assert ablation["search_plus_reference"] == {
        "trajectories": 9, "sft_tokens": 1500, "sft_minutes": 2.5, "holdout_loss_after": 0.5,
        "dev_greedy": 0.75, "dev_greedy_n": 4, "dev_greedy_in_format": 0.75, "dev_mcts": 0.75,
        "dev_mcts_n": 4, "dev_greedy_vs_round0": None,
        "dev_greedy_run": "g1r", "dev_mcts_run": "m1r",
    }  # fmt: skip
    assert ablation["dev_greedy_reference_vs_search"] == {
        "common": 4, "both": 2, "won": 1, "lost": 1, "neither": 0, "sign_test_p": 1.0}  # fmt: skip
    assert ablation["dev_mcts_reference_vs_search"] == {
        "common": 4, "both": 2, "won": 1, "lost": 0, "neither": 1, "sign_test_p": 1.0}  # fmt: skip
    assert ablation["pooled"] == {"won": 2, "lost": 1, "sign_test_p": 1.0, "slices": 2}
    assert ablation["better"] == "search_plus_reference"
    assert ablation["rule"].startswith("reference solutions are on by default only if")
    assert doc["serving"] == {
        "adapter_sha256": "ab", "servings": {"base": {"decode_tok_s": 40.0}},
        "merged_over_adapter": {"decode_tok_s": 1.1}, "merged_q8_0_agree": 0.99,
        "base_agree": 0.9, "positions": 10, "file_mb": None, "command": "python x.py",
        "default": "adapter",
    }  # fmt: skip
    assert doc["command"].endswith("thinktree bench benchmarks/recipes/evolve.yaml --report-only")


def test_without_the_ablation_or_a_whole_dev_run_there_is_no_verdict(root: Path) -> None:
    with make_store(root / "runs.db") as store:
        doc = report(root, store, {"reference": "runs/none", "serving": "none.json"})
    assert list(doc["bootstrap_ablation"]) == ["search_only", "search_plus_reference"]
    assert doc["bootstrap_ablation"]["search_plus_reference"] is None
    assert doc["serving"] is None
    # The reference arm's mcts run is one problem short: greedy is compared, no verdict.
    with make_store(root / "short.db", short="m1r") as store:
        ablation = report(root, store)["bootstrap_ablation"]
    assert list(ablation) == ["search_only", "search_plus_reference",
                              "dev_greedy_reference_vs_search"]  # fmt: skip


def test_an_unfinished_main_run_is_said_in_one_line(root: Path) -> None:
    (root / "runs" / "evolve" / "summary.json").unlink()
    with make_store(root / "runs.db") as store, pytest.raises(ValueError) as caught:
        report(root, store)
    assert str(caught.value) == (
        f"no {root}/runs/evolve/summary.json: run the evolve recipe first (thinktree bench "
        "benchmarks/recipes/evolve.yaml writes it at the end of a sitting)"
    )
    (root / "runs" / "evolve" / "summary.json").write_text("{not json")
    with make_store(root / "other.db") as store, pytest.raises(ValueError, match="is not JSON"):
        report(root, store)


def test_the_evolve_recipe_writes_evolve_json_with_the_evolve_analysis() -> None:
    from thinktree.eval.bench import load_recipe

    recipe = load_recipe(Path(__file__).resolve().parents[2] / "benchmarks/recipes/evolve.yaml")
    (spec,) = recipe.reports
    assert (spec.results, spec.analyses) == ("benchmarks/results/evolve.json", ["evolve"])
