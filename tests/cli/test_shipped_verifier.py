"""A search that takes a verifier (mcts, best_of_n, beam) given no ``--scorer`` scores
with the LM PPM shipped with the model's policy, and says so; a feature PPM, a model
that ships none, an explicit ``--scorer`` and any other search keep what they had."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.policy_dirs import policy_with
from thinktree.cli.app import app
from thinktree.cli.options import chosen_scorer
from thinktree.models import policy as policy_module
from thinktree.models import resolve as resolve_module
from thinktree.reward.registry import shipped_verifier

NOTE = "note: mcts scores with the verifier shipped with the model ({spec}); --scorer none turns it off"


@pytest.fixture(autouse=True)
def package(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A package whose policy slots are empty directories of ``tmp_path``."""
    package = tmp_path / "package"
    package.mkdir()
    for module in (policy_module, resolve_module):
        monkeypatch.setattr(module, "default_policy_dir", lambda: package / "default")
        monkeypatch.setattr(module, "embedded_policy_dir", lambda: package / "evolved")
    return package


def test_the_lm_ppm_a_policy_ships_is_its_verifier(tmp_path: Path, package: Path) -> None:
    round_dir = policy_with(tmp_path / "evolve" / "round-1", "lm")
    assert shipped_verifier(str(round_dir)) == f"ppm:{round_dir / 'ppm'}"
    # A shipped slot is named as --scorer names it.
    policy_with(package / "evolved", "lm", name="evolved")
    assert shipped_verifier("evolved") == "ppm:evolved"


def test_no_verifier_without_an_lm_ppm_or_a_policy(tmp_path: Path) -> None:
    assert shipped_verifier(str(policy_with(tmp_path / "features", "features"))) is None
    assert shipped_verifier(str(policy_with(tmp_path / "bare", None))) is None
    assert shipped_verifier("fast") is None  # an embedded file, not a policy
    assert shipped_verifier("default") is None  # no evolved 1.5B shipped: the file
    assert shipped_verifier("evolved") is None  # no evolved policy shipped in this package
    assert shipped_verifier(str(tmp_path / "absent.gguf")) is None  # the engine says why


def test_an_unset_scorer_takes_the_shipped_verifier_for_mcts_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    round_dir = str(policy_with(tmp_path / "round-1", "lm"))
    spec = f"ppm:{tmp_path / 'round-1' / 'ppm'}"
    engine = {"model": round_dir}
    assert chosen_scorer(None, {"strategy": "mcts"}, engine) == spec
    assert capsys.readouterr().err.strip() == NOTE.format(spec=spec)
    assert chosen_scorer(None, {"strategy": "best_of_n"}, engine) == spec
    capsys.readouterr()
    # Given, even as none, it stands; sc and greedy never take one; without one, none.
    assert chosen_scorer("none", {"strategy": "mcts"}, engine) == "none"
    assert chosen_scorer(None, {"strategy": "sc"}, engine) == "none"
    assert chosen_scorer(None, {"strategy": "greedy"}, engine) == "none"
    assert chosen_scorer(None, {"strategy": "mcts"}, {"model": "fast"}) == "none"
    assert capsys.readouterr().err == ""


def test_eval_says_it_before_anything_is_loaded(tmp_path: Path) -> None:
    round_dir = policy_with(tmp_path / "round-1", "lm")
    out = CliRunner().invoke(app, [
        "eval", "--model", str(round_dir), "--strategy", "mcts", "--benchmark", "gsm8k",
        "--limit", "0", "--store", str(tmp_path / "runs.db"),
    ])  # fmt: skip
    # The slice is refused before a model is loaded; the note came first.
    assert out.exit_code == 2
    assert out.stderr.splitlines() == [
        NOTE.format(spec=f"ppm:{round_dir / 'ppm'}"),
        "error: limit: Input should be greater than or equal to 1",
    ]
