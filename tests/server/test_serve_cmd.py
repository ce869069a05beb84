"""`thinktree serve` options become the server config; mistakes are one-line errors."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from tests.policy_dirs import policy_with
from tests.server.helpers import pens_script
from thinktree.api import Runtime
from thinktree.cli import app, serve_cmd
from thinktree.engines.scripted import ScriptedEngine


@pytest.fixture
def captured(monkeypatch, sandbox, grader):
    """Run `serve` with a scripted runtime and without starting uvicorn."""
    import thinktree.api

    seen: dict[str, object] = {}

    def open_runtime(engine_cfg, **kwargs):
        seen["engine"] = engine_cfg
        return Runtime(ScriptedEngine(pens_script), sandbox, grader)

    def run(runtime, config, host, port):
        seen.update(runtime=runtime, config=config, host=host, port=port)

    monkeypatch.setattr(thinktree.api, "open_runtime", open_runtime)
    monkeypatch.setattr(serve_cmd, "_run", run)
    monkeypatch.delenv("THINKTREE_API_KEY", raising=False)
    return seen


def test_options_become_the_server_config(captured, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("THINKTREE_API_KEY", "from-env")
    store = tmp_path / "s.db"
    args = ["serve", "--host", "0.0.0.0", "--port", "9001", "--store", str(store),
            "--concurrency", "2", "--queue", "0", "--model", "fast"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    config = captured["config"]
    assert (captured["host"], captured["port"]) == ("0.0.0.0", 9001)
    assert (config.api_key, config.concurrency, config.queue) == ("from-env", 2, 0)
    assert config.store_path == store and config.default_scorer == "none"
    assert captured["engine"].model == "fast"


def test_an_evolve_directory_goes_to_the_viewer(captured, tmp_path) -> None:
    result = CliRunner().invoke(app, ["serve", "--store", str(tmp_path / "s.db"),
                                      "--evolve", str(tmp_path)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert captured["config"].evolve_dir == tmp_path
    assert "the viewer on http://127.0.0.1:8000/" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--scorer", "outcome"],
            "error: outcome scorers need the gold answer, which a chat has not",
        ),
        (["--scorer", "magic"], "error: unknown scorer 'magic'"),
        (["--engine", "vllm"], "error: unknown engine 'vllm'; use llamacpp or openai"),
        (["--evolve", "/nonexistent/evo"], "error: --evolve /nonexistent/evo is not a directory"),
    ],
)
def test_mistakes_are_one_line_errors(captured, args, message) -> None:
    result = CliRunner().invoke(app, ["serve", *args])
    assert result.exit_code == 2
    (line,) = result.output.strip().splitlines()
    assert line.startswith(message)
    assert "config" not in captured  # refused before anything was started


def test_an_unset_scorer_loads_the_verifier_shipped_with_the_model(
    captured, tmp_path, monkeypatch
) -> None:
    import thinktree.reward.registry as registry
    from thinktree.reward.base import NullScorer

    loaded: list[str] = []

    def load_scorer(spec):
        loaded.append(spec)
        return NullScorer(), f"{spec}@sha"

    monkeypatch.setattr(registry, "load_scorer", load_scorer)
    round_dir = policy_with(tmp_path / "round-1", "lm")
    spec = f"ppm:{round_dir / 'ppm'}"
    result = CliRunner().invoke(app, ["serve", "--model", str(round_dir),
                                      "--store", str(tmp_path / "s.db")])  # fmt: skip
    assert result.exit_code == 0, result.output
    config = captured["config"]
    assert loaded == [spec]
    assert (config.shipped_verifier, config.default_scorer) == (spec, "none")
    assert config.scorer_ids == {spec: f"{spec}@sha"}
    assert result.stderr.splitlines()[0] == (
        f"note: best_of_n, beam, mcts score with the verifier shipped with the model ({spec}) "
        "unless a request names thinktree.scorer; --scorer none turns it off"
    )
    # --scorer none: nothing is loaded, nothing said.
    loaded.clear()
    result = CliRunner().invoke(app, ["serve", "--model", str(round_dir), "--scorer", "none",
                                      "--store", str(tmp_path / "s.db")])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert captured["config"].shipped_verifier is None
    assert "verifier" not in result.stderr
