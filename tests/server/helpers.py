"""A live thinktree server on 127.0.0.1 over the scripted engine, for the server tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn

from tests.conftest import answer, cell, depth_of
from thinktree.api import Runtime
from thinktree.engines.scripted import ScriptedEngine
from thinktree.server import ServerConfig, create_app

QUESTION = "Ana buys 4 pens at 3 dollars and pays 20. Change?"


def pens_script(request: object, index: int) -> str:
    depth = depth_of(request.prompt)  # type: ignore[attr-defined]
    return [
        cell("cost = 4 * 3\nprint(cost)"),
        cell("change = 20 - cost\nprint(change)"),
        answer("8"),
    ][min(depth, 2)]


class Blocking:
    """A script that holds every engine call until ``release`` is set (at most 10 s)."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.questions: list[str] = []

    def __call__(self, request: object, index: int) -> str:
        prompt = request.prompt  # type: ignore[attr-defined]
        self.questions.append("first" if "first question" in prompt else "other")
        self.entered.set()
        self.release.wait(10)
        return pens_script(request, index)


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Serve ``app`` on a free 127.0.0.1 port in a thread; yields the base URL; stops it after."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@contextmanager
def live_server(
    engine: ScriptedEngine, sandbox: object, grader: object, config: ServerConfig
) -> Iterator[str]:
    """The API over ``engine`` served as by :func:`serving`."""
    runtime = Runtime(engine, sandbox, grader)  # type: ignore[arg-type]
    with serving(create_app(runtime, config)) as url:
        yield url


def server_config(tmp_path: Path, **fields: object) -> ServerConfig:
    return ServerConfig(store_path=tmp_path / "runs.db", poll_seconds=0.02, **fields)  # type: ignore[arg-type]
