"""Failures behind the API: the engine raising, the store unwritable. The server keeps serving."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.server.helpers import QUESTION, live_server, pens_script, server_config
from thinktree.engines.scripted import ScriptedEngine


def body(**fields: object) -> bytes:
    return json.dumps(
        {"model": "thinktree-greedy", "messages": [{"role": "user", "content": QUESTION}], **fields}
    ).encode()


@pytest.fixture
def flaky(sandbox, grader, tmp_path):
    """A server whose engine raises while ``broken`` holds True."""
    broken = [True]

    def script(request, index):
        if broken[0]:
            raise RuntimeError("the engine fell over\nbadly")
        return pens_script(request, index)

    config = server_config(tmp_path, concurrency=1, queue=0)
    with live_server(ScriptedEngine(script), sandbox, grader, config) as url:
        yield url, broken, config


def test_engine_failure_is_a_500_error_object_and_frees_the_slot(flaky) -> None:
    url, broken, _ = flaky
    response = httpx.post(url + "/v1/chat/completions", content=body(), timeout=30)
    assert response.status_code == 500
    assert response.json() == {
        "error": {
            "message": "the solve failed: the engine fell over badly",
            "type": "server_error",
            "param": None,
            "code": None,
        }
    }
    broken[0] = False
    again = httpx.post(url + "/v1/chat/completions", content=body(), timeout=30)
    assert again.status_code == 200  # concurrency 1, queue 0: the slot came back


def test_engine_failure_mid_stream_ends_with_an_error_event(flaky) -> None:
    url, _, _ = flaky
    response = httpx.post(url + "/v1/chat/completions", content=body(stream=True), timeout=30)
    assert response.status_code == 200
    events = [e for e in response.text.split("\n\n") if e]
    assert json.loads(events[0].removeprefix("data: "))["choices"][0]["delta"] == {
        "role": "assistant",
        "content": "",
    }
    assert json.loads(events[1].removeprefix("data: ")) == {
        "error": {
            "message": "the solve failed: the engine fell over badly",
            "type": "server_error",
            "param": None,
            "code": None,
        }
    }
    assert events[2:] == ["data: [DONE]"]


def test_unwritable_store_still_answers_with_no_run_id(flaky) -> None:
    url, broken, config = flaky
    broken[0] = False
    config.store_path.unlink()
    config.store_path.mkdir()  # RunStore refuses a directory
    response = httpx.post(url + "/v1/chat/completions", content=body(), timeout=30)
    assert response.status_code == 200
    reply = response.json()
    assert reply["choices"][0]["message"]["content"] == "Answer: \\boxed{8}"
    assert reply["thinktree"]["run_id"] is None
