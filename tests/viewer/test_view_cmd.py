"""`thinktree view`: one-line errors, and the URL it prints is the page it serves."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading

import httpx
import pytest
from typer.testing import CliRunner

from tests.viewer.conftest import REAL_RUN
from thinktree.cli import app, view_cmd


@pytest.fixture
def served(monkeypatch) -> dict[str, object]:
    """Run `view` without serving: what it would serve, on which socket."""
    seen: dict[str, object] = {}

    def serve(application, sock) -> None:
        seen.update(app=application, port=sock.getsockname()[1])
        sock.close()

    monkeypatch.setattr(view_cmd, "_serve", serve)
    monkeypatch.delenv("THINKTREE_API_KEY", raising=False)
    return seen


def test_it_prints_the_url_of_the_run_given_by_a_prefix(served, store_path) -> None:
    result = CliRunner().invoke(app, ["view", "gsm8k-test-mcts4", "--store", str(store_path),
                                      "--port", "0"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout == f"http://127.0.0.1:{served['port']}/runs/{REAL_RUN}\n"


def test_without_a_run_it_serves_the_runs_page_even_before_a_store_exists(served, tmp_path) -> None:
    evolve = tmp_path / "evo"
    evolve.mkdir()
    result = CliRunner().invoke(app, ["view", "--evolve", str(evolve), "--port", "0"])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"http://127.0.0.1:{served['port']}/\n"
    assert f"no run store at {evolve / 'runs.db'} yet" in result.output  # on stderr
    assert not (evolve / "runs.db").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope"], "error: no run 'nope' in {store}; see `thinktree runs list`"),
        (["gsm8k"], "error: run 'gsm8k' is ambiguous in {store}: "),
        (["x", "--store", "{tmp}/none.db"],
         "error: no run store at {tmp}/none.db; run `thinktree eval` first or pass --store"),
        (["--evolve", "{tmp}/nodir"], "error: --evolve {tmp}/nodir is not a directory"),
        (["--host", "0.0.0.0"], "error: refusing to bind 0.0.0.0 without an API key"),
    ],
)  # fmt: skip
def test_mistakes_are_one_line_errors(served, store_path, tmp_path, args, message) -> None:
    args = [a.format(tmp=tmp_path) for a in args]
    if "--store" not in args:
        args += ["--store", str(store_path)]
    result = CliRunner().invoke(app, ["view", *args])
    assert result.exit_code == 2
    (line,) = result.output.strip().splitlines()
    assert line.startswith(message.format(store=store_path, tmp=tmp_path))
    assert served == {}  # nothing was served


def test_a_taken_port_is_a_one_line_error(served, store_path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = CliRunner().invoke(app, ["view", "--store", str(store_path), "--port", str(port)])
    assert result.exit_code == 2
    (line,) = result.output.strip().splitlines()
    assert line == f"error: cannot listen on 127.0.0.1:{port} (Address already in use)"


def test_the_printed_url_serves_the_run_until_interrupted(store_path) -> None:
    env = {**os.environ, "THINKTREE_API_KEY": ""}
    env.pop("THINKTREE_API_KEY")
    command = [sys.executable, "-m", "thinktree", "view", REAL_RUN, "--store", str(store_path),
               "--port", "0"]  # fmt: skip
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env=env) as proc:  # fmt: skip
        timer = threading.Timer(60, proc.kill)
        timer.start()
        try:
            url = proc.stdout.readline().strip()
            assert url.startswith("http://127.0.0.1:") and url.endswith(f"/runs/{REAL_RUN}")
            page = _get_when_up(url)
            assert page.status_code == 200
            assert f"<h1>{REAL_RUN}</h1>" in page.text
        finally:
            proc.send_signal(signal.SIGINT)
            assert proc.wait(30) == 0
            timer.cancel()
        assert "serving the viewer; Ctrl-C stops it" in proc.stderr.read()


def _get_when_up(url: str) -> httpx.Response:
    """The socket is bound before the URL is printed, so a connection waits for uvicorn."""
    return httpx.get(url, timeout=30)


def test_a_store_given_with_evolve_is_the_store_shown(served, store_path, tmp_path) -> None:
    evolve = tmp_path / "evo"
    evolve.mkdir()
    result = CliRunner().invoke(app, ["view", "gsm8k-test-mcts4", "--evolve", str(evolve),
                                      "--store", str(store_path), "--port", "0"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout == f"http://127.0.0.1:{served['port']}/runs/{REAL_RUN}\n"
    assert "no run store" not in result.output
