"""An evolve round's PPM as an LM PPM (ppm_kind: lm): the tiny model of lm_ppm_fakes
trained for real on the round's pairs, stopped at the round's deadline and resumed."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch", reason="needs the train extra")
pytest.importorskip("peft")
pytest.importorskip("gguf")

import thinktree.train.ppm.lm.round as lm_round
from tests.train.lm_ppm_fakes import PAIRS, base, load_tiny, one_thread
from thinktree.reward.ppm import is_trained_ppm
from thinktree.train.evolve.config import EvolveConfig
from thinktree.train.evolve.trainers import default_trainers
from thinktree.train.ppm.lm.checkpoint import checkpoint_path
from thinktree.train.ppm.lm.config import LMPPMConfig
from thinktree.train.ppm.lm.output import BaseFile

pytestmark = pytest.mark.usefixtures("one_thread")
__all__ = ["base", "one_thread"]  # fixtures, used by name

CONFIG = LMPPMConfig(
    validation_fraction=0.3, pairs_per_step=2, learning_rate=1e-2, warmup=0.0, rank=4,
    alpha=8.0, bf16=False, max_length=256, feature_baseline=False, max_steps=4, save_steps=1,
)  # fmt: skip


@pytest.fixture
def round_pairs(monkeypatch) -> list[str]:
    """The store's pairs are the fakes' tiny ones; the runs asked for are recorded."""
    asked: list[str] = []
    monkeypatch.setattr(lm_round, "collect_pairs", lambda store, runs: asked.extend(runs) or PAIRS)
    return asked


def test_the_round_s_lm_ppm_trains_on_its_runs_pairs(
    tmp_path: Path, base: BaseFile, round_pairs: list[str]
) -> None:
    out = tmp_path / "round-1" / "ppm"
    figures = lm_round.train_round_lm_ppm(
        None, ["pool-0", "pool-1"], out, CONFIG, None, base=base, load=load_tiny
    )
    assert round_pairs == ["pool-0", "pool-1"]
    assert figures is not None
    # 13 pairs of 12 problems; p0 p2 p3 p7 p9 p11 (6 pairs) held out at 0.3.
    keys = ("kind", "pairs", "problems_with_pairs", "pairs_held_out", "problems_held_out", "steps")
    assert [figures[k] for k in keys] == ["lm", 13, 12, 6, 6, 4]
    assert 0.0 <= figures["pairwise_accuracy_held_out"] <= 1.0
    assert figures["baselines_held_out"]["features"] is None  # feature_baseline off
    assert is_trained_ppm(out)


def test_the_round_s_lm_ppm_stops_at_the_deadline_and_resumes(
    tmp_path: Path, base: BaseFile, round_pairs: list[str]
) -> None:
    out = tmp_path / "ppm"
    past = lm_round.train_round_lm_ppm(None, [], out, CONFIG, 0.0, base=base, load=load_tiny)
    assert past is None
    assert checkpoint_path(out).is_file() and not is_trained_ppm(out)
    figures = lm_round.train_round_lm_ppm(None, [], out, CONFIG, None, base=base, load=load_tiny)
    assert figures is not None and figures["steps"] == 4
    assert is_trained_ppm(out)


def test_no_pairs_is_a_one_line_error(monkeypatch, tmp_path: Path, base: BaseFile) -> None:
    monkeypatch.setattr(lm_round, "collect_pairs", lambda store, runs: [])
    with pytest.raises(ValueError, match=r"^the trees hold no preference pairs$"):
        lm_round.train_round_lm_ppm(None, [], tmp_path, CONFIG, None, base=base)


@pytest.mark.parametrize(("kind", "called"), [("lm", "lm"), ("features", "features")])
def test_the_evolve_ppm_trainer_follows_ppm_kind(monkeypatch, kind: str, called: str) -> None:
    import thinktree.train.ppm.round as feature_round

    seen: list[tuple] = []
    monkeypatch.setattr(
        lm_round, "train_round_lm_ppm", lambda *a: seen.append(("lm", a[3], a[4])) or {}
    )
    monkeypatch.setattr(
        feature_round, "train_round_ppm", lambda *a: seen.append(("features", a[3])) or {}
    )
    config = EvolveConfig(ppm_kind=kind, lm_ppm={"rank": 4})
    trainers = default_trainers(config, "tiny", "ab" * 32)
    trainers.ppm(None, ["r"], Path("ppm"), set(), 12.5)
    expected = ("lm", config.lm_ppm, 12.5) if called == "lm" else ("features", config.ppm)
    assert seen == [expected]
