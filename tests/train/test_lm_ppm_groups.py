"""Grouped LM PPM training: pairs of one problem and prefix read together, each distinct
side once (InstructGPT's reward-model batching), the same loss as pair by pair."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="needs the train extra")
pytest.importorskip("peft")
pytest.importorskip("gguf")

import thinktree.train.ppm.lm.plan as plan_module  # noqa: E402
from tests.train.lm_ppm_fakes import (  # noqa: E402
    CharTokenizer,
    base,
    load_tiny,
    node_pairs,
    one_thread,
    pair,
    tiny_model,
)
from thinktree.train.lora import lora_config  # noqa: E402
from thinktree.train.ppm.lm.config import LMPPMConfig  # noqa: E402
from thinktree.train.ppm.lm.output import BaseFile  # noqa: E402
from thinktree.train.ppm.lm.plan import (  # noqa: E402
    MAX_SIDES,
    curve_groups,
    pair_groups,
    step_plan,
)
from thinktree.train.ppm.lm.scoring import (  # noqa: E402
    group_logits,
    group_loss,
    pair_logits,
    pair_loss,
)
from thinktree.train.ppm.lm.tokens import group_tokens, pair_tokens  # noqa: E402
from thinktree.train.ppm.lm.training import train_lm_ppm  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")
__all__ = ["base", "one_thread"]  # fixtures, used by name


def test_a_node_s_pairs_read_each_distinct_side_once() -> None:
    pairs = node_pairs("p1", 5, goods=2, bads=2)  # (g0 b0) (g0 b1) (g1 b0) (g1 b1)
    group = group_tokens(CharTokenizer(), pairs, 256)
    assert len(group.sides) == 4
    assert group.pairs == ((0, 1), (0, 2), (3, 1), (3, 2))
    one = pair_tokens(CharTokenizer(), pairs[0], 256)
    assert group.shared == one.shared  # the question and the node's first step
    assert (group.sides[0], group.sides[1]) == (one.chosen, one.rejected)
    assert group.tokens == len(one.shared) + sum(len(s) for s in group.sides)
    assert group.truncated == 0


def test_group_loss_is_the_sum_of_its_pairs_losses_on_hand_set_logits() -> None:
    """Sides score 2, -1 and 0.5; pairs (0, 1) and (2, 1): side 1 is in both, so its
    mass term counts twice as much as the others'."""
    logits = torch.tensor([[0.0, 2.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [0.3, 1.0, 0.5, 0.0]])
    loss, scores = group_loss(logits, [(0, 1), (2, 1)], 1, 2, mass_weight=0.5)
    assert scores.tolist() == [2.0, -1.0, 0.5]
    apart = sum(
        float(pair_loss(logits[[c, r]], 1, 2, mass_weight=0.5)[0]) for c, r in [(0, 1), (2, 1)]
    )
    assert float(loss) == pytest.approx(apart, abs=1e-6)


def test_group_scores_equal_pair_by_pair_scores_on_the_tiny_model() -> None:
    from peft import get_peft_model

    model = get_peft_model(tiny_model(), lora_config(4, 8.0, 0.0))
    with torch.no_grad():
        for name, weight in model.named_parameters():
            if "lora_B" in name:
                weight.normal_(0, 0.5)
    model.eval()
    pairs = node_pairs("p1", 5, goods=2, bads=3)
    group = group_tokens(CharTokenizer(), pairs, 256)
    with torch.no_grad():
        together = group_logits(model, group, share_prefix=True)
        for (chosen, rejected), one in zip(group.pairs, pairs, strict=True):
            apart = pair_logits(model, pair_tokens(CharTokenizer(), one, 256), share_prefix=False)
            torch.testing.assert_close(together[[chosen, rejected]], apart, atol=1e-4, rtol=0)


def test_pairs_group_by_problem_kind_and_prefix_and_split_past_max_sides() -> None:
    big = node_pairs("p2", 7, goods=5, bads=5)  # 25 pairs of 10 sides
    pairs = [*node_pairs("p1", 5), pair("p1", 5), pair("p1", 5, kind="final"), *big]
    groups = pair_groups(pairs, grouped=True)
    # p1's node pairs and the lone step pair share problem, kind and prefix (the same
    # first step); the final pair is another kind.
    assert groups[:2] == [[0, 1, 2, 3, 4], [5]]
    rest = groups[2:]
    assert sorted(i for g in rest for i in g) == list(range(6, 31))
    for group in rest:
        sides = {s[0].text for i in group for s in (pairs[i].chosen, pairs[i].rejected)}
        assert len(sides) <= MAX_SIDES
    assert [len(g) for g in rest] == [15, 10]  # goods 0-2 x 5 bads (8 sides), then 3-4
    assert pair_groups(pairs, grouped=False) == [[i] for i in range(31)]


def test_steps_take_whole_groups_until_they_hold_enough_pairs(monkeypatch) -> None:
    orders = {0: (2, 0, 1, 3), 1: (1, 3, 0, 2)}
    monkeypatch.setattr(plan_module, "group_order", lambda count, seed, epoch: orders[epoch])
    plan_module._plan.cache_clear()
    sizes = [4, 1, 2, 3]  # 10 pairs
    config = LMPPMConfig(pairs_per_step=4, epochs=1.5, seed=7)
    # 15 pairs to visit: (2 0) holds 6, (1 3) 4, then epoch 1's (1 3) 4 (visited 14),
    # (0) 4 (18 >= 15: done).
    assert step_plan(sizes, config) == [(2, 0), (1, 3), (1, 3), (0,)]
    assert step_plan(sizes, config.model_copy(update={"max_steps": 2})) == [(2, 0), (1, 3)]
    assert step_plan(sizes, config.model_copy(update={"max_steps": 0})) == []
    plan_module._plan.cache_clear()


def test_ungrouped_steps_are_pairs_per_step_pairs_of_each_epoch_s_permutation() -> None:
    config = LMPPMConfig(pairs_per_step=2, epochs=1.0, seed=3)
    plan = step_plan([1] * 5, config)
    first, second = plan_module.group_order(5, 3, 0), plan_module.group_order(5, 3, 1)
    assert plan == [first[0:2], first[2:4], (first[4], second[0])]


FAST = dict(
    validation_fraction=0.3, pairs_per_step=4, learning_rate=1e-2, warmup=0.0, rank=4,
    alpha=8.0, dropout=0.1, bf16=False, max_length=256, feature_baseline=False,
)  # fmt: skip
# Four pairs (2 x 2) of each of 12 problems; p0 p2 p3 p7 p9 p11 are held out at 0.3.
NODES = [p for i in range(12) for p in node_pairs(f"p{i}", 3 + i)]


def test_grouped_training_learns_and_measures_as_pair_by_pair(
    tmp_path: Path, base: BaseFile
) -> None:
    grouped = LMPPMConfig(**FAST, max_steps=8)
    apart = grouped.model_copy(update={"group_pairs": False, "max_steps": 0})
    result = train_lm_ppm(NODES, tmp_path / "grouped", grouped, base, load=load_tiny)
    untrained = train_lm_ppm(NODES, tmp_path / "apart", apart, base, load=load_tiny)
    assert result is not None and untrained is not None
    training = result.record["training"]
    assert (training["groups_train"], training["pairs_train"], training["steps"]) == (6, 24, 8)
    held, before = training["held_out_accuracy"], untrained.record["training"]["held_out_accuracy"]
    assert held["base"] == before["base"]  # the untrained model's scores, grouped or not
    assert held["lm_ppm"] == 1.0
    assert result.losses[-1] < result.losses[0]


def test_a_stopped_grouped_run_resumes_exactly(tmp_path: Path, base: BaseFile) -> None:
    config = LMPPMConfig(**FAST, max_steps=5, save_steps=10)
    whole = train_lm_ppm(NODES, tmp_path / "whole", config, base, load=load_tiny)
    asked = iter([False, True])
    out = tmp_path / "stopped"
    assert train_lm_ppm(NODES, out, config, base, load=load_tiny, stop=lambda: next(asked)) is None
    resumed = train_lm_ppm(NODES, out, config, base, load=load_tiny)
    assert whole is not None and resumed is not None
    assert resumed.losses == whole.losses


def test_the_groups_probe_times_both_layouts_and_counts_sides_read(
    monkeypatch, tmp_path: Path
) -> None:
    """The probe on the tiny model: two step groups of 2 x 2 pairs (4 sides each) and a
    final pair; grouped it reads 4 + 4 + 2 sides, apart 2 a pair."""
    import json

    import thinktree.models
    import thinktree.train.export.hf_gguf as hf_gguf
    from tests.train.lm_ppm_fakes import write_base_gguf
    from thinktree.eval.bench.probes.base import ProbeContext
    from thinktree.models.resolve import ResolvedModel
    from thinktree.train.ppm.pairs import write_jsonl
    from thinktree.train.probes.lm_ppm_groups import PROBE

    gguf_file = write_base_gguf(tmp_path / "tiny.gguf")
    monkeypatch.setattr(
        thinktree.models,
        "resolve_model",
        lambda spec: ResolvedModel("tiny", gguf_file, True, "cd" * 32),
    )
    monkeypatch.setattr(hf_gguf, "load_hf_from_gguf", lambda path, sha256: load_tiny(path))
    pairs = [*node_pairs("p1", 5), *node_pairs("p2", 6), pair("p3", 7, kind="final")]
    write_jsonl(pairs, tmp_path / "pairs.jsonl.gz")
    said: list[str] = []
    options = PROBE.options(pairs="pairs.jsonl.gz", per_kind=2, out="groups.json")
    written = PROBE.run(options, ProbeContext(tmp_path, "thinktree bench x.yaml", said.append))
    doc = json.loads(written.read_text())
    assert sorted(doc["kinds"]) == ["final", "step"]
    step, final = doc["kinds"]["step"], doc["kinds"]["final"]
    assert (step["groups"], step["pairs"], step["sides_read_grouped"], step["sides_read_apart"]) == (
        2, 8, 8, 16,
    )  # fmt: skip
    assert (final["pairs"], final["sides_read_grouped"], final["sides_read_apart"]) == (1, 2, 2)
    assert doc["max_loss_gap_per_pair"] < 1e-4  # float32 here: the same loss either way
    assert said[0].startswith("step: 8 pairs in 2 groups: ")


def test_the_groups_probe_refuses_a_missing_pairs_file(tmp_path: Path) -> None:
    from thinktree.eval.bench.probes.base import ProbeContext, ProbeError
    from thinktree.train.probes.lm_ppm_groups import PROBE

    with pytest.raises(ProbeError, match=r"none\.jsonl is not a file; write one with"):
        PROBE.run(PROBE.options(pairs="none.jsonl"), ProbeContext(tmp_path, "x"))


def test_a_held_out_curve_is_measured_without_changing_the_training(
    tmp_path: Path, base: BaseFile
) -> None:
    plain = LMPPMConfig(**FAST, max_steps=6, save_steps=10)
    curved = plain.model_copy(update={"eval_steps": 2})
    without = train_lm_ppm(NODES, tmp_path / "plain", plain, base, load=load_tiny)
    asked = iter([False, False, True])  # stopped after step 3, then resumed
    out = tmp_path / "curved"
    assert train_lm_ppm(NODES, out, curved, base, load=load_tiny, stop=lambda: next(asked)) is None
    result = train_lm_ppm(NODES, out, curved, base, load=load_tiny)
    assert without is not None and result is not None
    assert result.losses == without.losses  # scoring the held-out pairs draws no dropout
    curve = result.record["training"]["held_out_curve"]
    assert [step for step, _ in curve] == [2, 4, 6]
    assert curve[-1][1] == result.record["training"]["held_out_accuracy"]["lm_ppm"]
    assert without.record["training"]["held_out_curve"] == [[6, curve[-1][1]]]


def test_the_curve_scores_whole_groups_until_it_holds_enough_pairs() -> None:
    assert curve_groups([5, 5, 5, 5], 0, seed=0) == [0, 1, 2, 3]
    for seed in range(5):
        assert len(curve_groups([5, 5, 5, 5], 5, seed)) == 1
        two = curve_groups([5, 5, 5, 5], 6, seed)
        assert len(two) == 2 and two == sorted(two)
        assert curve_groups([5, 5, 5, 5], 6, seed) == two  # seeded
    assert curve_groups([5, 5, 5, 5], 100, seed=0) == [0, 1, 2, 3]
    assert {tuple(curve_groups([1] * 20, 3, seed)) for seed in range(5)} != {(0, 1, 2)}


def test_a_curve_on_part_of_the_held_out_pairs_reports_all_of_them_at_the_end(
    tmp_path: Path, base: BaseFile
) -> None:
    config = LMPPMConfig(**FAST, max_steps=4, save_steps=10, eval_steps=2, eval_pairs=5)
    result = train_lm_ppm(NODES, tmp_path / "ppm", config, base, load=load_tiny)
    assert result is not None
    rows = [
        json.loads(line) for line in (tmp_path / "ppm" / "held_out.jsonl").read_text().splitlines()
    ]
    problems = list(dict.fromkeys(row["problem_id"] for row in rows))
    assert len(problems) > 2  # each held-out problem is one group of 4 pairs
    part = [problems[i] for i in curve_groups([4] * len(problems), 5, config.seed)]
    assert len(part) == 2

    def accuracy(selected: list[dict]) -> float:
        wins = sum((r["scores"]["lm"][0] > r["scores"]["lm"][1])
                   + 0.5 * (r["scores"]["lm"][0] == r["scores"]["lm"][1]) for r in selected)  # fmt: skip
        return wins / len(selected)

    curve = result.record["training"]["held_out_curve"]
    assert [step for step, _ in curve] == [2, 4]
    assert curve[-1][1] == accuracy([r for r in rows if r["problem_id"] in part])
    assert result.record["training"]["held_out_accuracy"]["lm_ppm"] == accuracy(rows)
