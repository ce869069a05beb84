"""An LM PPM training's checkpoint exported to one file resumes on a fresh machine: the
tiny random Qwen2 of lm_ppm_fakes, trained for real, stopped after step 3, exported,
imported into an empty directory and trained to the end."""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="needs the train extra")
pytest.importorskip("peft")
pytest.importorskip("gguf")

from tests.train.lm_ppm_fakes import PAIRS, base, load_tiny, one_thread  # noqa: E402
from thinktree.train.ppm.lm.checkpoint import checkpoint_path, data_hash  # noqa: E402
from thinktree.train.ppm.lm.checkpoint_export import (  # noqa: E402
    export_checkpoint,
    import_checkpoint,
    read_manifest,
)
from thinktree.train.ppm.lm.config import LMPPMConfig  # noqa: E402
from thinktree.train.ppm.lm.output import BaseFile  # noqa: E402
from thinktree.train.ppm.lm.training import train_lm_ppm  # noqa: E402

CONFIG = LMPPMConfig(
    validation_fraction=0.3, pairs_per_step=2, learning_rate=1e-2, warmup=0.0, rank=4,
    alpha=8.0, dropout=0.1, bf16=False, max_length=256, feature_baseline=False, max_steps=6,
    save_steps=10,
)  # fmt: skip
COMPACT_TOLERANCE = 1e-4
"""How far a compact resume's losses may drift from the uninterrupted run's (float16
weights, bfloat16 moments; measured 9.8e-6 here, on losses near 1.1)."""


pytestmark = pytest.mark.usefixtures("one_thread")
__all__ = ["base", "one_thread"]  # fixtures, used by name


def stopped_after_three(out: Path, base: BaseFile) -> None:
    asked = iter([False, False, True])
    assert train_lm_ppm(PAIRS, out, CONFIG, base, load=load_tiny, stop=lambda: next(asked)) is None


@pytest.mark.parametrize("precision", ["exact", "compact"])
def test_an_exported_checkpoint_resumes_on_an_empty_directory(
    tmp_path: Path, base: BaseFile, precision: str
) -> None:
    whole = train_lm_ppm(PAIRS, tmp_path / "whole", CONFIG, base, load=load_tiny)
    stopped_after_three(tmp_path / "first", base)
    carried = tmp_path / "git" / "lm-ppm.ckpt.tar.gz"
    assert export_checkpoint(tmp_path / "first", carried, precision) == carried
    manifest = read_manifest(carried)
    assert (manifest["step"], manifest["precision"]) == (3, precision)
    assert manifest["data_hash"] == data_hash(PAIRS)

    fresh = tmp_path / "fresh"
    imported = import_checkpoint(carried, fresh, data_hash(PAIRS), CONFIG)
    assert imported == checkpoint_path(fresh)
    resumed = train_lm_ppm(PAIRS, fresh, CONFIG, base, load=load_tiny)
    assert whole is not None and resumed is not None
    assert len(resumed.losses) == 6
    assert resumed.losses[:3] == whole.losses[:3]  # the first run's, carried in the file
    if precision == "exact":
        assert resumed.losses == whole.losses
    else:
        drift = [abs(a - b) for a, b in zip(resumed.losses[3:], whole.losses[3:], strict=True)]
        assert max(drift) <= COMPACT_TOLERANCE


def test_compact_narrows_weights_and_moments(tmp_path: Path, base: BaseFile) -> None:
    stopped_after_three(tmp_path / "first", base)
    exact = export_checkpoint(tmp_path / "first", tmp_path / "exact.tar.gz", "exact")
    compact = export_checkpoint(tmp_path / "first", tmp_path / "compact.tar.gz", "compact")
    assert exact is not None and compact is not None
    with tarfile.open(compact, "r:gz") as archive:
        assert archive.getnames() == ["manifest.json", "checkpoint.pt"]
        handle = archive.extractfile("checkpoint.pt")
        assert handle is not None
        state = torch.load(handle, weights_only=False)
    assert {w.dtype for w in state["lora"].values()} == {torch.float16}
    moments = [
        s[k] for s in state["optimizer"]["state"].values() for k in ("exp_avg", "exp_avg_sq")
    ]
    assert {m.dtype for m in moments} == {torch.bfloat16}
    assert compact.stat().st_size < exact.stat().st_size


def test_the_same_checkpoint_exports_to_the_same_bytes(tmp_path: Path, base: BaseFile) -> None:
    stopped_after_three(tmp_path / "first", base)
    dest = tmp_path / "carried.tar.gz"
    export_checkpoint(tmp_path / "first", dest, "compact")
    first = dest.read_bytes()
    dest.unlink()
    export_checkpoint(tmp_path / "first", dest, "compact")
    assert dest.read_bytes() == first


def test_nothing_to_export_without_a_checkpoint(tmp_path: Path) -> None:
    assert export_checkpoint(tmp_path / "empty", tmp_path / "carried.tar.gz") is None
    assert not (tmp_path / "carried.tar.gz").exists()


