"""The evolve round loop and every stage, with a fake searcher and fake trainers.

No model runs and nothing trains: the fakes answer every problem at once and
write the files the real trainers would, so the ledger, the run store, the
resume logic and the time budget are what is tested.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.train.evolve_fakes import (
    Clock,
    FakeSearcher,
    FakeTrainers,
    Killed,
    Recorder,
    evolve_config,
    ledger_stages,
)
from thinktree.models import find_embedded
from thinktree.store import RunStore
from thinktree.train.evolve.config import EvolveConfig
from thinktree.train.evolve.context import (
    Budget,
    EvolveContext,
    EvolvePaths,
    EvolveStopped,
    PolicyBase,
    RoundContext,
)
from thinktree.train.evolve.ledger import RoundLedger
from thinktree.train.evolve.loop import Evolution
from thinktree.train.evolve.pool import Pool
from thinktree.train.evolve.stages import Export, round_stages

ROOT = Path(__file__).resolve().parents[2]
ROUND_0 = ["0:dev_greedy", "0:dev_mcts", "0:pool_search"]
ROUND_1 = ["1:sft_data", "1:sft", "1:export", "1:parity", "1:ppm", "1:dev_greedy", "1:dev_mcts"]


class Rig:
    """One evolve directory with its fakes; ``evolution()`` is a fresh sitting."""

    def __init__(self, tmp_path: Path, **overrides) -> None:
        self.config = evolve_config(tmp_path, **overrides)
        self.out = tmp_path / "out"
        self.clock = Clock()
        self.searcher = FakeSearcher(self.clock)
        self.trainers = FakeTrainers(self.clock)

    def evolution(self, reporter: Recorder | None = None, **overrides) -> Evolution:
        config = self.config.model_copy(update=overrides) if overrides else self.config
        return Evolution(
            config, self.out, reporter, searcher=self.searcher,
            trainers=self.trainers.bundle(), clock=self.clock,
        )  # fmt: skip

    def run(self, reporter: Recorder | None = None, **overrides) -> Recorder:
        reporter = reporter or Recorder()
        self.evolution(reporter, **overrides).run()
        return reporter


def test_two_rounds_run_every_stage_in_order_with_the_round_s_model_and_ppm(tmp_path) -> None:
    rig = Rig(tmp_path)
    reporter = rig.run()
    assert reporter.started == ROUND_0 + ROUND_1
    assert rig.trainers.calls == ["sft", "export", "parity", "ppm"]
    round1 = str(rig.out / "round-1")
    assert rig.searcher.calls == [
        (str(rig.out / "round-0"), "greedy", None),
        (str(rig.out / "round-0"), "mcts", None),
        ("base", "mcts", "outcome"),
        (round1, "greedy", None),
        (round1, "mcts", f"ppm:{round1}/ppm"),
    ]
    policy = json.loads((rig.out / "round-0" / "policy.json").read_text())
    assert (policy["base"], policy["adapter"], policy["prompt_style"]) == (
        "qwen2.5-coder-0.5b-instruct",
        None,
        "few-shot",
    )
    zero, one = ledger_stages(rig.out, 0), ledger_stages(rig.out, 1)
    assert sorted(zero) == ["dev_greedy", "dev_mcts", "pool_search"]
    assert (zero["pool_search"]["n"], zero["pool_search"]["accuracy"]) == (3, 1.0)
    assert one["ppm"]["runs"] == [zero["pool_search"]["run_id"]]
    assert one["ppm"]["known"] == []  # round 1: nothing searched before round 0's pool
    assert one["parity"] == {
        "agree": 0.95, "base_agree": 0.5, "positions": 8, "texts": 0, "held_out": False,
    }  # fmt: skip
    assert (one["sft"]["sft_tokens"], one["sft"]["sft_minutes"]) == (120, 0.5)
    assert one["export"]["adapter_bytes"] == len(b"adapter of round-1")
    manifest = json.loads((rig.out / "round-1" / "manifest.json").read_text())
    assert manifest["parent"] == 0
    assert manifest["data"]["sft_sha256"] == one["sft_data"]["sha256"]


def test_a_middle_round_searches_new_pool_problems_with_ppm_and_outcome(tmp_path) -> None:
    rig = Rig(tmp_path, rounds=2)
    rig.run()
    round1 = str(rig.out / "round-1")
    assert (round1, "mcts", f"ppm+outcome:{round1}/ppm") in rig.searcher.calls
    assert ledger_stages(rig.out, 1)["pool_search"]["n"] == 2  # pool.grow new problems
    assert "pool_search" not in ledger_stages(rig.out, 2)  # the last round searches none
    known = ledger_stages(rig.out, 2)["ppm"]["known"]
    assert known == ["pool/0", "pool/1", "pool/2"]  # round 0's problems; round 1's are new


def test_a_skipped_ppm_leaves_the_round_on_outcome_rewards_and_is_tried_again(tmp_path) -> None:
    rig = Rig(tmp_path, rounds=2)
    rig.trainers.ppm_fails = True
    reporter = rig.run()
    round1 = str(rig.out / "round-1")
    assert ledger_stages(rig.out, 1)["ppm"] == {
        "pairs": None,
        "skipped": "2 pairs; at least 20 are needed",
    }
    assert reporter.notes == [
        "round 1: no PPM (2 pairs; at least 20 are needed)",
        "round 2: no PPM (2 pairs; at least 20 are needed)",
    ]
    assert (round1, "mcts", None) in rig.searcher.calls  # dev MCTS without a scorer
    assert (round1, "mcts", "outcome") in rig.searcher.calls  # pool search on outcomes
    assert not (rig.out / "round-1" / "ppm").exists()
    rig.trainers.calls.clear()
    again = rig.run()
    # Only the skipped PPMs are tried again; nothing else is redone.
    assert again.started == ["1:ppm", "2:ppm"]
    assert rig.trainers.calls == ["ppm", "ppm"]


@pytest.mark.parametrize("enabled", [False, True])
def test_references_join_the_sft_data_only_when_enabled(tmp_path, enabled) -> None:
    rig = Rig(tmp_path, rounds=2, **{"reference.enabled": enabled})
    reporter = rig.run()
    figures = ledger_stages(rig.out, 1)["sft_data"]
    if not enabled:
        assert "references" not in rig.trainers.calls
        assert not (rig.out / "references.jsonl").exists()
        assert (figures["trajectories"], figures["from_reference"]) == (0, 0)
        assert rig.trainers.sft_data == [[], []]
        return
    # Converted once (round 1), read back from OUT/references.jsonl in round 2.
    assert rig.trainers.calls.count("references") == 1
    assert reporter.started.count("0:references") == 1
    assert (figures["trajectories"], figures["from_search"], figures["from_reference"]) == (2, 0, 2)
    assert figures["problems"] == 2
    for data in rig.trainers.sft_data:
        assert [(t.problem_id, t.source) for t in data] == [
            ("pool/0", "reference"),
            ("pool/1", "reference"),
        ]
    assert (rig.out / "references.jsonl").read_text().count("\n") == 2


EVERY_STAGE = ROUND_0 + ROUND_1


@pytest.mark.parametrize("kill_at", EVERY_STAGE)
def test_a_rerun_after_a_kill_redoes_nothing_already_recorded(tmp_path, kill_at) -> None:
    rig = Rig(tmp_path)
    with pytest.raises(Killed):
        rig.run(Recorder(kill_at=kill_at))
    before = {i: ledger_stages(rig.out, i) for i in (0, 1) if (rig.out / f"round-{i}").exists()}
    rig.trainers.calls.clear()
    rig.searcher.calls.clear()
    again = rig.run()
    assert again.started == EVERY_STAGE[EVERY_STAGE.index(kill_at) :]
    for index, stages in before.items():
        after = ledger_stages(rig.out, index)
        assert {name: after[name] for name in stages} == stages  # recorded figures kept
    third = rig.run()
    assert third.started == []


def test_max_minutes_stops_between_stages_and_a_rerun_goes_on(tmp_path) -> None:
    rig = Rig(tmp_path, max_minutes=30)
    rig.trainers.sft_minutes = 31  # SFT uses up the budget
    reporter = Recorder()
    evolution = rig.evolution(reporter)
    with pytest.raises(EvolveStopped, match="time budget reached"):
        evolution.run()
    assert reporter.started == [*ROUND_0, "1:sft_data", "1:sft"]
    assert sorted(ledger_stages(rig.out, 1)) == ["sft", "sft_data"]
    rows = evolution.summary()
    assert [(r["round"], r["pool_size"], r["sft_tokens"], r["dev_greedy"]) for r in rows] == [
        (0, 3, None, 1.0),
        (1, None, 120, None),
    ]
    rig.trainers.sft_minutes = 0
    again = rig.run()
    assert again.started == ["1:export", "1:parity", "1:ppm", "1:dev_greedy", "1:dev_mcts"]


def test_max_minutes_stops_inside_a_search_and_the_rerun_resumes_its_run(tmp_path) -> None:
    rig = Rig(tmp_path, max_minutes=2.5, **{"dev.greedy_limit": 4})
    rig.searcher.minutes_each = 1.0
    with pytest.raises(EvolveStopped, match="round 0 dev_greedy stopped at the time budget"):
        rig.run()
    manifest = json.loads((rig.out / "round-0" / "manifest.json").read_text())
    assert manifest["stages"] == {}
    run_id = manifest["data"]["dev_greedy_run"]
    with RunStore(rig.out / "runs.db") as store:
        assert len(store.results(run_id)) == 3  # the third problem ended past the deadline
    rig.searcher.minutes_each = 0.0
    rig.searcher.solved.clear()
    rig.run(max_minutes=None)
    assert ledger_stages(rig.out, 0)["dev_greedy"]["run_id"] == run_id
    assert ledger_stages(rig.out, 0)["dev_greedy"]["n"] == 4
    assert rig.searcher.solved[0] == "gsm8k/test/3"  # only the one left


def test_an_sft_stopped_at_a_checkpoint_stops_the_evolution(tmp_path) -> None:
    rig = Rig(tmp_path)
    rig.trainers.sft_stops = True
    with pytest.raises(EvolveStopped, match="round 1 sft stopped at a checkpoint"):
        rig.run()
    assert "sft" not in ledger_stages(rig.out, 1)


def test_a_ppm_stopped_at_a_checkpoint_stops_the_evolution_and_the_rerun_resumes_it(
    tmp_path,
) -> None:
    """An LM PPM is stopped at the round's deadline like SFT: the stage is not recorded,
    and the next call trains it again (the trainer resumes from its checkpoint)."""
    rig = Rig(tmp_path)
    rig.trainers.ppm_stops = True
    with pytest.raises(EvolveStopped, match="round 1 ppm stopped at a checkpoint"):
        rig.run(max_minutes=500)
    assert "ppm" not in ledger_stages(rig.out, 1)
    assert rig.trainers.ppm_deadlines[-1] is not None  # the budget's, handed to the trainer
    rig.trainers.ppm_stops = False
    rig.run()
    assert "ppm" in ledger_stages(rig.out, 1)
    # The second sitting trains only the PPM again: SFT, export and parity are recorded.
    assert rig.trainers.calls == ["sft", "export", "parity", "ppm", "ppm"]


def test_dev_stages_with_no_problems_are_not_run(tmp_path) -> None:
    rig = Rig(tmp_path, **{"dev.greedy_limit": 0, "dev.mcts_limit": 0})
    assert rig.run().started == ["0:pool_search", *ROUND_1[:5]]


def _stored_ledgers(tmp_path: Path, folder: str) -> tuple[Path, EvolveConfig]:
    out = tmp_path / folder
    for path in sorted((ROOT / "benchmarks" / "evolve" / folder).glob("round-*.json")):
        (out / path.stem).mkdir(parents=True)
        shutil.copy2(path, out / path.stem / "manifest.json")
    # The config the newest round ran with (ledgers-ref's round 0 is the shared one).
    newest = max(out.iterdir(), key=lambda d: int(d.name.split("-")[1]))
    config = json.loads((newest / "manifest.json").read_text())["config"]
    return out, EvolveConfig.model_validate(config)


def _done(out: Path, config: EvolveConfig, index: int) -> list[str]:
    ledger = RoundLedger.open(out / f"round-{index}", index, {})
    return [stage.name for stage in round_stages(index, config) if stage.done(ledger)]


def test_the_stored_ledgers_resume_with_the_right_stages_done(tmp_path) -> None:
    out, config = _stored_ledgers(tmp_path, "ledgers")
    assert config.rounds == 2
    # On a fresh machine: recorded stages whose artifacts are elsewhere are redone
    # (round 0's policy.json, the SFT data file, the exported policy, the PPM).
    assert _done(out, config, 0) == ["dev_greedy", "dev_mcts", "pool_search"]
    assert _done(out, config, 1) == ["sft", "parity", "dev_greedy", "dev_mcts", "pool_search"]
    assert _done(out, config, 2) == ["sft", "parity", "dev_greedy", "dev_mcts"]
    for index in (1, 2):
        directory = out / f"round-{index}"
        (directory / "sft.jsonl").write_text("")
        (directory / "policy.json").write_text("{}")
        (directory / "ppm").mkdir()
        for name in ("ppm.json", "head.npz"):
            (directory / "ppm" / name).write_text("")
    (out / "round-0" / "policy.json").write_text("{}")
    assert _done(out, config, 0) == ["base_policy", "dev_greedy", "dev_mcts", "pool_search"]
    assert _done(out, config, 1) == [s.name for s in round_stages(1, config)]
    assert _done(out, config, 2) == [s.name for s in round_stages(2, config)]


def test_the_reference_ledgers_resume_without_round_1_s_pool_search(tmp_path) -> None:
    out, config = _stored_ledgers(tmp_path, "ledgers-ref")
    assert config.reference.enabled and config.rounds == 1
    assert [s.name for s in round_stages(1, config)][-1] == "dev_mcts"
    assert _done(out, config, 1) == ["sft", "parity", "dev_greedy", "dev_mcts"]


@pytest.mark.parametrize("folder", ["ledgers", "ledgers-ref"])
def test_a_stored_ledger_is_written_back_byte_for_byte(tmp_path, folder) -> None:
    out, _ = _stored_ledgers(tmp_path, folder)
    for directory in sorted(out.iterdir()):
        stored = (directory / "manifest.json").read_bytes()
        ledger = RoundLedger.open(directory, int(directory.name.split("-")[1]), {})
        ledger.save()
        assert (directory / "manifest.json").read_bytes() == stored


def test_a_ledger_without_its_rounds_weights_stops_with_what_to_do(tmp_path) -> None:
    config = evolve_config(tmp_path)
    fast = find_embedded("fast")
    assert fast is not None
    paths = EvolvePaths(tmp_path / "evolve")
    ledger = RoundLedger.open(paths.round_dir(1), 1, {"parent": 0})
    ledger.finish("sft", {"sft_tokens": 10})
    clock = Clock()
    with RunStore(tmp_path / "runs.db") as store:
        context = EvolveContext(
            config, paths, store, Pool(config.pool), PolicyBase(fast.name, fast.sha256),
            FakeSearcher(clock), FakeTrainers(clock).bundle(), Budget(None, clock),
        )  # fmt: skip
        with pytest.raises(ValueError) as caught:
            Export().run(RoundContext(context, 1, ledger))
    assert str(caught.value) == (
        f"round 1's trained adapter is not on this machine ({paths.round_dir(1)}/sft/peft is "
        f"missing); copy {paths.round_dir(1)} here, or delete its manifest.json to train the "
        "round again"
    )


def test_the_results_list_stages_in_the_order_the_loop_runs_them() -> None:
    from thinktree.train.evolve.results import STAGE_ORDER

    names = [stage.name for stage in round_stages(1, EvolveConfig(rounds=2))]
    assert tuple(names) == STAGE_ORDER
