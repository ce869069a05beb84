"""An SFT checkpoint exported to one file resumes on a fresh clone: a tiny random Qwen2
model with LoRA, trained for real by train_policy_lora, killed after step 3 (its newest
complete checkpoint is step 2's), exported, imported into an empty directory and
trained to the end."""

from __future__ import annotations

import io
import json
import re
import shutil
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch", reason="needs the train extra")
transformers = pytest.importorskip("transformers", reason="needs the train extra")

import thinktree.train.export.hf_gguf as hf_gguf  # noqa: E402
from thinktree.steps import Step, StepKind  # noqa: E402
from thinktree.train.sft.checkpoint_export import (  # noqa: E402
    export_checkpoint,
    import_checkpoint,
    read_manifest,
)
from thinktree.train.sft.data import Trajectory  # noqa: E402
from thinktree.train.sft.training import (  # noqa: E402
    SFTConfig,
    SFTReport,
    train_policy_lora,
)

CONFIG = SFTConfig(
    rank=4, alpha=8.0, epochs=1, learning_rate=1e-2, batch_size=2, grad_accumulation=1,
    save_steps=2, holdout_fraction=0.2, max_length=4096, bf16=False,
)  # fmt: skip
"""11 training examples (p7, p11 and p13 are held out at 0.2): 6 steps of 2; dropout
stays on, so a resume must restore the RNG too."""
KILLED_AFTER = 3
COMPACT_TOLERANCE = 1e-4
"""How far a compact resume's losses may drift from the uninterrupted run's (float16
weights, bfloat16 moments; measured at most 3.8e-6 here, losses near 4.5)."""


def trajectory(i: int) -> Trajectory:
    cell = Step(
        f" x = {i}\n```python\nx = {i}\n```\n", StepKind.CODE, code=f"x = {i}", output=f"{i}"
    )
    final = Step(f" Answer: \\boxed{{{i}}}", StepKind.FINAL, answer=str(i))
    return Trajectory(f"p{i}", f"What is {i} + 0?", (cell, final), 1.0, 1.0, "test")


TRAJECTORIES = [trajectory(i) for i in range(14)]


class CharTokenizer:
    """One id a character; the chat template is plain tags."""

    unk_token_id, pad_token_id, eos_token_id = 0, 0, 2

    def __call__(self, text: str, **_: Any) -> dict[str, list[Any]]:
        return {
            "input_ids": [3 + ord(c) % 97 for c in text],
            "offset_mapping": [(i, i + 1) for i in range(len(text))],
        }

    def convert_tokens_to_ids(self, token: str) -> int:
        return 1

    def apply_chat_template(self, messages: list[dict[str, str]], **_: Any) -> str:
        return "".join(f"<{m['role']}>{m['content']}" for m in messages) + "<assistant>"


def load_tiny(path: Path, sha256: str | None = None) -> tuple[Any, CharTokenizer]:
    torch.manual_seed(0)
    config = transformers.Qwen2Config(
        vocab_size=100, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096,
    )  # fmt: skip
    return transformers.Qwen2ForCausalLM(config), CharTokenizer()


class Killed(Exception):
    pass


def kill_after(step: int) -> Any:
    def progress(stage: str, done: int, total: int) -> None:
        if stage == "train" and done == step:
            raise Killed

    return progress


@dataclass
class Sitting:
    report: SFTReport | None
    losses: list[float]
    """The loss of every optimizer step this sitting took."""


def train(
    out: Path, trajectories: list[Trajectory] = TRAJECTORIES, progress: Any = None
) -> Sitting:
    losses: list[float] = []
    step = transformers.Trainer.training_step

    def recorded(self: Any, *args: Any, **kw: Any) -> Any:
        loss = step(self, *args, **kw)
        losses.append(float(loss))
        return loss

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(transformers.Trainer, "training_step", recorded)
        patch.setattr(hf_gguf, "load_hf_from_gguf", load_tiny)
        try:
            report = train_policy_lora(Path("tiny.gguf"), trajectories, out, CONFIG, progress)
        except Killed:
            report = None
    return Sitting(report, losses)


@dataclass
class Runs:
    whole: Sitting
    whole_dir: Path
    killed: Sitting
    killed_dir: Path


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runs]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices on a busy machine
    root = tmp_path_factory.mktemp("sft")
    try:
        whole = train(root / "whole")
        killed = train(root / "killed", progress=kill_after(KILLED_AFTER))
        yield Runs(whole, root / "whole", killed, root / "killed")
    finally:
        torch.set_num_threads(threads)


