"""The chat API through the official openai client, on the scripted engine."""

from __future__ import annotations

import openai
import pytest

from tests.server.helpers import QUESTION, live_server, pens_script, server_config
from thinktree.engines.scripted import ScriptedEngine
from thinktree.search.registry import STRATEGIES
from thinktree.store import RunStore


@pytest.fixture
def served(sandbox, grader, tmp_path):
    engine = ScriptedEngine(pens_script)
    config = server_config(tmp_path)
    with live_server(engine, sandbox, grader, config) as url:
        client = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0, timeout=30)
        yield client, engine, config


def ask(client, model="thinktree-greedy", **kwargs):
    return client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": QUESTION}], **kwargs
    )


def test_models_are_the_registered_strategies(served) -> None:
    client, _, _ = served
    assert [m.id for m in client.models.list()] == [f"thinktree-{s}" for s in STRATEGIES]


def test_greedy_answer_usage_and_storage(served) -> None:
    client, engine, config = served
    reply = ask(client)
    assert reply.choices[0].message.content == "Answer: \\boxed{8}"
    assert reply.choices[0].finish_reason == "stop"
    # 8 + 8 + 2 generated words; prompts counted evaluated + cached, as the engine saw them.
    assert reply.usage.completion_tokens == 18 == engine.stats.generated_tokens
    assert reply.usage.prompt_tokens == engine.stats.prompt_tokens + engine.stats.cached_tokens
    assert reply.usage.prompt_tokens_details.cached_tokens == engine.stats.cached_tokens
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + 18
    extra = reply.model_extra["thinktree"]
    assert extra["answer"] == "8" and extra["strategy"] == "greedy"
    assert extra["stop_reason"] == "done" and extra["problem_id"] == reply.id
    assert [s["output"] for s in extra["steps"]] == ["12", "8", ""]
    assert [s["kind"] for s in extra["steps"]] == ["code", "code", "final"]
    with RunStore(config.store_path) as store:
        run = store.get_run(extra["run_id"])
        (row,) = store.results(run.id)
    assert (run.kind, run.dataset, run.strategy) == ("serve", "chat", "greedy")
    assert (row.problem_id, row.question, row.answer, row.gold) == (reply.id, QUESTION, "8", None)
    assert row.generated_tokens == 18 and row.correct is None


def test_request_fields_reach_the_search_config(served) -> None:
    client, engine, _ = served
    reply = ask(
        client, "thinktree-sc", n=3, temperature=0.5, seed=7, max_tokens=500,
        extra_body={"thinktree": {"max_steps": 5, "top_p": 0.9}},
    )  # fmt: skip
    assert reply.choices[0].message.content == "Answer: \\boxed{8}"
    assert reply.model_extra["thinktree"]["votes"] == {"8": 3.0}  # three samples agree
    first = engine.calls[0][0]
    assert (first.n, first.temperature, first.top_p) == (3, 0.5, 0.9)
    assert reply.usage.completion_tokens == 3 * 18


def test_same_settings_share_a_run_and_other_settings_start_one(served) -> None:
    client, _, config = served
    runs = [ask(client).model_extra["thinktree"]["run_id"] for _ in range(2)]
    other = ask(client, seed=3).model_extra["thinktree"]["run_id"]
    assert runs[0] == runs[1] != other
    with RunStore(config.store_path) as store:
        assert [r.position for r in store.results(runs[0])] == [0, 1]


def test_mcts_tree_is_stored(served) -> None:
    client, _, config = served
    reply = ask(client, "thinktree-mcts", extra_body={"thinktree": {"rollouts": 2, "k": 2}})
    extra = reply.model_extra["thinktree"]
    assert extra["answer"] == "8" and extra["strategy"] == "mcts"
    with RunStore(config.store_path) as store:
        tree = store.tree(extra["run_id"], reply.id)
    assert tree is not None and len(tree["nodes"]) > 1


def test_streaming_sends_rounds_then_answer_then_done(served) -> None:
    client, engine, _ = served
    chunks = list(ask(client, stream=True))
    assert {c.object for c in chunks} == {"chat.completion.chunk"}
    assert len({c.id for c in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    rounds = [
        c.model_extra["thinktree"]
        for c in chunks
        if "round" in (c.model_extra or {}).get("thinktree", {})
    ]
    assert [r["round"] for r in rounds] == [1, 2, 3]  # greedy: one chunk per finished step
    assert [r["step"]["kind"] for r in rounds] == ["code", "code", "final"]
    assert [r["step"]["output"] for r in rounds] == ["12", "8", ""]
    assert "cost = 4 * 3" in chunks[1].choices[0].delta.model_extra["reasoning_content"]
    content = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert content == "Answer: \\boxed{8}"
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    assert last.usage.completion_tokens == 18 == engine.stats.generated_tokens
    assert last.model_extra["thinktree"]["answer"] == "8"
    assert last.model_extra["thinktree"]["run_id"]


def test_no_answer_is_said_in_the_content(served) -> None:
    client, _, _ = served
    reply = ask(client, max_tokens=5)
    assert reply.choices[0].message.content == (
        "No answer: the search stopped (max_tokens) without finding one."
    )
    assert reply.model_extra["thinktree"]["answer"] is None


def test_last_user_message_is_solved_and_text_parts_are_joined(served) -> None:
    client, engine, _ = served
    reply = client.chat.completions.create(
        model="thinktree-greedy",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "An earlier question?"},
            {"role": "assistant", "content": "Answer: \\boxed{1}"},
            {"role": "user", "content": [{"type": "text", "text": QUESTION}]},
        ],
    )
    assert reply.choices[0].message.content == "Answer: \\boxed{8}"
    prompt = engine.calls[0][0].prompt
    assert QUESTION in prompt and "earlier question" not in prompt and "Be brief" not in prompt


def test_a_sessions_runs_keep_their_metrics_and_complete_when_the_server_stops(
    sandbox, grader, tmp_path
) -> None:
    config = server_config(tmp_path)
    with live_server(ScriptedEngine(pens_script), sandbox, grader, config) as url:
        client = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0, timeout=30)
        run_id = ask(client).model_extra["thinktree"]["run_id"]
        ask(client)
        with RunStore(config.store_path) as store:
            live = store.get_run(run_id)
        assert live.status == "running"
        assert (live.metrics["n"], live.metrics["tokens"], live.metrics["graded"]) == (2, 36, 0)
    with RunStore(config.store_path) as store:
        assert store.get_run(run_id).status == "complete"
