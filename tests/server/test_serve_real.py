"""`thinktree serve --model fast` end to end: the real model behind the openai client."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx
import openai
import pytest

from thinktree.store import RunStore

pytestmark = pytest.mark.model

SAMPLE = (
    "A shop sells pens at 3 dollars each. Ana buys 4 pens and pays with a 20-dollar bill. "
    "How much change does she get?"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_fast_model_answers_through_the_openai_client(tmp_path) -> None:
    port = free_port()
    store = tmp_path / "runs.db"
    env = {k: v for k, v in os.environ.items() if k != "THINKTREE_API_KEY"}
    server = subprocess.Popen(
        [sys.executable, "-m", "thinktree", "serve", "--model", "fast", "--port", str(port),
         "--store", str(store), "--threads", "1"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 300
        while True:
            assert server.poll() is None, server.stderr.read().decode()  # type: ignore[union-attr]
            try:
                if httpx.get(url + "/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the server did not come up"
            time.sleep(1)
        client = openai.OpenAI(base_url=url, api_key="unused", max_retries=0, timeout=300)
        reply = client.chat.completions.create(
            model="thinktree-greedy",
            messages=[{"role": "user", "content": SAMPLE}],
            extra_body={"thinktree": {"max_steps": 6}},
        )
        extra = reply.model_extra["thinktree"]
        assert reply.choices[0].message.content == f"Answer: \\boxed{{{extra['answer']}}}"
        assert extra["answer"] == "8"
        assert reply.usage.completion_tokens > 0 and reply.usage.prompt_tokens > 0
        with RunStore(store) as runs:
            (row,) = runs.results(extra["run_id"])
        assert row.answer == "8" and row.generated_tokens == reply.usage.completion_tokens
    finally:
        server.terminate()
        server.wait(30)
