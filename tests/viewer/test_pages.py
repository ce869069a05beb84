"""The viewer's pages over HTTP: what they list, their errors, escaping, and the key."""

from __future__ import annotations

import base64
import json
import re
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.server.helpers import pens_script
from tests.viewer.conftest import (
    HOSTILE,
    HOSTILE_PROBLEM,
    LIVE_RUN,
    REAL_PROBLEM,
    REAL_RUN,
    SC_RUN,
    TREE_RUN,
)
from tests.viewer.html import squash, table_rows
from thinktree.api import Runtime
from thinktree.engines.scripted import ScriptedEngine
from thinktree.server import ServerConfig, create_app
from thinktree.store import RunStore
from thinktree.viewer import problem_url, run_url

KEY = "viewer-key"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


@pytest.fixture(scope="module")
def client(store_path: Path) -> TestClient:
    return TestClient(create_app(None, ServerConfig(store_path=store_path)))


def started(store_path: Path, run_id: str) -> str:
    with RunStore(store_path) as store:
        created = store.get_run(run_id).created
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(created))


def test_the_runs_page_lists_every_run_newest_first(client, store_path) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-security-policy"] == CSP
    rows = table_rows(response.text, "run-row", "run")
    assert list(rows) == [REAL_RUN, LIVE_RUN, TREE_RUN, SC_RUN]
    assert rows[REAL_RUN] == [
        REAL_RUN, "gsm8k:test", "mcts@4", "qwen2.5-coder-0.5b-instruct", "complete", "2",
        "100.0 (34.2–100.0, n=2)", "839", "71.0", "142", started(store_path, REAL_RUN),
    ]  # fmt: skip
    assert rows[SC_RUN][1:10] == [
        "gsm8k:test", "sc@3", "qwen2.5-coder-0.5b-instruct", "complete", "3",
        "33.3 (6.1–79.2, n=3)", "30", "2.0", "6",
    ]  # fmt: skip
    assert rows[LIVE_RUN][4:7] == ["running", "1", "100.0 (20.7–100.0, n=1)"]
    assert f'href="{run_url(REAL_RUN)}"' in response.text
    assert 'data-refresh="5"' in response.text  # new runs appear while the page is open


def test_a_run_page_lists_its_problems_with_links(client) -> None:
    response = client.get(run_url(REAL_RUN))
    assert response.status_code == 200
    rows = table_rows(response.text, "problem-row", "problem")
    assert rows == {
        "gsm8k/test/3": ["0", "gsm8k/test/3 tree",
                         "James decides to run 3 sprints 3 times a week. He runs 60 meters each "
                         "sprint. How many total meters does he run a week?",
                         "540", "540", "right", "271", "65.3", "exhausted"],
        "gsm8k/test/4": ["1", "gsm8k/test/4 tree",
                         "Every day, Wendi feeds each of her chickens three cups of mixed chicken "
                         "feed, containing seeds, mealworms and vegetables to help keep them …",
                         "20", "20", "right", "1407", "142.0", "done"],
    }  # fmt: skip
    assert 'href="/runs/gsm8k-test-mcts4-429c74/problems/gsm8k%2Ftest%2F4"' in response.text
    assert "data-refresh" not in response.text  # a complete run does not reload


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["p-right", "p-wrong", HOSTILE_PROBLEM]),
        ("?sort=tokens", ["p-wrong", "p-right", HOSTILE_PROBLEM]),
        ("?sort=time", [HOSTILE_PROBLEM, "p-right", "p-wrong"]),
        ("?show=right", ["p-right"]),
        ("?show=wrong&sort=time", ["p-wrong"]),
        ("?show=unanswered", [HOSTILE_PROBLEM]),
    ],
)
def test_problems_filter_and_sort_by_query(client, query, expected) -> None:
    response = client.get(run_url(SC_RUN) + query)
    assert response.status_code == 200
    assert list(table_rows(response.text, "problem-row", "problem")) == expected
    assert "all (3)" in response.text and "unanswered (1)" in response.text


def test_a_running_run_s_page_reloads_itself(client) -> None:
    response = client.get(run_url(LIVE_RUN))
    assert 'data-refresh="5"' in response.text
    assert '<span id="live-status" class="live-status">live</span>' in response.text


