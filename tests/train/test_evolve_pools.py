"""Rounds over several evolve pools: one search per pool per round, SFT and the PPM
over all of them, the pools' dev slices and the round they choose, and the 1.5B
evolving itself (the pools' config: test_evolve_pool_config.py).

The rounds run on the fakes of tests/train/evolve_fakes.py: nothing loads a model.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.train.evolve_fakes import POOL, Clock, FakeSearcher, FakeTrainers, Killed, Recorder
from thinktree.models import find_embedded
from thinktree.train.evolve.config import EvolveConfig, load_evolve_config
from thinktree.train.evolve.figures import chosen_round, pooled
from thinktree.train.evolve.loop import Evolution
from thinktree.train.evolve.report import markdown_summary
from thinktree.train.evolve.results import read_results
from thinktree.train.evolve.stages import round_stages
from thinktree.train.export.ship import round_provenance

DEFAULT = find_embedded("default")
assert DEFAULT is not None
MORE = [(f"What is {a} times {b}?", a * b) for a, b in [(2, 3), (4, 5), (6, 7), (8, 9)]]
ROUND_0 = ["0:dev_greedy", "0:dev_mcts", "0:pool_dev_greedy_gsm", "0:pool_dev_greedy_hard",
           "0:pool_dev_sc_gsm", "0:pool_dev_sc_hard", "0:pool_search", "0:pool_search_hard"]  # fmt: skip
ROUND_1 = ["1:sft_data", "1:sft", "1:export", "1:parity", "1:ppm", "1:dev_greedy", "1:dev_mcts",
           "1:pool_dev_greedy_gsm", "1:pool_dev_greedy_hard", "1:pool_dev_sc_gsm",
           "1:pool_dev_sc_hard"]  # fmt: skip


def write_pool(path: Path, items: list[tuple[str, int]]) -> str:
    path.write_text("".join(json.dumps({"q": q, "a": a}) + "\n" for q, a in items))
    return str(path)


def two_pools(tmp_path: Path, **overrides: Any) -> EvolveConfig:
    """gsm: 10 problems, 3 then 2 a round, dev slice [8:10]; hard: 4 problems, 1 then 1,
    dev slice [3:4]; rounds 0..1; 2 + 1 test problems."""
    gsm = write_pool(tmp_path / "gsm.jsonl", POOL + [(q, a + 1) for q, a in POOL])
    hard = write_pool(tmp_path / "hard.jsonl", MORE)
    fields = {"benchmark": None, "question_field": "q", "answer_field": "a"}
    base: dict[str, Any] = {
        "rounds": 1,
        "pools": [
            {**fields, "data": gsm, "size": 3, "grow": 2, "dev": {"offset": 8, "size": 2}},
            {**fields, "data": hard, "size": 1, "grow": 1, "dev": {"offset": 3, "size": 1}},
        ],
        "dev.greedy_limit": 2,
        "dev.mcts_limit": 1,
    }
    return load_evolve_config(None, {**base, **overrides})


class Rig:
    def __init__(self, config: EvolveConfig, out: Path) -> None:
        self.config, self.out = config, out
        self.clock = Clock()
        self.searcher = FakeSearcher(self.clock)
        self.trainers = FakeTrainers(self.clock)

    def evolution(self, reporter: Recorder | None = None) -> Evolution:
        return Evolution(
            self.config, self.out, reporter, searcher=self.searcher,
            trainers=self.trainers.bundle(), clock=self.clock,
        )  # fmt: skip

    def run(self, reporter: Recorder | None = None) -> Recorder:
        reporter = reporter or Recorder()
        self.evolution(reporter).run()
        return reporter


def stages_of(out: Path, index: int) -> dict[str, Any]:
    manifest = json.loads((out / f"round-{index}" / "manifest.json").read_text())
    return {name: {k: v for k, v in figures.items() if k != "finished"}
            for name, figures in manifest["stages"].items()}  # fmt: skip


# -- rounds over two pools ------------------------------------------------------------------


def test_each_pool_is_searched_on_its_own_and_training_takes_them_all(tmp_path) -> None:
    rig = Rig(two_pools(tmp_path, rounds=2), tmp_path / "out")
    reporter = rig.run()
    round1, round2 = str(rig.out / "round-1"), str(rig.out / "round-2")
    assert reporter.started == [
        *ROUND_0, *ROUND_1, "1:pool_search", "1:pool_search_hard",
        *[name.replace("1:", "2:") for name in ROUND_1],
    ]  # fmt: skip
    r0 = str(rig.out / "round-0")
    assert rig.searcher.calls[:8] == [
        (r0, "greedy", None), (r0, "mcts", None),
        (r0, "greedy", None), (r0, "greedy", None), (r0, "sc", None), (r0, "sc", None),
        ("base", "mcts", "outcome"), ("base", "mcts", "outcome"),
    ]  # fmt: skip
    assert rig.searcher.calls[8:16] == [
        (round1, "greedy", None), (round1, "mcts", f"ppm:{round1}/ppm"),
        (round1, "greedy", None), (round1, "greedy", None), (round1, "sc", None),
        (round1, "sc", None),
        (round1, "mcts", f"ppm+outcome:{round1}/ppm"),
        (round1, "mcts", f"ppm+outcome:{round1}/ppm"),
    ]  # fmt: skip
    assert rig.searcher.calls[16:] == [
        (round2, "greedy", None), (round2, "mcts", f"ppm:{round2}/ppm"),
        (round2, "greedy", None), (round2, "greedy", None), (round2, "sc", None),
        (round2, "sc", None),
    ]  # fmt: skip
    zero, one, two = (stages_of(rig.out, i) for i in range(3))
    # Round 0: each pool's first problems and its dev slice; round 1: each pool's next ones.
    assert (zero["pool_search"]["n"], zero["pool_search_hard"]["n"]) == (3, 1)
    assert (one["pool_search"]["n"], one["pool_search_hard"]["n"]) == (2, 1)
    assert (zero["pool_dev_greedy_gsm"]["n"], zero["pool_dev_sc_hard"]["n"]) == (2, 1)
    runs = [zero["pool_search"]["run_id"], zero["pool_search_hard"]["run_id"]]
    assert one["ppm"]["runs"] == runs
    assert two["ppm"]["runs"] == [*runs, one["pool_search"]["run_id"],
                                  one["pool_search_hard"]["run_id"]]  # fmt: skip
    assert two["sft_data"]["runs"] == two["ppm"]["runs"]
    assert two["ppm"]["known"] == ["gsm/0", "gsm/1", "gsm/2", "hard/0"]
    solved = rig.searcher.solved
    assert solved[3:9] == ["gsm/8", "gsm/9", "hard/3", "gsm/8", "gsm/9", "hard/3"]
    assert solved[9:13] == ["gsm/0", "gsm/1", "gsm/2", "hard/0"]


def test_the_summary_pools_every_pool_and_its_dev_slice(tmp_path) -> None:
    rig = Rig(two_pools(tmp_path), tmp_path / "out")
    rows = rig.evolution().run()
    assert [(r["round"], r["pool_size"], r["pool_accuracy"]) for r in rows] == [
        (0, 4, 1.0), (1, None, None),
    ]  # fmt: skip
    assert rows[0]["pools"] == {"gsm": {"n": 3, "accuracy": 1.0},
                                "hard": {"n": 1, "accuracy": 1.0}}  # fmt: skip
    assert [(r["pool_dev_greedy"], r["pool_dev_greedy_n"], r["pool_dev_sc"], r["pool_dev_sc_n"])
            for r in rows] == [(1.0, 3, 1.0, 3), (1.0, 3, 1.0, 3)]  # fmt: skip
    assert rows[1]["pool_dev"] == {"pool_dev_greedy_gsm": 1.0, "pool_dev_sc_gsm": 1.0,
                                   "pool_dev_greedy_hard": 1.0, "pool_dev_sc_hard": 1.0}  # fmt: skip
    # Ties go to the earlier round.
    assert "round chosen on the pools' dev slices: 0 (greedy 100.0 % of 3, sc 100.0 % of 3)" in (
        markdown_summary(rows)
    )


def test_the_pools_dev_slices_choose_the_round(tmp_path) -> None:
    out = tmp_path / "out"
    figures = {  # (greedy gsm, greedy hard, sc gsm, sc hard) as (n, accuracy)
        0: [(2, 0.5), (1, 1.0), (2, 1.0), (1, 0.0)],  # greedy 2 of 3, sc 2 of 3
        1: [(2, 1.0), (1, 1.0), (2, 0.5), (1, 1.0)],  # greedy 3 of 3, sc 2 of 3
    }
    names = ["pool_dev_greedy_gsm", "pool_dev_greedy_hard", "pool_dev_sc_gsm", "pool_dev_sc_hard"]
    for index, pairs in figures.items():
        stages = {name: {"n": n, "accuracy": a} for name, (n, a) in zip(names, pairs, strict=True)}
        (out / f"round-{index}").mkdir(parents=True)
        (out / f"round-{index}" / "manifest.json").write_text(
            json.dumps({"round": index, "stages": stages, "data": {}})
        )
    rows = Evolution(two_pools(tmp_path), out).summary()
    assert [(r["pool_dev_greedy"], r["pool_dev_greedy_n"], r["pool_dev_sc"]) for r in rows] == [
        (2 / 3, 3, 2 / 3), (1.0, 3, 2 / 3),
    ]  # fmt: skip
    assert chosen_round(rows) == 1
    assert markdown_summary(rows).endswith(
        "round chosen on the pools' dev slices: 1 (greedy 100.0 % of 3, sc 66.7 % of 3)"
    )


def test_the_results_list_per_pool_stages_in_the_loop_s_order(tmp_path) -> None:
    rig = Rig(two_pools(tmp_path, rounds=2), tmp_path / "out")
    rig.run()
    results = read_results(rig.out)
    for result in results.rounds:
        names = [name for name, _ in result.stages]
        expected = [s.name for s in round_stages(result.index, rig.config)]
        assert names == [name for name in expected if name != "base_policy"]


@pytest.mark.parametrize(
    "kill_at", ["0:pool_dev_sc_hard", "0:pool_search_hard", "1:pool_dev_greedy_gsm"]
)
def test_a_rerun_after_a_kill_in_a_pool_stage_redoes_nothing_recorded(tmp_path, kill_at) -> None:
    rig = Rig(two_pools(tmp_path), tmp_path / "out")
    with pytest.raises(Killed):
        rig.run(Recorder(kill_at=kill_at))
    every = ROUND_0 + ROUND_1
    assert rig.run().started == every[every.index(kill_at) :]
    assert rig.run().started == []


def test_a_pool_adopts_its_own_stored_run(tmp_path) -> None:
    store = tmp_path / "runs.db"
    first = Rig(two_pools(tmp_path, rounds=0, store=str(store), bootstrap="other"), tmp_path / "a")
    first.run()
    adopted = stages_of(first.out, 0)["pool_search_hard"]["run_id"]
    config = two_pools(tmp_path, rounds=0, store=str(store), **{"pools.1.run": adopted})
    assert config.pool_run is None and config.pools[1].run == adopted
    second = Rig(config, tmp_path / "b")
    second.run()
    assert stages_of(second.out, 0)["pool_search_hard"]["run_id"] == adopted
    assert stages_of(second.out, 0)["pool_search"]["run_id"] != stages_of(first.out, 0)[
        "pool_search"]["run_id"]  # fmt: skip
    # Nothing of the adopted run is searched again; the other pool's round 0 is (new model).
    assert second.searcher.solved[-3:] == ["gsm/0", "gsm/1", "gsm/2"]


def test_an_unfinished_second_pool_search_holds_back_the_next_round(tmp_path) -> None:
    rig = Rig(two_pools(tmp_path), tmp_path / "out")
    with pytest.raises(Killed):
        rig.run(Recorder(kill_at="0:pool_search_hard"))
    with rig.evolution()._context() as context, pytest.raises(ValueError) as caught:
        context.pool_run_ids(1)
    assert str(caught.value) == "round 0's pool search of hard is not finished"


# -- evolving the 1.5B -----------------------------------------------------------------------


def test_the_1_5b_evolves_from_its_own_base_and_bootstraps_itself(tmp_path) -> None:
    rig = Rig(two_pools(tmp_path, policy="default", bootstrap="default"), tmp_path / "out")
    rig.run()
    policy = json.loads((rig.out / "round-0" / "policy.json").read_text())
    assert (policy["base"], policy["base_sha256"], policy["prompt_style"]) == (
        "qwen2.5-coder-1.5b-instruct", DEFAULT.sha256, "few-shot",
    )  # fmt: skip
    manifest = json.loads((rig.out / "round-1" / "manifest.json").read_text())
    assert (manifest["policy_base"], manifest["base_model_sha256"]) == (
        "qwen2.5-coder-1.5b-instruct", DEFAULT.sha256,
    )  # fmt: skip
    exported = json.loads((rig.out / "round-1" / "policy.json").read_text())
    assert (exported["base"], exported["prompt_style"]) == ("qwen2.5-coder-1.5b-instruct",
                                                            "zero-shot")  # fmt: skip
    assert [call[0] for call in rig.searcher.calls if call[2] == "outcome"] == ["default"] * 2


def test_the_real_trainers_train_and_export_over_the_policy_s_own_file(tmp_path, monkeypatch):
    """default_trainers binds SFT and export to the policy's base file: the 1.5B's for
    policy default (its GGUF, its tokenizer and chat template, read from that file)."""
    from thinktree.models import resolve as resolve_module
    from thinktree.train.evolve.trainers import default_trainers
    from thinktree.train.export import lora_gguf
    from thinktree.train.sft import training

    asked: list[str] = []
    gguf = tmp_path / "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"

    class Resolved:
        path = gguf

    def resolve(spec):
        asked.append(spec)
        return Resolved()

    seen: list[tuple[str, Path]] = []
    monkeypatch.setattr(resolve_module, "resolve_model", resolve)
    monkeypatch.setattr(training, "train_policy_lora",
                        lambda base, *rest, **kw: seen.append(("sft", base)))  # fmt: skip
    monkeypatch.setattr(lora_gguf, "export_lora_gguf",
                        lambda peft, base, dest: seen.append(("export", base)) or dest)  # fmt: skip
    config = two_pools(tmp_path, policy="default")
    trainers = default_trainers(config, DEFAULT.name, DEFAULT.sha256)
    trainers.sft([], tmp_path / "sft", lambda done, total: None, None)
    trainers.export(tmp_path / "peft", tmp_path / "adapter.gguf")
    assert asked == [DEFAULT.name, DEFAULT.name]
    assert seen == [("sft", gguf), ("export", gguf)]


# -- figures ---------------------------------------------------------------------------------


def test_pooled_figures_count_every_problem_once() -> None:
    assert pooled([{"n": 200, "accuracy": 0.55}, {"n": 100, "accuracy": 0.3}]) == (
        300, (110 + 30) / 300,
    )  # fmt: skip
    assert pooled([{"n": 7, "accuracy": 3 / 7}]) == (7, 3 / 7)
    assert pooled([{"n": 7, "accuracy": 0.5}, None]) == (None, None)
    assert pooled([]) == (None, None)


def test_the_round_with_the_best_dev_slices_is_chosen_ties_to_the_earlier() -> None:
    rows = [
        {"round": 0, "pool_dev_greedy": 0.50, "pool_dev_sc": 0.60},
        {"round": 1, "pool_dev_greedy": 0.55, "pool_dev_sc": 0.58},
        {"round": 2, "pool_dev_greedy": 0.60, "pool_dev_sc": 0.53},
        {"round": 3, "pool_dev_greedy": 0.70, "pool_dev_sc": None},
    ]
    assert chosen_round(rows) == 1  # 1.13 against 1.10, 1.13; round 3 is not whole
    assert chosen_round(rows[:1]) == 0
    assert chosen_round([{"round": 0, "pool_dev_greedy": None, "pool_dev_sc": None}]) is None


def test_a_shipped_round_names_every_pool_and_its_dev_slices() -> None:
    manifest = {
        "round": 2,
        "config": {"pools": [{"benchmark": "gsm8k", "split": "train", "data": None},
                             {"benchmark": "math", "split": "train", "data": None}],
                   "dev": {"mcts_limit": 0}},
        "stages": {
            "sft_data": {"trajectories": 640},
            "dev_greedy": {"accuracy": 0.61, "n": 100},
            "pool_dev_sc_math": {"accuracy": 0.41, "n": 100},
            "pool_dev_greedy_gsm8k": {"accuracy": 0.575, "n": 200},
            "parity": {"agree": 0.992, "positions": 256},
        },
    }  # fmt: skip
    assert round_provenance(manifest) == {
        "round": 2,
        "data": "gsm8k train + math train, 640 trajectories",
        "dev_greedy": "61.0% of 100",
        "pool_dev_greedy_gsm8k": "57.5% of 200",
        "pool_dev_sc_math": "41.0% of 100",
        "parity": "99.2% of 256 tokens",
    }


def test_a_round_without_dev_mcts_ships_when_its_config_runs_none(tmp_path) -> None:
    from thinktree.train.export import ship

    round_dir = tmp_path / "round-1"
    round_dir.mkdir()
    stages = {"export": {}, "ppm": {}, "dev_greedy": {"accuracy": 0.5, "n": 10}}
    for mcts_limit, message in ((0, "holds no policy.json"), (50, r"\(dev_mcts not done\)")):
        manifest = {"round": 1, "config": {"pools": [{"benchmark": "gsm8k", "split": "train"}],
                                           "dev": {"mcts_limit": mcts_limit}}, "stages": stages}  # fmt: skip
        (round_dir / "manifest.json").write_text(json.dumps(manifest))
        with pytest.raises(ValueError, match=message):
            ship.ship_round(round_dir, tmp_path / "dest")
