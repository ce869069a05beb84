"""Concurrency slots, the bounded queue (429 past it) and clients that leave mid-solve."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx
import pytest

from tests.server.helpers import QUESTION, Blocking, server_config, serving
from thinktree.api import Runtime
from thinktree.engines.scripted import ScriptedEngine
from thinktree.server import create_app
from thinktree.store import RunStore

FIRST = "A first question: Ana buys 4 pens at 3 dollars and pays 20. Change?"


def body(question: str = QUESTION, **fields: object) -> bytes:
    return json.dumps(
        {"model": "thinktree-greedy", "messages": [{"role": "user", "content": question}], **fields}
    ).encode()


def post(url: str, raw: bytes, out: list) -> None:
    try:
        out.append(httpx.post(url + "/v1/chat/completions", content=raw, timeout=30))
    except httpx.HTTPError as exc:
        out.append(exc)


def wait_for(condition: Callable[[], bool], what: str, limit: float = 10) -> None:
    """Poll ``condition`` until it holds; the limit only bounds a broken server."""
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.01)


def hang_up_mid_solve(url: str, raw: bytes, script: Blocking) -> None:
    """Send a request on a raw socket and close it once the engine holds its round."""
    address = urlsplit(url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        head = (
            f"POST /v1/chat/completions HTTP/1.1\r\nHost: {address.netloc}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(raw)}\r\n\r\n"
        )
        sock.sendall(head.encode() + raw)
        assert script.entered.wait(10)


@pytest.fixture
def blocked(sandbox, grader, tmp_path, request):
    script = Blocking()
    config = server_config(tmp_path, concurrency=1, queue=request.param)
    app = create_app(Runtime(ScriptedEngine(script), sandbox, grader), config)
    with serving(app) as url:
        try:
            yield url, script, config, app.state
        finally:
            script.release.set()


def search_stopped(state) -> bool:
    return any(job.stop.is_set() for job in state.jobs)


def start(url: str, raw: bytes) -> tuple[threading.Thread, list]:
    out: list = []
    thread = threading.Thread(target=post, args=(url, raw, out))
    thread.start()
    return thread, out


@pytest.mark.parametrize("blocked", [0], indirect=True)
def test_request_past_the_queue_is_429(blocked) -> None:
    url, script, _, _ = blocked
    thread, first = start(url, body(FIRST))
    assert script.entered.wait(10)
    response = httpx.post(url + "/v1/chat/completions", content=body(), timeout=10)
    assert response.status_code == 429
    error = response.json()["error"]
    assert (error["type"], error["code"], error["param"]) == (
        "rate_limit_error",
        "server_busy",
        None,
    )
    assert "all 1 slots are busy" in error["message"]
    script.release.set()
    thread.join(30)
    assert first[0].status_code == 200
    assert first[0].json()["choices"][0]["message"]["content"] == "Answer: \\boxed{8}"


@pytest.mark.parametrize("blocked", [1], indirect=True)
def test_queued_request_waits_for_the_slot(blocked) -> None:
    url, script, _, state = blocked
    thread_a, first = start(url, body(FIRST))
    assert script.entered.wait(10)
    thread_b, second = start(url, body())
    wait_for(lambda: state.gate.waiting == 1, "b is queued")
    third = httpx.post(url + "/v1/chat/completions", content=body(), timeout=10)
    assert third.status_code == 429
    assert script.questions == ["first"]  # b has not reached the engine
    script.release.set()
    thread_a.join(30)
    thread_b.join(30)
    assert [r.status_code for r in (*first, *second)] == [200, 200]
    assert script.questions == ["first"] * 3 + ["other"] * 3


@pytest.mark.parametrize("blocked", [0], indirect=True)
def test_client_that_leaves_frees_its_slot_and_stops_the_search(blocked) -> None:
    url, script, config, state = blocked
    hang_up_mid_solve(url, body(FIRST), script)
    wait_for(lambda: search_stopped(state), "the server notices the client left")
    assert state.gate.running == 1  # the engine still holds the round
    script.release.set()
    wait_for(lambda: state.gate.running == 0, "the slot is free")
    response = httpx.post(url + "/v1/chat/completions", content=body(), timeout=30)
    assert response.status_code == 200
    # The abandoned search stopped after its round in flight: one of its three steps.
    assert script.questions.count("first") == 1
    with RunStore(config.store_path) as store:
        (run,) = store.list_runs()
        assert [r.question for r in store.results(run.id)] == [QUESTION]


@pytest.mark.parametrize("blocked", [0], indirect=True)
def test_streaming_client_that_leaves_frees_its_slot(blocked) -> None:
    url, script, _, state = blocked
    with httpx.stream(
        "POST", url + "/v1/chat/completions", content=body(FIRST, stream=True), timeout=10
    ) as response:
        assert response.status_code == 200
        lines = response.iter_lines()
        assert next(lines).startswith("data: ")  # the role chunk, then hang up
    assert script.entered.wait(10)
    wait_for(lambda: search_stopped(state), "the server notices the client left")
    script.release.set()
    wait_for(lambda: state.gate.running == 0, "the slot is free")
    second = httpx.post(url + "/v1/chat/completions", content=body(), timeout=30)
    assert second.status_code == 200
    assert script.questions.count("first") == 1