def test_a_tree_page_draws_every_node_and_marks_the_chosen_path(client, store_path) -> None:
    response = client.get(problem_url(REAL_RUN, REAL_PROBLEM))
    assert response.status_code == 200
    with RunStore(store_path) as store:
        nodes = store.tree(REAL_RUN, REAL_PROBLEM)["nodes"]
    html = response.text
    assert html.count('role="button" aria-label="node ') == len(nodes) == 22
    assert html.count('<line class="edge') == 21
    chosen = re.findall(r'<g class="node node-\w+ chosen[^"]*" data-node="(\d+)"', html)
    assert chosen == ["0", "1", "4", "6"]
    assert html.count('<line class="edge chosen"') == 3
    assert html.count('<circle class="ring right"') == 2
    assert html.count('<circle class="ring wrong"') == 3
    # The chosen answer's node is selected, and its details are the one shown.
    assert 'class="node node-final chosen selected" data-node="6"' in html
    assert '<section class="node-detail" id="node-detail-6" data-detail="6">' in html
    assert '<section class="node-detail" id="node-detail-1" data-detail="1" hidden>' in html


def test_samples_are_shown_side_by_side(client) -> None:
    response = client.get(problem_url(SC_RUN, "p-right"))
    assert response.status_code == 200
    html = squash(response.text)
    assert html.count('<article class="sample') == 3
    assert '<article class="sample chosen" data-sample="0">' in html
    assert "Samples side by side" in html
    assert html.count('<span class="verdict verdict-right">right</span>') == 3  # 2 + headline


def test_model_written_markup_is_escaped_everywhere(client) -> None:
    escaped = "&lt;script&gt;window.pwned = 1&lt;/script&gt;"
    pages = [
        client.get(run_url(SC_RUN)),
        client.get(problem_url(SC_RUN, HOSTILE_PROBLEM)),
        client.get(problem_url(TREE_RUN, "q1")),
    ]
    for response in pages:
        assert response.status_code == 200
        assert HOSTILE not in response.text
        assert escaped in response.text
        assert response.text.count("<script") == 1  # the viewer's own
    tree_page = pages[2].text
    assert "&lt;b&gt;9&lt;/b&gt;" in tree_page and "<b>9</b>" not in tree_page
    assert "p&lt;1&gt;&amp;2" in pages[1].text
    assert 'href="/runs/gsm8k-test-sc3-viewer/problems/p%3C1%3E%262"' in pages[0].text


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/runs/nope", 404, "no run &#39;nope&#39; in"),
        (f"{run_url(REAL_RUN)}/problems/nope", 404,
         "run gsm8k-test-mcts4-429c74 has no problem &#39;nope&#39; (yet)"),
        ("/runs/nope/problems/x", 404, "no run &#39;nope&#39; in"),
        (run_url(REAL_RUN) + "?show=maybe", 400,
         "unknown filter &#39;maybe&#39;; use one of all, right, wrong, unanswered"),
        (run_url(REAL_RUN) + "?sort=size", 400,
         "unknown sort &#39;size&#39;; use one of position, tokens, time"),
        ("/runs/gsm8k", 404, "run &#39;gsm8k&#39; is ambiguous in"),
        ("/evolve", 404, "no evolve directory is shown: start the server with --evolve DIR"),
        ("/chart.svg?dataset=nope", 404,
         "no graded runs on &#39;nope&#39; to chart; charted: chat, gsm8k:test"),
        ("/assets/secret.py", 404, "no asset &#39;secret.py&#39;"),
        ("/nowhere", 404, "Not Found"),
    ],
)  # fmt: skip
def test_bad_paths_are_html_error_pages_not_500(client, path, status, message) -> None:
    response = client.get(path)
    assert response.status_code == status
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert f'<p class="error-message">{message}' in response.text
    assert response.headers["content-security-policy"] == CSP


def test_api_paths_keep_json_errors_on_a_viewer_only_server(client) -> None:
    response = client.get("/v1/models")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_without_a_store_the_runs_page_waits_for_one(tmp_path) -> None:
    client = TestClient(create_app(None, ServerConfig(store_path=tmp_path / "later.db")))
    response = client.get("/")
    assert response.status_code == 200
    assert "No runs yet." in response.text
    missing = client.get("/runs/any")
    assert missing.status_code == 404
    assert f"no run store at {tmp_path / 'later.db'}" in missing.text
    assert not (tmp_path / "later.db").exists()  # viewing never creates a store


