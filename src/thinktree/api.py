"""thinktree's public Python API; the CLI is a thin layer over it.

>>> import thinktree
>>> result = thinktree.solve("A shop sells pens at 3 dollars each. ...")
>>> result.answer
'8'
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from thinktree.engines.base import Engine
from thinktree.engines.factory import EngineConfig, create_engine
from thinktree.grading import Grader
from thinktree.problems import Problem
from thinktree.reward.base import NullScorer, Scorer, is_scored
from thinktree.sandbox import Sandbox, SandboxConfig
from thinktree.search import SearchConfig, SearchContext, SolveResult, run_search
from thinktree.search.base import ProblemSearch
from thinktree.search.judge import GraderJudge
from thinktree.search.registry import checked, resolved
from thinktree.steps import PromptStyle, prompt_style


@dataclass
class Runtime:
    """The long-lived pieces a search needs: engine, sandbox, grader.

    Build one with :func:`open_runtime` and reuse it across calls; it owns (and
    closes) whatever it created.
    """

    engine: Engine
    sandbox: Sandbox
    grader: Grader
    owned: list[Any] = field(default_factory=list)

    @property
    def prompt_style(self) -> PromptStyle:
        """How the engine's policy is prompted (an evolved policy: zero-shot)."""
        return prompt_style(getattr(self.engine, "prompt_style", PromptStyle.FEW_SHOT))

    def context(self, config: SearchConfig, scorer: Scorer | None = None) -> SearchContext:
        scorer = scorer or NullScorer()
        return SearchContext(
            engine=self.engine,
            sandbox=self.sandbox,
            config=resolved(config, scored=is_scored(scorer)),
            judge=GraderJudge(self.grader),
            scorer=scorer,
            prompt_style=self.prompt_style,
        )

    def model_id(self) -> dict[str, Any]:
        """What identifies the model in run fingerprints and manifests.

        The adapter and prompt style are named only when they differ from a plain
        few-shot model, so runs of plain models keep their fingerprints."""
        ident: dict[str, Any] = {
            "engine": type(self.engine).__name__,
            "name": self.engine.name,
            "sha256": getattr(self.engine, "model_sha256", None),
        }
        adapter = getattr(self.engine, "adapter_sha256", None)
        if adapter is not None:
            ident["adapter_sha256"] = adapter
        if self.prompt_style is not PromptStyle.FEW_SHOT:
            ident["prompt_style"] = self.prompt_style.value
        return ident

    def tokens_per_second_guess(self) -> float:
        """Aggregate generation speed to expect, for up-front estimates only."""
        return float(getattr(self.engine, "expected_tokens_per_second", 20.0))

    def close(self) -> None:
        while self.owned:
            self.owned.pop().close()

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_runtime(
    engine: Engine | EngineConfig | None = None,
    *,
    sandbox_workers: int = 2,
    grader_workers: int = 1,
    progress: Callable[[int], None] | None = None,
) -> Runtime:
    """Start an engine (default: the embedded 1.5B on llama.cpp), sandbox and grader."""
    owned: list[Any] = []
    try:
        if engine is None or isinstance(engine, EngineConfig):
            engine = create_engine(engine or EngineConfig(), progress=progress)
            owned.append(engine)
        sandbox = Sandbox(SandboxConfig(workers=sandbox_workers))
        owned.append(sandbox)
        grader = Grader(workers=grader_workers)
        owned.append(grader)
    except BaseException:
        for item in reversed(owned):
            item.close()
        raise
    return Runtime(engine, sandbox, grader, owned)


def check_question(question: object) -> str:
    if not isinstance(question, str):
        raise ValueError(f"the question must be text, got {type(question).__name__}")
    text = question.strip()
    if not text:
        raise ValueError("the question is empty; pass the problem text")
    if not any(ch.isalnum() for ch in text) or any(ch == "\x00" for ch in text):
        raise ValueError("the question holds no readable text; pass the problem as plain text")
    return text


def solve(
    question: str,
    *,
    config: SearchConfig | None = None,
    runtime: Runtime | None = None,
    engine: Engine | EngineConfig | None = None,
    scorer: Scorer | None = None,
    gold: str | None = None,
    on_round: Callable[[list[ProblemSearch]], None] | None = None,
    **options: Any,
) -> SolveResult:
    """Solve one question. ``options`` are :class:`SearchConfig` fields
    (``samples=16``, ``strategy=`` a name of :data:`thinktree.search.registry.STRATEGIES`...)
    applied on top of ``config``."""
    text = check_question(question)
    base = config.model_dump() if config is not None else {}
    search_config = checked(SearchConfig(**{**base, **options}))
    own_runtime = runtime is None
    runtime = runtime or open_runtime(engine)
    try:
        ctx = runtime.context(search_config, scorer)
        problem = Problem(id="question", question=text, answer=gold)
        return run_search([problem], ctx, window=1, on_round=on_round)[0]
    finally:
        if own_runtime:
            runtime.close()


def solve_many(
    problems: Iterable[Problem],
    *,
    config: SearchConfig,
    runtime: Runtime,
    scorer: Scorer | None = None,
    window: int = 4,
    on_result: Callable[[SolveResult], None] | None = None,
) -> list[SolveResult]:
    """Solve many problems in lock step (one engine batch per round across them)."""
    ctx = runtime.context(config, scorer)
    return run_search(problems, ctx, window=window, on_result=on_result)
