"""An evaluation through ``--engine openai`` against recorded vLLM and SGLang answers.

What reaches the run: token usage and the prefix-cache hits the servers report
(``usage.prompt_tokens_details.cached_tokens``) in the run's metrics; requests sent
concurrently, never more than ``--parallel`` at once; an evolved policy's LoRA
adapter served by name (``--policy``: prompt style and adapter identity).
"""

from __future__ import annotations

import copy
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import answer, cell, depth_of
from tests.engines.test_openai_http import Reply, StubServer, fixture, recorded
from thinktree.api import open_runtime
from thinktree.engines.base import EngineError
from thinktree.engines.factory import EngineConfig, create_engine
from thinktree.eval import Evaluation
from thinktree.eval.fanout import FanoutConfig, open_solver
from thinktree.models import ModelError
from thinktree.problems import Problem
from thinktree.search import SearchConfig
from thinktree.steps import PromptStyle
from thinktree.store import RunStore

PROBLEMS = [Problem(f"p{i}", f"What is {i} + {i}?", str(2 * i)) for i in range(3)]
TEMPLATE = (
    "{% for m in messages %}<{{ m.role }}>\n{{ m.content }}\n</{{ m.role }}>\n{% endfor %}"
    "<assistant>\n"
)


@pytest.fixture
def server() -> Iterator[StubServer]:
    stub = StubServer()
    yield stub
    stub.close()


class Recorded:
    """Answers every completion in one server's recorded shape, with step text, and
    counts how many requests were open at once."""

    def __init__(self, name: str, delay: float = 0.0) -> None:
        self.response = fixture(name)["response"]
        self.delay = delay
        self.open = self.most_open = 0
        self._lock = threading.Lock()

    def __call__(self, body: Any) -> Reply:
        with self._lock:
            self.open += 1
            self.most_open = max(self.most_open, self.open)
        time.sleep(self.delay)
        prompt = body["prompt"]
        n = int(prompt.rsplit("What is ", 1)[1].split(" ")[0])
        text = cell(f"s = {n} + {n}\nprint(s)") if depth_of(prompt) == 0 else answer(str(2 * n))
        cuts = [text.find(stop) for stop in body.get("stop", ()) if stop in text]
        response = copy.deepcopy(self.response)
        response["choices"][0]["text"] = text[: min(cuts)] if cuts else text  # as servers stop
        with self._lock:
            self.open -= 1
        return Reply(200, response)


def evaluate(tmp_path: Path, server: StubServer, parallel: int) -> dict[str, Any]:
    template = tmp_path / "chat.jinja"
    template.write_text(TEMPLATE + "\n")  # Jinja drops a template's last newline
    engine = EngineConfig(
        kind="openai",
        base_url=f"{server.url}/v1",
        model="Qwen/Qwen2.5-Coder-0.5B-Instruct",
        parallel=parallel,
        chat_template=str(template),
    )
    config = SearchConfig(strategy="greedy")
    with (
        open_solver(engine, config, None, FanoutConfig()) as searcher,
        RunStore(tmp_path / "runs.db") as store,
    ):
        evaluation = Evaluation(
            PROBLEMS, dataset="toy:test", dataset_hash="h", solver=searcher.solver,
            store=store, model_id=searcher.model_id,
        )  # fmt: skip
        outcome = evaluation.run_all(window=len(PROBLEMS))
    assert [r.correct for r in outcome.rows] == [True, True, True]
    return outcome.run.metrics


@pytest.mark.parametrize(
    "name", ["vllm_completions_cached_tokens.json", "sglang_completions_cache_report.json"]
)
def test_usage_and_prefix_cache_hits_reach_the_run_metrics(
    tmp_path: Path, server: StubServer, name: str
) -> None:
    server.route("POST", "/v1/completions", Recorded(name))
    metrics = evaluate(tmp_path, server, parallel=4)
    # Two requests per problem (a cell, then the answer), each reporting 41 prompt
    # tokens of which 32 cached, and 8 completion tokens.
    requests = 2 * len(PROBLEMS)
    assert (metrics["tokens"], metrics["prompt_tokens"], metrics["cached_tokens"]) == (
        8 * requests,
        9 * requests,
        32 * requests,
    )
    assert metrics["cached_share"] == 32 / 41
    assert len(server.calls("/v1/completions")) == requests


def test_requests_are_concurrent_under_the_parallel_limit(
    tmp_path: Path, server: StubServer
) -> None:
    route = Recorded("vllm_completions_cached_tokens.json", delay=0.2)
    server.route("POST", "/v1/completions", route)
    evaluate(tmp_path, server, parallel=2)
    assert route.most_open == 2  # three problems in lock step, two requests at a time


def test_an_evolved_policy_served_by_name(tmp_path: Path, server: StubServer) -> None:
    round_dir = tmp_path / "evo" / "round-1"
    round_dir.mkdir(parents=True)
    (round_dir / "adapter.gguf").write_bytes(b"GGUF")
    (round_dir / "policy.json").write_text(
        json.dumps(
            {
                "base": "qwen2.5-coder-0.5b-instruct",
                "adapter": "adapter.gguf",
                "adapter_sha256": "ab" * 32,
                "prompt_style": "zero-shot",
            }
        )
    )
    server.route("GET", "/v1/models", recorded("vllm_models_lora.json"))
    config = EngineConfig(
        kind="openai", base_url=server.url, model="round-1", policy=str(round_dir)
    )
    with open_runtime(config) as runtime:
        assert runtime.prompt_style is PromptStyle.ZERO_SHOT
        assert runtime.model_id() == {
            "engine": "OpenAIEngine",
            "name": "openai:round-1",
            "sha256": None,
            "adapter_sha256": "ab" * 32,
            "prompt_style": "zero-shot",
        }
        runtime.engine.check_model()  # type: ignore[attr-defined]
        assert runtime.engine.served_models() == [  # type: ignore[attr-defined]
            "Qwen/Qwen2.5-Coder-0.5B-Instruct",
            "round-1",
        ]


def test_policy_and_chat_template_are_for_the_openai_engine(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match=r"^--policy and --chat-template are for --engine openai"):
        create_engine(EngineConfig(model="fast", policy=str(tmp_path)))
    with pytest.raises(ModelError, match=r"holds no policy\.json"):
        create_engine(
            EngineConfig(kind="openai", base_url="http://127.0.0.1:9", model="m", policy="/")
        )