def test_the_chart_lists_graded_runs_per_benchmark(client) -> None:
    page = client.get("/chart")
    assert page.status_code == 200
    assert '<img src="/chart.svg?dataset=gsm8k%3Atest"' in page.text
    svg = client.get("/chart.svg", params={"dataset": "gsm8k:test"})
    assert svg.status_code == 200
    assert svg.headers["content-type"] == "image/svg+xml"
    assert svg.text.startswith("<?xml")
    assert "<script" not in svg.text


def test_assets_ship_with_the_package(client) -> None:
    for name, kind in [("viewer.css", "text/css; charset=utf-8"),
                       ("viewer.js", "text/javascript; charset=utf-8"),
                       ("favicon.svg", "image/svg+xml")]:  # fmt: skip
        response = client.get(f"/assets/{name}")
        assert (response.status_code, response.headers["content-type"]) == (200, kind)
    page = client.get("/").text
    assert "http://" not in page and "https://" not in page  # nothing fetched from elsewhere


def test_the_evolve_page_shows_rounds_and_links_their_runs(store_path, tmp_path) -> None:
    out = tmp_path / "evo"
    (out / "round-0").mkdir(parents=True)
    (out / "round-0" / "manifest.json").write_text(json.dumps({
        "round": 0, "parent": None, "policy_base": "qwen2.5-coder-0.5b-instruct",
        "stages": {"dev_greedy": {"run_id": REAL_RUN, "accuracy": 1.0, "finished": 1.7e9}},
        "data": {"dev_mcts_run": "elsewhere-run"},
    }))  # fmt: skip
    config = ServerConfig(store_path=store_path, evolve_dir=out)
    response = TestClient(create_app(None, config)).get("/evolve")
    assert response.status_code == 200
    assert f'<a href="{run_url(REAL_RUN)}">{REAL_RUN}</a>' in response.text
    assert "elsewhere-run" in response.text and 'href="/runs/elsewhere-run"' not in response.text
    assert '<span class="status status-running">under way</span>' in response.text
    assert '<a href="/evolve">evolve</a>' in response.text


@pytest.fixture(scope="module")
def guarded(store_path) -> TestClient:
    """A viewer that wants the key."""
    return TestClient(create_app(None, ServerConfig(store_path=store_path, api_key=KEY)))


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


class TestKey:
    @pytest.mark.parametrize("path", ["/", run_url(REAL_RUN), "/assets/viewer.js", "/chart.svg",
                                      problem_url(REAL_RUN, REAL_PROBLEM), "/evolve"])  # fmt: skip
    @pytest.mark.parametrize(
        "headers",
        [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic !!!"},
         {"Authorization": f"Basic {base64.b64encode(KEY.encode()).decode()}"}],
        ids=["missing", "wrong bearer", "bad basic", "basic without user"],
    )  # fmt: skip
    def test_every_viewer_request_needs_the_key(self, guarded, path, headers) -> None:
        response = guarded.get(path, headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == 'Basic realm="thinktree", charset="UTF-8"'
        assert "missing or wrong API key" in response.text
        assert REAL_RUN not in response.text

    def test_wrong_basic_password_is_refused(self, guarded) -> None:
        assert guarded.get("/", headers=basic("me", "wrong")).status_code == 401

    def test_the_bearer_key_or_a_browser_sign_in_with_it_is_served(self, guarded) -> None:
        assert guarded.get("/", headers={"Authorization": f"Bearer {KEY}"}).status_code == 200
        assert guarded.get("/", headers=basic("anyone", KEY)).status_code == 200

    def test_the_api_never_takes_basic(self, store_path, sandbox, grader) -> None:
        runtime = Runtime(ScriptedEngine(pens_script), sandbox, grader)  # type: ignore[arg-type]
        both = TestClient(create_app(runtime, ServerConfig(store_path=store_path, api_key=KEY)))
        assert both.get("/", headers=basic("anyone", KEY)).status_code == 200
        response = both.get("/v1/models", headers=basic("anyone", KEY))
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "invalid_api_key"
        assert "www-authenticate" not in response.headers
