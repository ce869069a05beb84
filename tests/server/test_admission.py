"""Concurrency slots, the bounded queue (429 past it) and clients that leave mid-solve."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest

from tests.server.helpers import QUESTION, Blocking, live_server, server_config
from thinktree.engines.scripted import ScriptedEngine
from thinktree.store import RunStore

FIRST = "A first question: Ana buys 4 pens at 3 dollars and pays 20. Change?"


def body(question: str = QUESTION, **fields: object) -> bytes:
    return json.dumps(
        {"model": "thinktree-greedy", "messages": [{"role": "user", "content": question}], **fields}
    ).encode()


def post(url: str, raw: bytes, out: list, timeout: float = 30) -> None:
    try:
        out.append(httpx.post(url + "/v1/chat/completions", content=raw, timeout=timeout))
    except httpx.HTTPError as exc:
        out.append(exc)


@pytest.fixture
def blocked(sandbox, grader, tmp_path, request):
    script = Blocking()
    config = server_config(tmp_path, concurrency=1, queue=request.param)
    with live_server(ScriptedEngine(script), sandbox, grader, config) as url:
        try:
            yield url, script, config
        finally:
            script.release.set()


def start(url: str, raw: bytes, timeout: float = 30) -> tuple[threading.Thread, list]:
    out: list = []
    thread = threading.Thread(target=post, args=(url, raw, out, timeout))
    thread.start()
    return thread, out


@pytest.mark.parametrize("blocked", [0], indirect=True)
def test_request_past_the_queue_is_429(blocked) -> None:
    url, script, _ = blocked
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
    url, script, _ = blocked
    thread_a, first = start(url, body(FIRST))
    assert script.entered.wait(10)
    thread_b, second = start(url, body())
    time.sleep(0.3)  # b is queued: a third request finds slot and queue full
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
    url, script, config = blocked
    thread, first = start(url, body(FIRST), timeout=0.5)
    assert script.entered.wait(10)
    thread.join(10)
    assert isinstance(first[0], httpx.ReadTimeout)  # the client hung up mid-solve
    time.sleep(0.5)  # the server notices while the engine still holds the round
    script.release.set()
    deadline = time.monotonic() + 10
    while True:
        response = httpx.post(url + "/v1/chat/completions", content=body(), timeout=30)
        if response.status_code != 429 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert response.status_code == 200
    # The abandoned search stopped after its round in flight: one of its three steps.
    assert script.questions.count("first") == 1
    with RunStore(config.store_path) as store:
        (run,) = store.list_runs()
        assert [r.question for r in store.results(run.id)] == [QUESTION]


@pytest.mark.parametrize("blocked", [0], indirect=True)
def test_streaming_client_that_leaves_frees_its_slot(blocked) -> None:
    url, script, _ = blocked
    with httpx.stream(
        "POST", url + "/v1/chat/completions", content=body(FIRST, stream=True), timeout=10
    ) as response:
        assert response.status_code == 200
        lines = response.iter_lines()
        assert next(lines).startswith("data: ")  # the role chunk, then hang up
    assert script.entered.wait(10)
    time.sleep(0.5)
    script.release.set()
    deadline = time.monotonic() + 10
    while True:
        second = httpx.post(url + "/v1/chat/completions", content=body(), timeout=30)
        if second.status_code != 429 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert second.status_code == 200
    assert script.questions.count("first") == 1
