"""`thinktree solve`: one question, steps printed as they come."""

from __future__ import annotations

import json
import sys
import time
from contextlib import closing
from typing import Annotated

import typer
from rich.console import Console
from rich.syntax import Syntax

from thinktree.cli.app import app
from thinktree.cli.errors import user_errors
from thinktree.cli.job_options import gold_scorer_options, json_options
from thinktree.cli.options import (
    ConfigFields,
    chosen_scorer,
    engine_config,
    engine_options,
    say_notice,
    search_config,
    search_options,
)
from thinktree.cli.output_configs import wants_json


def _step_json(step: object) -> dict[str, object]:
    d = step.to_dict()  # type: ignore[attr-defined]
    return {k: d[k] for k in ("code", "output", "error", "answer", "kind", "tokens")}


@app.command()
@search_options
@engine_options
@json_options
@gold_scorer_options
def solve(
    question: Annotated[str, typer.Argument(help="The math problem to solve.")],
    scoring: ConfigFields | None = None,
    output: ConfigFields | None = None,
    engine: ConfigFields | None = None,
    search: ConfigFields | None = None,
) -> None:
    """Solve one math problem step by step with code."""
    from thinktree.api import check_question, open_runtime
    from thinktree.api import solve as api_solve
    from thinktree.reward.base import NeedsGold
    from thinktree.reward.choice import GoldScorerChoice
    from thinktree.reward.registry import load_scorer, scorer_kind
    from thinktree.search import registry

    json_out = wants_json(output)
    console = Console(stderr=json_out, highlight=False)
    with user_errors():
        text = check_question(question)
        chosen = GoldScorerChoice(**(scoring or {}))
        scorer, gold = chosen_scorer(chosen.scorer, search, engine), chosen.gold
        config = search_config(search, scorer)
        say_notice(config, scorer)
        if issubclass(scorer_kind(scorer), NeedsGold) and gold is None:
            raise ValueError(f"--scorer {scorer} needs the known answer: --gold ANSWER")
        engine_cfg = engine_config(engine, lambda: registry.default_slots(config))
        scorer_obj, _ = load_scorer(scorer)
    started = time.perf_counter()
    printed = 0
    streamed = False  # a search with one growing list of steps (greedy) is shown as it grows

    def on_round(active: list) -> None:
        nonlocal printed, streamed
        if not active or json_out:
            return
        search = active[0]
        steps = getattr(search, "steps", None)
        if steps is None:
            status.update(_live_line(search.progress()))
            return
        streamed = True
        for step in steps[printed:]:
            printed += 1
            _print_step(console, printed, step)
        status.update(f"thinking: step {printed + 1}")

    with user_errors(), closing(scorer_obj), console.status("loading model") as status:
        runtime = open_runtime(engine_cfg)
        with runtime:
            status.update("thinking: step 1")
            result = api_solve(
                text, config=config, runtime=runtime, scorer=scorer_obj, gold=gold,
                on_round=on_round,
            )  # fmt: skip
            if not json_out and streamed:
                for step in result.trajectories[0].steps[printed:]:
                    printed += 1
                    _print_step(console, printed, step)
    seconds = time.perf_counter() - started
    best = result.best
    if json_out:
        payload = {
            "answer": result.answer,
            "steps": [_step_json(s) for s in (best.steps if best else [])],
            "tokens": result.usage.generated_tokens,
            "prompt_tokens": result.usage.prompt_tokens,
            "cached_tokens": result.usage.cached_tokens,
            "seconds": round(seconds, 2),
            "strategy": result.strategy,
            "model": runtime.engine.name,
            "votes": result.votes,
            "stop_reason": result.stop_reason,
        }
        sys.stdout.write(json.dumps(payload) + "\n")
        return
    if not streamed and best is not None:
        for i, step in enumerate(best.steps, 1):
            _print_step(console, i, step)
    answer = result.answer if result.answer is not None else "(no answer)"
    console.print(f"\n[bold green]Answer:[/] {answer}")
    if result.votes:
        console.print("votes: " + ", ".join(f"{a}: {v:.2f}" for a, v in result.votes.items()))
    console.print(
        f"[dim]{result.usage.generated_tokens} tokens generated, {seconds:.1f} s "
        f"({runtime.engine.name}, {result.strategy})[/]"
    )


def _live_line(progress: dict[str, object]) -> str:
    return "searching: " + ", ".join(f"{k} {v}" for k, v in progress.items())


def _print_step(console: Console, index: int, step: object) -> None:
    code = getattr(step, "code", None)
    console.print(f"[bold]Step {index}[/]")
    if code:
        console.print(Syntax(code, "python", theme="ansi_dark", background_color="default"))
        style = "red" if getattr(step, "error", None) else "cyan"
        console.print(f"[{style}]Output:[/] {getattr(step, 'output', '')}")
    if getattr(step, "answer", None) is not None:
        console.print(f"[bold]Answer:[/] \\boxed{{{step.answer}}}")  # type: ignore[attr-defined]
    elif getattr(step, "kind", None) is not None and step.kind.value == "invalid":  # type: ignore[attr-defined]
        console.print("[yellow](no parsable step)[/]")
