"""`thinktree ppm train --kind lm`: pairs from a file or the store, the --lm-* options, and
one-line errors; the trainer runs for real on the tiny model of tests/train/lm_ppm_fakes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from thinktree.cli import app

runner = CliRunner()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--runs", "r", "--kind", "tree"], "error: unknown --kind 'tree'; use features or lm"),
        ([], "error: give the pairs with --runs RUN... or with --pairs FILE.jsonl (one of"),
        (["--runs", "r", "--pairs", "p.jsonl", "--kind", "lm"], "error: give the pairs with"),
        (["--runs", "r", "--lm-rank", "8"], "error: --lm-rank set the LM PPM; add --kind lm"),
        (["--runs", "r", "--kind", "lm", "--hidden", "8", "--seed-repeats", "2"],
         "error: --hidden, --seed-repeats set the feature PPM, not --kind lm; drop them"),
        (["--pairs", "p.jsonl"], "error: --pairs trains --kind lm; the feature PPM reads --runs"),
        (["--runs", "r", "--kind", "lm", "--lm-rank", "0"],
         "error: rank: Input should be greater than or equal to 1"),
        (["--pairs", "{tmp}/none.jsonl", "--kind", "lm"], "none.jsonl is not a file: give"),
        (["--pairs", "{tmp}/bad.jsonl", "--kind", "lm"], "bad.jsonl is not a pairs file (Key"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "bad.jsonl").write_text('{"question": "q"}\n')
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    out = runner.invoke(app, ["ppm", "train", "--out", str(tmp_path / "o"), *args])
    assert out.exit_code == 2, out.output
    assert message in out.stderr
    assert out.stderr.count("\n") == 1


def test_pairs_from_a_file_train_an_lm_ppm(monkeypatch, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch", reason="needs the train extra")
    pytest.importorskip("peft")
    pytest.importorskip("gguf")
    import thinktree.models
    import thinktree.train.export.hf_gguf
    from tests.train.lm_ppm_fakes import load_tiny, pair, write_base_gguf
    from thinktree.models.resolve import ResolvedModel
    from thinktree.train.ppm.pairs import write_jsonl

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices on a busy machine (see tests/train/test_lm_ppm)
    base = write_base_gguf(tmp_path / "tiny.gguf")
    asked = []

    def resolve_model(spec):
        asked.append(spec)
        return ResolvedModel("tiny", base, True, "cd" * 32)

    monkeypatch.setattr(thinktree.models, "resolve_model", resolve_model)
    monkeypatch.setattr(
        thinktree.train.export.hf_gguf, "load_hf_from_gguf", lambda path, sha256: load_tiny(path)
    )
    pairs = tmp_path / "pairs.jsonl"
    write_jsonl([pair(f"p{i}", 3 + i) for i in range(12)], pairs)
    out = tmp_path / "lm"
    args = ["ppm", "train", "--kind", "lm", "--pairs", str(pairs), "--out", str(out),
            "--lm-max-steps", "2", "--lm-rank", "4", "--lm-validation-fraction", "0.3",
            "--no-lm-feature-baseline", "--no-lm-bf16"]  # fmt: skip
    try:
        shown = runner.invoke(app, args)
    finally:
        torch.set_num_threads(threads)
    assert shown.exit_code == 0, shown.output
    assert asked == ["fast"]
    said = " ".join(shown.stdout.split())
    assert said.startswith(f"LM PPM -> {out}: 6 pairs from 6 problems trained 2 steps")
    assert "on 6 held-out pairs (6 problems) pairwise accuracy" in said
    record = json.loads((out / "ppm.json").read_text())
    assert (record["kind"], record["lora_rank"], record["base_sha256"]) == (
        "lm", 4, "cd" * 32)  # fmt: skip
    assert record["training"]["config"]["bf16"] is False


def test_every_lm_config_field_is_an_lm_option() -> None:
    import typer

    from thinktree.train.ppm.lm.config import LMPPMConfig

    command = typer.main.get_command(app).commands["ppm"].commands["train"]  # type: ignore[attr-defined]
    names = {p.name for p in command.params}
    assert {f"lm_{name}" for name in LMPPMConfig.model_fields} <= names


def test_runs_give_the_pairs_from_the_store(monkeypatch, tmp_path: Path) -> None:
    import thinktree.models
    import thinktree.train.ppm.data
    import thinktree.train.ppm.lm.training
    from tests.train.lm_ppm_fakes import pair
    from thinktree.models.resolve import ResolvedModel
    from thinktree.store import RunStore

    store = tmp_path / "s.db"
    RunStore(store).close()
    toy = [pair("p1", 4)]
    seen: dict[str, object] = {}
    monkeypatch.setattr(
        thinktree.train.ppm.data, "collect_pairs", lambda db, runs: seen.update(runs=runs) or toy
    )
    monkeypatch.setattr(
        thinktree.models, "resolve_model",
        lambda spec: ResolvedModel(spec, tmp_path / "m.gguf", True, "ef" * 32),
    )  # fmt: skip

    def train_lm_ppm(pairs, out, config, base, *, progress, stop, saved):
        seen.update(pairs=pairs, config=config, base=base, stop=stop, saved=saved)
        raise ValueError("captured")

    monkeypatch.setattr(thinktree.train.ppm.lm.training, "train_lm_ppm", train_lm_ppm)
    args = ["ppm", "train", "--kind", "lm", "--runs", "a", "--runs", "b", "--store", str(store),
            "--out", str(tmp_path / "o"), "--lm-base-model", "0.5b", "--lm-epochs", "2"]  # fmt: skip
    out = runner.invoke(app, args)
    assert out.exit_code == 2 and "error: captured" in out.stderr, out.output
    assert seen["runs"] == ["a", "b"] and seen["pairs"] == toy
    assert (seen["config"].base_model, seen["config"].epochs, seen["config"].rank) == (
        "0.5b",
        2,
        16,
    )
    assert (seen["base"].name, seen["base"].sha256) == ("0.5b", "ef" * 32)
    assert seen["stop"] is None  # no --max-minutes: nothing stops it early
    assert seen["saved"] is None  # no --checkpoint-file: nothing to carry


def test_max_minutes_stops_at_a_checkpoint_and_says_how_to_resume(
    monkeypatch, tmp_path: Path
) -> None:
    import thinktree.models
    import thinktree.train.ppm.lm.training
    from tests.train.lm_ppm_fakes import pair
    from thinktree.models.resolve import ResolvedModel
    from thinktree.train.ppm.pairs import write_jsonl

    pairs = tmp_path / "pairs.jsonl"
    write_jsonl([pair("p1", 4)], pairs)
    monkeypatch.setattr(
        thinktree.models, "resolve_model",
        lambda spec: ResolvedModel(spec, tmp_path / "m.gguf", True, "ef" * 32),
    )  # fmt: skip
    asked: list[bool] = []

    def train_lm_ppm(pairs, out, config, base, *, progress, stop, saved):
        asked.append(stop())  # asked at once: far from the deadline
        monkeypatch.setattr("time.monotonic", lambda: 1e12)
        asked.append(stop())  # past it: the trainer saves a checkpoint and returns None
        return None

    monkeypatch.setattr(thinktree.train.ppm.lm.training, "train_lm_ppm", train_lm_ppm)
    out = tmp_path / "o"
    args = ["ppm", "train", "--kind", "lm", "--pairs", str(pairs), "--out", str(out),
            "--max-minutes", "30"]  # fmt: skip
    shown = runner.invoke(app, args)
    assert shown.exit_code == 0, shown.output
    assert asked == [False, True]
    assert " ".join(shown.stderr.split()) == (
        f"stopped after 30 minutes at a checkpoint in {out}; run the same command again to resume"
    )


def test_max_minutes_is_refused_for_the_feature_ppm(tmp_path: Path) -> None:
    out = runner.invoke(
        app, ["ppm", "train", "--runs", "r", "--out", str(tmp_path), "--max-minutes", "5"]
    )
    assert out.exit_code == 2
    assert out.stderr == (
        "error: --max-minutes bounds --kind lm; the feature PPM trains in seconds, drop it\n"
    )


def test_checkpoint_file_is_refused_for_the_feature_ppm(tmp_path: Path) -> None:
    args = ["ppm", "train", "--runs", "r", "--out", str(tmp_path), "--checkpoint-file", "c.tar.gz"]
    out = runner.invoke(app, args)
    assert out.exit_code == 2
    assert out.stderr == (
        "error: --checkpoint-file carries --kind lm's checkpoint; the feature PPM has none, "
        "drop it\n"
    )


def test_checkpoint_file_carries_a_stopped_run_to_a_fresh_machine(
    monkeypatch, tmp_path: Path
) -> None:
    """Stopped by --max-minutes on one machine, the run's checkpoint goes to the file; on
    another (an empty --out) the same command imports it and ends on the losses of a run
    never stopped."""
    torch = pytest.importorskip("torch", reason="needs the train extra")
    pytest.importorskip("peft")
    pytest.importorskip("gguf")
    import thinktree.models
    import thinktree.train.export.hf_gguf
    from tests.train.lm_ppm_fakes import load_tiny, pair, write_base_gguf
    from thinktree.models.resolve import ResolvedModel
    from thinktree.train.ppm.lm.checkpoint_export import read_manifest
    from thinktree.train.ppm.pairs import write_jsonl

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    base = write_base_gguf(tmp_path / "tiny.gguf")
    monkeypatch.setattr(
        thinktree.models, "resolve_model", lambda spec: ResolvedModel("tiny", base, True, "cd" * 32)
    )
    monkeypatch.setattr(
        thinktree.train.export.hf_gguf, "load_hf_from_gguf", lambda p, sha256: load_tiny(p)
    )
    pairs = tmp_path / "pairs.jsonl.gz"
    write_jsonl([pair(f"p{i}", 3 + i) for i in range(12)], pairs)
    carried = tmp_path / "git" / "lm-ppm.tar.gz"
    common = ["ppm", "train", "--kind", "lm", "--pairs", str(pairs), "--lm-validation-fraction",
              "0.3", "--lm-pairs-per-step", "2", "--lm-max-steps", "4", "--lm-rank", "4",
              "--no-lm-feature-baseline", "--no-lm-bf16", "--json"]  # fmt: skip
    try:
        whole = runner.invoke(app, [*common, "--out", str(tmp_path / "whole")])
        assert whole.exit_code == 0, whole.output
        clock = iter([0.0, 0.0, 0.0])  # the deadline and a step or two, then past it
        monkeypatch.setattr("time.monotonic", lambda: next(clock, 1e9))
        first = runner.invoke(app, [*common, "--out", str(tmp_path / "first"), "--max-minutes",
                                    "1", "--checkpoint-file", str(carried),
                                    "--checkpoint-precision", "exact"])  # fmt: skip
        assert first.exit_code == 0, first.output
        assert f"checkpoint exported to {carried}" in " ".join(first.stderr.split())
        assert 0 < read_manifest(carried)["step"] < 4  # stopped before the end
        monkeypatch.undo()
        monkeypatch.setattr(
            thinktree.models, "resolve_model",
            lambda spec: ResolvedModel("tiny", base, True, "cd" * 32),
        )  # fmt: skip
        monkeypatch.setattr(
            thinktree.train.export.hf_gguf, "load_hf_from_gguf", lambda p, sha256: load_tiny(p)
        )
        fresh = runner.invoke(app, [*common, "--out", str(tmp_path / "fresh"),
                                    "--checkpoint-file", str(carried),
                                    "--checkpoint-precision", "exact"])  # fmt: skip
        assert fresh.exit_code == 0, fresh.output
    finally:
        torch.set_num_threads(threads)
    assert "resuming from" in fresh.stderr
    assert read_manifest(carried)["step"] == 4  # the finished run's last checkpoint
    losses = [json.loads((tmp_path / d / "losses.json").read_text()) for d in ("whole", "fresh")]
    assert losses[0] == losses[1]
