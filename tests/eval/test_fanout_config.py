"""The fan-out's options and bad input, and the worker's problem feed (no Ray needed)."""

from __future__ import annotations

import sys
import threading

import pytest
from typer.testing import CliRunner

from thinktree.cli import app
from thinktree.eval.fanout import FanoutConfig
from thinktree.eval.fanout.worker import ProblemQueue
from thinktree.problems import Problem
from thinktree.train.evolve.config import load_evolve_config

HINT = "pip install 'thinktree[ray]'"


def one_line(result) -> str:
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    return lines[0]


@pytest.fixture
def no_ray(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError


def test_eval_with_ray_but_no_ray_installed_is_one_line_exit_2(tmp_path, no_ray) -> None:
    store = str(tmp_path / "runs.db")
    args = ["eval", "--benchmark", "gsm8k", "--limit", "1", "--store", store, "--ray", "auto"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert one_line(result) == f"error: --ray needs Ray, which is not installed: {HINT}"


def test_evolve_with_ray_but_no_ray_installed_is_one_line_exit_2(tmp_path, no_ray) -> None:
    args = ["evolve", "--out", str(tmp_path / "out"), "--ray", "auto", "--workers", "3"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2
    assert one_line(result) == (
        f"error: --ray needs Ray, which is not installed: {HINT}"
        " (finished stages are kept; rerun to resume)"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--workers", "4"], "error: workers apply to Ray workers; add --ray auto (or an address)"),
        (["--ray", " "], "error: ray: give auto or a Ray cluster address"),
        (["--ray", "auto", "--workers", "0"], "error: workers: Input should be greater than"),
    ],
)
def test_eval_bad_fanout_options_are_one_line_exit_2(tmp_path, args, message) -> None:
    store = str(tmp_path / "runs.db")
    result = CliRunner().invoke(
        app, ["eval", "--benchmark", "gsm8k", "--limit", "1", "--store", store, *args]
    )
    assert result.exit_code == 2
    assert one_line(result).startswith(message)


def test_fanout_config_defaults_and_cpus() -> None:
    plain = FanoutConfig()
    assert (plain.ray, plain.enabled, plain.workers, plain.max_attempts) == (None, False, 2, 3)
    on = FanoutConfig(ray=" auto ", workers=4)
    assert (on.ray, on.enabled, on.cpus(0), on.cpus(2)) == ("auto", True, 1.0, 2.0)
    assert FanoutConfig(ray="head:6379", worker_cpus=0.5).cpus(2) == 0.5


def test_evolve_config_takes_fanout_from_yaml_or_set(tmp_path) -> None:
    path = tmp_path / "evolve.yaml"
    path.write_text("fanout:\n  ray: auto\n  workers: 3\n")
    assert load_evolve_config(path).fanout == FanoutConfig(ray="auto", workers=3)
    cfg = load_evolve_config(None, {"fanout.ray": "ray://head:10001", "fanout.max_attempts": 2})
    assert (cfg.fanout.ray, cfg.fanout.workers, cfg.fanout.max_attempts) == (
        "ray://head:10001",
        2,
        2,
    )
    with pytest.raises(ValueError, match=r"^evolve config: fanout: Value error, workers apply"):
        load_evolve_config(None, {"fanout.workers": 5})


def test_problem_queue_waits_only_when_asked_and_ends_when_closed() -> None:
    queue = ProblemQueue()
    assert queue.take(2, wait=False) == []
    problems = [Problem(f"p{i}", "q", "1") for i in range(3)]
    for problem in problems:
        queue.put(problem)
    assert queue.take(2, wait=True) == problems[:2]
    assert queue.take(2, wait=False) == problems[2:]
    taken: list[object] = []
    reader = threading.Thread(target=lambda: taken.append(queue.take(1, wait=True)))
    reader.start()
    queue.put(problems[0])
    reader.join(timeout=10)
    assert taken == [[problems[0]]]
    queue.close()
    assert queue.take(1, wait=True) is None and queue.take(1, wait=False) is None