def test_import_refuses_a_checkpoint_of_other_pairs_or_settings(
    tmp_path: Path, base: BaseFile
) -> None:
    stopped_after_three(tmp_path / "first", base)
    carried = export_checkpoint(tmp_path / "first", tmp_path / "carried.tar.gz", "compact")
    assert carried is not None
    with pytest.raises(ValueError) as info:
        import_checkpoint(carried, tmp_path / "fresh", data_hash(PAIRS[:-1]), CONFIG)
    assert str(info.value).startswith(f"{carried} was trained on other pairs")
    assert "\n" not in str(info.value)
    with pytest.raises(ValueError, match=r"other settings \(rank\)"):
        import_checkpoint(
            carried, tmp_path / "fresh", data_hash(PAIRS), CONFIG.model_copy(update={"rank": 8})
        )
    assert not (tmp_path / "fresh").exists()


def test_import_refuses_a_file_that_is_not_a_checkpoint(tmp_path: Path) -> None:
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not a tar")
    with pytest.raises(ValueError, match="is not an LM PPM checkpoint this thinktree reads"):
        import_checkpoint(junk, tmp_path / "fresh", "0" * 64, CONFIG)


def test_import_keeps_a_local_checkpoint_as_new(tmp_path: Path, base: BaseFile) -> None:
    stopped_after_three(tmp_path / "first", base)
    carried = export_checkpoint(tmp_path / "first", tmp_path / "carried.tar.gz", "exact")
    assert carried is not None
    local = checkpoint_path(tmp_path / "first")
    before = local.read_bytes()
    assert import_checkpoint(carried, tmp_path / "first", data_hash(PAIRS), CONFIG) is None
    assert local.read_bytes() == before


def test_training_calls_saved_when_it_stops_and_when_it_ends(
    tmp_path: Path, base: BaseFile
) -> None:
    calls: list[int] = []
    out = tmp_path / "ppm"

    def saved() -> None:
        calls.append(torch.load(checkpoint_path(out), weights_only=False)["step"])

    asked = iter([False, False, True])
    train_lm_ppm(PAIRS, out, CONFIG, base, load=load_tiny, stop=lambda: next(asked), saved=saved)
    train_lm_ppm(PAIRS, out, CONFIG, base, load=load_tiny, saved=saved)
    assert calls == [3, 6]
    assert not checkpoint_path(out).exists()  # the finished output removes it


def test_an_evolve_round_s_lm_ppm_checkpoint_travels_through_the_recipe(
    tmp_path: Path, base: BaseFile
) -> None:
    import json
    from types import SimpleNamespace

    from thinktree.cli.bench_cmd import _restore_checkpoints, _save_checkpoints
    from thinktree.eval.bench.recipe import EvolveSpec

    evolve = EvolveSpec(config="evolve.yaml", out="runs/evo", ledgers="ledgers",
                        checkpoints="carried")  # fmt: skip
    spec = SimpleNamespace(evolve=evolve)
    config = json.dumps({"ppm_kind": "lm", "lm_ppm": CONFIG.model_dump(mode="json")})
    here, fresh, done = tmp_path / "here", tmp_path / "fresh", tmp_path / "done"
    for where in (here, fresh, done):
        where.mkdir()
        (where / "evolve.yaml").write_text(config)
    stopped_after_three(here / "runs/evo/round-1/ppm", base)
    assert _save_checkpoints(spec, here) == [here / "carried/round-1.ppm.tar.gz"]
    assert read_manifest(here / "carried/round-1.ppm.tar.gz")["precision"] == "compact"

    shutil.copytree(here / "carried", fresh / "carried")
    assert _restore_checkpoints(spec, fresh) == ["round-1 ppm"]
    assert checkpoint_path(fresh / "runs/evo/round-1/ppm").is_file()
    assert _restore_checkpoints(spec, fresh) == []  # it holds that checkpoint now

    shutil.copytree(here / "carried", done / "carried")
    (done / "runs/evo/round-1").mkdir(parents=True)
    ledger = {"round": 1, "stages": {"ppm": {"pairs": 13}}, "data": {}}
    (done / "runs/evo/round-1/manifest.json").write_text(json.dumps(ledger))
    assert _restore_checkpoints(spec, done) == []  # the round's PPM is recorded done
    assert not (done / "runs/evo/round-1/ppm").exists()


def test_settings_saved_before_a_field_existed_match_its_default(tmp_path: Path) -> None:
    from thinktree.train.ppm.lm.checkpoint import check_settings

    saved = LMPPMConfig(bf16=False).model_dump(mode="json")
    del saved["eval_pairs"]  # written before the field was added
    check_settings(saved, LMPPMConfig(), tmp_path / "ppm.json")
    with pytest.raises(ValueError, match=r"other settings \(eval_pairs\)"):
        check_settings(saved, LMPPMConfig(eval_pairs=5), tmp_path / "ppm.json")