def adapter(out: Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    return load_file(str(out / "peft" / "adapter_model.safetensors"))


def trained_hash(out: Path, step: int) -> str:
    state = out / "checkpoints" / f"checkpoint-{step}" / "thinktree-state.json"
    return json.loads(state.read_text())["data_hash"]


def test_the_runs_are_what_the_tests_assume(runs: Runs) -> None:
    assert runs.whole.report is not None and runs.whole.report.steps == 6
    assert len(runs.whole.losses) == 6
    assert runs.killed.losses == runs.whole.losses[:KILLED_AFTER]
    assert runs.killed.report is None
    assert sorted(p.name for p in (runs.killed_dir / "checkpoints").iterdir()) == ["checkpoint-2"]


def test_an_exact_export_resumes_on_a_fresh_clone_bit_for_bit(runs: Runs, tmp_path: Path) -> None:
    exported = export_checkpoint(runs.killed_dir, tmp_path / "round-1.sft.tar.gz", "exact")
    clone = tmp_path / "clone" / "sft"
    imported = import_checkpoint(exported, clone, config=CONFIG)
    assert imported == clone / "checkpoints" / "checkpoint-2"
    assert (imported / "thinktree-complete").is_file()
    resumed = train(clone)
    assert resumed.losses == runs.whole.losses[2:]
    whole, again = runs.whole.report, resumed.report
    assert whole is not None and again is not None
    assert again.steps == whole.steps
    assert again.tokens_seen == whole.tokens_seen
    assert again.holdout_loss_before == whole.holdout_loss_before
    assert again.holdout_loss_after == whole.holdout_loss_after
    expected, got = adapter(runs.whole_dir), adapter(clone)
    assert sorted(got) == sorted(expected)
    assert all(torch.equal(expected[name], tensor) for name, tensor in got.items())


def test_a_compact_export_resumes_within_its_tolerance(runs: Runs, tmp_path: Path) -> None:
    exact = export_checkpoint(runs.killed_dir, tmp_path / "exact.tar.gz", "exact")
    compact = export_checkpoint(runs.killed_dir, tmp_path / "compact.tar.gz", "compact")
    assert compact.stat().st_size < exact.stat().st_size
    clone = tmp_path / "clone"
    import_checkpoint(compact, clone, config=CONFIG)
    resumed = train(clone)
    expected = runs.whole.losses[2:]
    assert len(resumed.losses) == len(expected)
    drift = max(abs(a - b) for a, b in zip(resumed.losses, expected, strict=True))
    assert drift < COMPACT_TOLERANCE


def test_a_compact_export_stores_16_bit_weights_and_moments(runs: Runs, tmp_path: Path) -> None:
    from safetensors.torch import load

    compact = export_checkpoint(runs.killed_dir, tmp_path / "compact.tar.gz", "compact")
    with tarfile.open(compact, "r:gz") as archive:
        weights = load(archive.extractfile("adapter_model.safetensors").read())
        optimizer = torch.load(io.BytesIO(archive.extractfile("optimizer.pt").read()))
    assert {t.dtype for t in weights.values()} == {torch.float16}
    moments = [s[k] for s in optimizer["state"].values() for k in ("exp_avg", "exp_avg_sq")]
    assert {t.dtype for t in moments} == {torch.bfloat16}
    clone = tmp_path / "clone"
    restored = import_checkpoint(compact, clone)
    optimizer = torch.load(restored / "optimizer.pt")
    assert {s["exp_avg_sq"].dtype for s in optimizer["state"].values()} == {torch.float32}


def test_the_manifest_says_what_was_exported(runs: Runs, tmp_path: Path) -> None:
    exported = export_checkpoint(runs.killed_dir, tmp_path / "x.tar.gz", "exact")
    manifest = read_manifest(exported)
    assert manifest["format"] == "thinktree-sft-checkpoint"
    assert (manifest["version"], manifest["step"], manifest["precision"]) == (1, 2, "exact")
    assert manifest["data_hash"] == trained_hash(runs.killed_dir, 2)
    assert manifest["config"] == CONFIG.model_dump(mode="json")
    assert manifest["files"] == [
        "README.md", "adapter_config.json", "adapter_model.safetensors", "optimizer.pt",
        "rng_state.pth", "scheduler.pt", "thinktree-state.json", "trainer_state.json",
        "training_args.bin",
    ]  # fmt: skip


def test_the_same_checkpoint_exports_to_the_same_bytes(runs: Runs, tmp_path: Path) -> None:
    for precision in ("exact", "compact"):
        first = export_checkpoint(runs.killed_dir, tmp_path / f"a-{precision}.tar.gz", precision)
        second = export_checkpoint(runs.killed_dir, tmp_path / f"b-{precision}.tar.gz", precision)
        assert first.read_bytes() == second.read_bytes()


def test_import_refuses_other_data_with_the_fix(runs: Runs, tmp_path: Path) -> None:
    exported = export_checkpoint(runs.killed_dir, tmp_path / "r.tar.gz", "exact")
    trained = trained_hash(runs.killed_dir, 2)
    with pytest.raises(ValueError) as info:
        import_checkpoint(exported, tmp_path / "clone", data_hash="0" * 64)
    assert str(info.value) == (
        f"{exported} was trained on other data (data hash {trained[:12]}, this data "
        f"000000000000); give the data it was trained on, or delete {exported} to train "
        "from the base"
    )
    assert not (tmp_path / "clone").exists()
    assert import_checkpoint(exported, tmp_path / "clone", data_hash=trained) is not None


def test_import_refuses_other_settings_with_the_fix(runs: Runs, tmp_path: Path) -> None:
    exported = export_checkpoint(runs.killed_dir, tmp_path / "r.tar.gz", "exact")
    other = CONFIG.model_copy(update={"rank": 8, "learning_rate": 1e-3})
    with pytest.raises(ValueError) as info:
        import_checkpoint(exported, tmp_path / "clone", config=other)
    assert str(info.value) == (
        f"{exported} was made with other settings (learning_rate, rank); give the settings "
        f"it was trained with, or delete {exported} to train from the base"
    )
    unset_precision = CONFIG.model_copy(update={"bf16": None})
    assert import_checkpoint(exported, tmp_path / "clone", config=unset_precision) is not None


def test_the_resume_refuses_a_checkpoint_of_other_data(runs: Runs, tmp_path: Path) -> None:
    exported = export_checkpoint(runs.killed_dir, tmp_path / "r.tar.gz", "exact")
    clone = tmp_path / "clone"
    checkpoint = import_checkpoint(exported, clone)
    trained = trained_hash(runs.killed_dir, 2)
    said = re.escape(f"{checkpoint} was trained on other data (data hash {trained[:12]}, ")
    said += "this data (?P<now>[0-9a-f]{12})"
    said += re.escape(
        f"); give the same data, or delete {clone} (and {exported}, which it was imported "
        "from) to train again"
    )
    with pytest.raises(ValueError) as info:
        train(clone, TRAJECTORIES[:-1])
    match = re.fullmatch(said, str(info.value))
    assert match is not None, str(info.value)
    assert match["now"] != trained[:12]
    assert checkpoint.is_dir()


def test_a_half_written_checkpoint_is_never_exported(runs: Runs, tmp_path: Path) -> None:
    out = tmp_path / "sft"
    shutil.copytree(runs.killed_dir, out)
    half = out / "checkpoints" / "checkpoint-3"
    half.mkdir()
    (half / "adapter_model.safetensors").write_bytes(b"partial")
    exported = export_checkpoint(out, tmp_path / "r.tar.gz", "exact")
    assert read_manifest(exported)["step"] == 2
    assert half.is_dir()  # left alone: the Trainer may be writing it
    only_half = tmp_path / "only-half"
    (only_half / "checkpoints" / "checkpoint-1").mkdir(parents=True)
    assert export_checkpoint(only_half, tmp_path / "none.tar.gz", "exact") is None
    assert not (tmp_path / "none.tar.gz").exists()


def test_import_keeps_a_local_checkpoint_as_new_and_a_finished_run(
    runs: Runs, tmp_path: Path
) -> None:
    exported = export_checkpoint(runs.killed_dir, tmp_path / "r.tar.gz", "exact")
    clone = tmp_path / "clone"
    assert import_checkpoint(exported, clone) is not None
    state = clone / "checkpoints" / "checkpoint-2" / "thinktree-state.json"
    before = state.read_text()
    assert import_checkpoint(exported, clone) is None
    assert state.read_text() == before
    assert import_checkpoint(exported, runs.whole_dir) is None
    assert not (runs.whole_dir / "checkpoints").exists()


def test_an_up_to_date_export_is_kept_and_a_damaged_one_written_again(
    runs: Runs, tmp_path: Path
) -> None:
    dest = export_checkpoint(runs.killed_dir, tmp_path / "r.tar.gz", "compact")
    written = dest.stat().st_mtime_ns
    assert export_checkpoint(runs.killed_dir, dest, "compact") == dest
    assert dest.stat().st_mtime_ns == written
    dest.write_bytes(b"cut short")
    assert export_checkpoint(runs.killed_dir, dest, "compact") == dest
    assert read_manifest(dest)["step"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.tar.gz"]


def test_a_file_that_is_no_export_is_refused(tmp_path: Path) -> None:
    bogus = tmp_path / "round-1.sft.tar.gz"
    bogus.write_bytes(b"not a tar")
    with pytest.raises(ValueError) as info:
        import_checkpoint(bogus, tmp_path / "clone")
    assert str(info.value) == (
        f"{bogus} is not an SFT checkpoint this thinktree reads (format "
        "thinktree-sft-checkpoint version 1); export it again, or delete it to train from "
        "the base"
    )


def test_an_unknown_precision_is_refused(runs: Runs, tmp_path: Path) -> None:
    with pytest.raises(ValueError) as info:
        export_checkpoint(runs.killed_dir, tmp_path / "r.tar.gz", "half")  # type: ignore[arg-type]
    assert str(info.value) == "unknown checkpoint precision 'half'; use exact or compact"


def test_a_checkpoint_without_a_data_hash_is_not_exported(tmp_path: Path) -> None:
    old = tmp_path / "old" / "checkpoints" / "checkpoint-4"
    old.mkdir(parents=True)
    (old / "thinktree-state.json").write_text('{"tokens": 1, "targets": 1, "seconds": 1.0}')
    (old / "thinktree-complete").write_text("ok\n")
    with pytest.raises(ValueError) as info:
        export_checkpoint(tmp_path / "old", tmp_path / "r.tar.gz", "exact")
    assert str(info.value) == (
        f"{old} records no data hash (written before thinktree recorded one); resume the "
        "run until it saves another checkpoint, then export"
    )


def test_an_evolve_round_s_checkpoint_travels_through_the_recipe(
    runs: Runs, tmp_path: Path
) -> None:
    from types import SimpleNamespace

    from thinktree.cli.bench_cmd import _restore_checkpoints, _save_checkpoints
    from thinktree.eval.bench.recipe import EvolveSpec

    evolve = EvolveSpec(config="evolve.yaml", out="runs/evo", ledgers="ledgers",
                        checkpoints="carried", checkpoint_precision="compact")  # fmt: skip
    spec = SimpleNamespace(evolve=evolve)
    sft = CONFIG.model_dump(mode="json")
    here, fresh = tmp_path / "here", tmp_path / "fresh"
    for base in (here, fresh):
        base.mkdir()
        (base / "evolve.yaml").write_text(json.dumps({"sft": sft}))
    shutil.copytree(runs.killed_dir, here / "runs/evo/round-1/sft")
    (here / "runs/evo/round-2/sft").mkdir(parents=True)  # not begun: nothing to carry
    assert _save_checkpoints(spec, here) == [here / "carried/round-1.sft.tar.gz"]
    assert read_manifest(here / "carried/round-1.sft.tar.gz")["precision"] == "compact"

    shutil.copytree(here / "carried", fresh / "carried")
    assert _restore_checkpoints(spec, fresh) == ["round-1"]
    restored = fresh / "runs/evo/round-1/sft/checkpoints/checkpoint-2"
    assert (restored / "thinktree-complete").is_file()
    assert _restore_checkpoints(spec, fresh) == []  # it holds that checkpoint now

    done = tmp_path / "done"
    shutil.copytree(fresh / "carried", done / "carried")
    (done / "evolve.yaml").write_text(json.dumps({"sft": sft}))
    (done / "runs/evo/round-1").mkdir(parents=True)
    ledger = {"round": 1, "stages": {"sft": {"steps": 6}}, "data": {}}
    (done / "runs/evo/round-1/manifest.json").write_text(json.dumps(ledger))
    assert _restore_checkpoints(spec, done) == []
    assert not (done / "runs/evo/round-1/sft").exists()


def test_a_recipe_s_checkpoints_under_other_settings_are_refused(
    runs: Runs, tmp_path: Path
) -> None:
    from types import SimpleNamespace

    from thinktree.cli.bench_cmd import _restore_checkpoints
    from thinktree.eval.bench.recipe import EvolveSpec

    spec = SimpleNamespace(
        evolve=EvolveSpec(config="evolve.yaml", out="out", ledgers="l", checkpoints="carried")
    )
    exported = export_checkpoint(runs.killed_dir, tmp_path / "carried/round-1.sft.tar.gz")
    sft = {**CONFIG.model_dump(mode="json"), "rank": 8}
    (tmp_path / "evolve.yaml").write_text(json.dumps({"sft": sft}))
    with pytest.raises(ValueError) as info:
        _restore_checkpoints(spec, tmp_path)
    assert str(info.value) == (
        f"{exported} was made with other settings (rank); give the settings it was trained "
        f"with, or delete {exported} to train from the base"
    )


def test_a_recipe_keeps_compact_checkpoints_unless_told() -> None:
    from pydantic import ValidationError

    from thinktree.eval.bench.recipe import EvolveSpec

    spec = EvolveSpec(config="c.yaml", out="out", ledgers="l", checkpoints="carried")
    assert (spec.checkpoints, spec.checkpoint_precision) == ("carried", "compact")
    assert EvolveSpec(config="c.yaml", out="out", ledgers="l").checkpoints is None
    with pytest.raises(ValidationError, match="'exact' or 'compact'"):
        EvolveSpec(config="c", out="o", ledgers="l", checkpoint_precision="f8")  # type: ignore[arg-type]
