"""The API key, and refusing an open bind beyond loopback."""

from __future__ import annotations

import httpx
import openai
import pytest
from typer.testing import CliRunner

from tests.server.helpers import QUESTION, live_server, pens_script, server_config
from thinktree.cli import app
from thinktree.engines.scripted import ScriptedEngine
from thinktree.server import check_bind

KEY = "s3cret-key"


@pytest.fixture(scope="module")
def url(sandbox, grader, tmp_path_factory):
    config = server_config(tmp_path_factory.mktemp("auth"), api_key=KEY)
    with live_server(ScriptedEngine(pens_script), sandbox, grader, config) as u:
        yield u


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": KEY},
        {"Authorization": "Basic " + KEY},
    ],
    ids=["missing", "wrong", "no scheme", "basic"],
)
@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/v1/models"), ("POST", "/v1/chat/completions")]
)
def test_without_the_key_is_401(url, headers, method, path) -> None:
    response = httpx.request(method, url + path, headers=headers, content=b"{}")
    assert response.status_code == 401
    assert response.json() == {
        "error": {
            "message": "missing or wrong API key: send Authorization: Bearer KEY",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_api_key",
        }
    }


def test_with_the_key_the_client_is_served(url) -> None:
    client = openai.OpenAI(base_url=url + "/v1", api_key=KEY, max_retries=0, timeout=30)
    assert sorted(model.id for model in client.models.list().data) == [
        "thinktree-beam",
        "thinktree-best_of_n",
        "thinktree-chat_cot",
        "thinktree-greedy",
        "thinktree-mcts",
        "thinktree-sc",
    ]
    reply = client.chat.completions.create(
        model="thinktree-greedy", messages=[{"role": "user", "content": QUESTION}]
    )
    assert reply.choices[0].message.content == "Answer: \\boxed{8}"
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=url + "/v1", api_key="nope", max_retries=0).models.list()


@pytest.mark.parametrize(
    ("host", "key", "no_auth", "allowed"),
    [
        ("127.0.0.1", None, False, True),
        ("127.0.0.2", None, False, True),
        ("::1", None, False, True),
        ("localhost", None, False, True),
        ("0.0.0.0", None, False, False),
        ("192.168.1.5", None, False, False),
        ("example.org", None, False, False),
        ("0.0.0.0", "k", False, True),
        ("0.0.0.0", None, True, True),
    ],
)
def test_bind_beyond_loopback_needs_a_key(host, key, no_auth, allowed) -> None:
    if allowed:
        check_bind(host, key, no_auth)
    else:
        with pytest.raises(ValueError, match=f"refusing to bind {host} without an API key"):
            check_bind(host, key, no_auth)


def test_serve_refuses_an_open_bind_in_one_line(monkeypatch) -> None:
    monkeypatch.delenv("THINKTREE_API_KEY", raising=False)
    result = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "error: refusing to bind 0.0.0.0 without an API key: pass --api-key KEY "
        "(or set THINKTREE_API_KEY), or --no-auth to serve it open"
    ]
