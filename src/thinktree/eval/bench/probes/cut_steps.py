"""What a first step cut at max_step_tokens would have given with more room.

On the default 1.5B about one sc@4 sample in ten writes "Step 2: ..." prose inside its
first step until the 256-token cap cuts it, with neither a cell nor an answer
(search.json, ``first_steps``): 10-13 % of sc@4's tokens for no vote. This continues
each such step of the full sc@4 runs on gsm8k test[:50] (benchmarks/recipes/search.yaml)
from its stored text, with the run's sampling settings, for up to three more calls of
the run's max_step_tokens, parses the whole step, and votes each problem again with
the continued answers in place: what a larger cap for such steps would buy, and cost.

    thinktree bench benchmarks/recipes/cut_steps.yaml [--set store=runs/search18/runs.db]

Writes benchmarks/results/cut_steps.json. The model generates here (one slot, seeded
per sample and call), so a rerun may differ where the first digits of a logit do.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from thinktree.eval.bench.probes.base import Probe, ProbeContext, ProbeOptions
from thinktree.eval.bench.probes.results import write_results

if TYPE_CHECKING:
    from thinktree.engines.base import Engine
    from thinktree.search.judge import GraderJudge
    from thinktree.store import ResultRow

RECIPE = "benchmarks/recipes/search.yaml"
MORE_CALLS = 3


class CutStepsOptions(ProbeOptions):
    store: str = "runs/search18/runs.db"
    """The run store holding search.yaml's runs (relative to the repository)."""
    out: str = "benchmarks/results/cut_steps.json"
    """The results file (relative to the repository)."""


def continue_step(
    engine: Engine, row: ResultRow, text: str, search: dict[str, Any], seed: int, index: int
) -> tuple[str | None, int, int]:
    """The cut first step ``text`` generated on: (its answer, tokens added, calls made)."""
    from thinktree.engines.base import CompletionRequest
    from thinktree.eval.bench.analyses.search18.kinds import SC
    from thinktree.search.registry import strategy_class
    from thinktree.search.seeds import derive_seed
    from thinktree.steps import STOP_STRINGS, parse_step
    from thinktree.steps.prompt import build_step_prompt

    prompt = build_step_prompt(row.question, engine.render_chat).prompt([]) + text
    temperature = search["temperature"]
    if temperature is None:  # stored as the strategy's default
        temperature = strategy_class(SC).default_temperature
    added = calls = 0
    for call in range(MORE_CALLS):
        (completion,) = engine.complete([CompletionRequest(
            prompt=prompt, max_tokens=search["max_step_tokens"],
            temperature=temperature, top_p=search["top_p"], stop=STOP_STRINGS,
            seed=derive_seed(seed, row.problem_id, "cut", index, call), n=1, logprobs=0,
        )])[0]  # fmt: skip
        prompt, text = prompt + completion.text, text + completion.text
        added, calls = added + completion.generated_tokens, calls + 1
        if completion.finish_reason != "length":
            break
    return parse_step(text).answer, added, calls


def run(options: CutStepsOptions, ctx: ProbeContext) -> Path:
    from rich.progress import Progress

    from thinktree.engines.factory import EngineConfig, create_engine
    from thinktree.eval.bench.analyses import ANALYSES
    from thinktree.eval.bench.analyses.search18.kinds import DEFAULT_MODEL, SC, kind, seed_of
    from thinktree.eval.bench.analyses.search18.replay import sample_tokens
    from thinktree.eval.bench.analyses.search18.runs import first_step_kind
    from thinktree.eval.bench.context import collect
    from thinktree.eval.bench.recipe import load_recipe
    from thinktree.grading.grader import Grader
    from thinktree.search.judge import GraderJudge
    from thinktree.store import RunStore

    store = RunStore(ctx.path(options.store), create=False)
    recipe = load_recipe(ctx.path(RECIPE), ANALYSES)
    reports = [
        rep for rep in collect(store, recipe, recipe.reports[0]).reports
        if kind(rep.run) == SC and rep.run.model == DEFAULT_MODEL
    ]  # fmt: skip
    cut = [
        (rep, row, index, trajectory["steps"][0]["text"])
        for rep in reports for row in rep.rows
        for index, trajectory in enumerate(row.trajectories)
        if first_step_kind(trajectory["steps"]) == "cut"
    ]  # fmt: skip
    engine = create_engine(EngineConfig(parallel=1))
    grader = Grader()
    judge = GraderJudge(grader)
    continued: dict[tuple[str, str, int], tuple[str | None, int, int]] = {}
    with Progress() as progress:
        task = progress.add_task("continuing cut first steps", total=len(cut))
        for rep, row, index, text in cut:
            search = rep.run.config["search"]
            continued[(rep.run.id, row.problem_id, index)] = continue_step(
                engine, row, text, search, seed_of(rep.run), index
            )
            progress.advance(task)
    runs = []
    for rep in reports:
        samples = answered = right = added = won = lost = right_before = right_after = 0
        for row in rep.rows:
            answers = list(row.samples.get("answers") or [])
            before = list(answers)
            for index in range(len(answers)):
                found = continued.get((rep.run.id, row.problem_id, index))
                if found is None:
                    continue
                answer, tokens, _ = found
                samples, added = samples + 1, added + tokens
                answers[index] = answer
                if answer is not None:
                    answered += 1
                    right += judge.correct(answer, row.gold or "")
            was = voted_right(before, row, judge)
            now = voted_right(answers, row, judge)
            right_before, right_after = right_before + was, right_after + now
            won, lost = won + (now and not was), lost + (was and not now)
        run_tokens = sum(sum(sample_tokens(row)) for row in rep.rows)
        runs.append({
            "run_id": rep.run.id, "seed": seed_of(rep.run), "cut_samples": samples,
            "answered": answered, "right": right, "tokens_added": added,
            "token_share_added": added / run_tokens, "right_before": right_before,
            "right_after": right_after, "won": won, "lost": lost, "n": len(rep.rows),
        })  # fmt: skip
    grader.close()
    engine.close()
    out = {"model": DEFAULT_MODEL, "slice": "gsm8k:test[:50]", "more_calls": MORE_CALLS,
           "runs": runs}  # fmt: skip
    path = write_results(ctx.path(options.out), out, indent=1)
    ctx.say(json.dumps(runs, indent=1))
    return path


def voted_right(answers: list[str | None], row: ResultRow, judge: GraderJudge) -> bool:
    from thinktree.search.voting import majority_vote

    answer, _ = majority_vote(answers, judge.same)
    return answer is not None and judge.correct(answer, row.gold or "")


PROBE = Probe(CutStepsOptions, "sc@4's cut first steps generated on, and votes again", run)
