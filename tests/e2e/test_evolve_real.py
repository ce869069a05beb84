"""One tiny evolve round end to end: scripted bootstrap search, real SFT of the 0.5B,
GGUF export served by llama.cpp, PPM, dev evals, summary; a rerun redoes nothing."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import answer, cell, depth_of
from thinktree.api import Runtime, open_runtime
from thinktree.cli import app
from thinktree.engines.base import CompletionRequest
from thinktree.engines.factory import EngineConfig
from thinktree.engines.scripted import ScriptedEngine
from thinktree.train.evolve.config import load_evolve_config
from thinktree.train.evolve.loop import Evolution

# One fixture builds the whole round (~4 min on a quiet 2-core machine).
pytestmark = [pytest.mark.model, pytest.mark.timeout(1800)]

POOL = [(f"What is {a} plus {b}?", a + b) for a, b in [(3, 4), (10, 5), (7, 8), (20, 22),
        (6, 6), (9, 1), (13, 4), (30, 12), (2, 5), (11, 11)]]  # fmt: skip


def bootstrap_script(request: CompletionRequest, index: int) -> str:
    """Two root candidates per pool question: the sum (right) or the difference
    (wrong, with a different comment so pairs clear the edit-distance rule)."""
    a, b = (int(n) for n in re.findall(r"What is (\d+) plus (\d+)\?", request.prompt)[-1])
    if depth_of(request.prompt) == 0:
        if index == 0:
            return " Add the two numbers." + cell(
                f"# The sum of both numbers.\ns = {a} + {b}\nprint(s)"
            )
        return " Subtract them." + cell(
            f"# The difference, which is a mistake.\nd = {a} - {b}\nprint(d)"
        )
    last = request.prompt.rsplit("Output:", 1)[1].split("\n")[0].strip()
    return answer(last)


class Stages:
    def __init__(self) -> None:
        self.started: list[str] = []

    def stage(self, round_index: int, name: str, total: int | None) -> None:
        self.started.append(f"{round_index}:{name}")

    def advance(self, done: int, total: int | None = None) -> None:
        pass

    def note(self, text: str) -> None:
        pass


@pytest.fixture(scope="module")
def evolved(tmp_path_factory, sandbox, grader):
    root = tmp_path_factory.mktemp("evolve")
    pool = root / "pool.jsonl"
    pool.write_text("".join(json.dumps({"q": q, "a": a}) + "\n" for q, a in POOL))
    config_file = root / "evolve.yaml"
    config_file.write_text(
        f"""
rounds: 1
bootstrap: scripted
pool: {{benchmark: null, data: {pool}, question_field: q, answer_field: a, size: 10, grow: 0}}
bootstrap_search: {{strategy: mcts, samples: 2, k: 2, max_steps: 3}}
dev:
  greedy_limit: 2
  mcts_limit: 1
  greedy: {{strategy: greedy, max_steps: 3, max_step_tokens: 64}}
  mcts: {{strategy: mcts, samples: 1, k: 2, max_steps: 3, max_step_tokens: 64}}
engine: {{threads: 1}}
sft: {{max_steps: 3, batch_size: 1, grad_accumulation: 1, learning_rate: 0.005,
       save_steps: 1, holdout_fraction: 0.3, rank: 8, alpha: 16}}
parity_positions: 48
"""
    )
    cfg = load_evolve_config(config_file)

    def opener(spec: str, search) -> Runtime:
        if spec == "scripted":
            return Runtime(ScriptedEngine(bootstrap_script), sandbox, grader)
        # One thread: llama.cpp's spinning threads crawl on cores another process uses.
        return open_runtime(EngineConfig(model=spec, parallel=4, ctx_per_slot=2048, threads=1))

    out = root / "out"
    first = Stages()
    rows = Evolution(cfg, out, first, opener).run()
    second = Stages()
    again = Evolution(cfg, out, second, opener).run()
    return out, rows, again, first, second


def test_every_artifact_of_the_round_exists(evolved) -> None:
    out, rows, _, first, _ = evolved
    assert first.started == [
        "0:dev_greedy", "0:dev_mcts", "0:pool_search", "1:sft_data", "1:sft", "1:export",
        "1:parity", "1:ppm", "1:dev_greedy", "1:dev_mcts",
    ]  # fmt: skip
    round1 = out / "round-1"
    for path in ("adapter.gguf", "policy.json", "manifest.json", "sft.jsonl",
                 "sft/peft/adapter_model.safetensors", "sft/sft.json", "ppm/ppm.json"):  # fmt: skip
        assert (round1 / path).is_file(), path
    assert (out / "round-0" / "policy.json").is_file()
    manifest = json.loads((round1 / "manifest.json").read_text())
    assert manifest["parent"] == 0 and manifest["base_model_sha256"]
    assert manifest["data"]["sft_sha256"] == manifest["stages"]["sft_data"]["sha256"]
    r0, r1 = rows
    assert (r0["pool_size"], r0["pool_accuracy"]) == (10, 1.0)
    assert r1["trajectories"] == 10  # one correct error-free path per problem
    assert r1["pairs"] > 0 and r1["sft_tokens"] > 0
    assert r1["holdout_loss_after"] < r1["holdout_loss_before"]
    assert r0["dev_greedy_n"] == 2 and r1["dev_greedy_n"] == 2 and r1["dev_mcts_n"] == 1
    parity = r1["parity"]
    assert parity["positions"] == 48 and parity["agree"] >= 0.9
    assert parity["agree"] > parity["base_agree"]


def test_a_rerun_skips_every_finished_stage(evolved) -> None:
    _, rows, again, _, second = evolved
    assert second.started == []
    assert again == rows


def test_the_round_is_a_model_everywhere_and_the_adapter_changes_it(evolved) -> None:
    out, *_ = evolved
    prompt = "Question: What is 6 plus 7?\n\nStep 1:"
    texts = []
    for spec in (str(out / "round-0"), str(out / "round-1")):
        with open_runtime(EngineConfig(model=spec, parallel=1, threads=1)) as runtime:
            request = CompletionRequest(prompt, max_tokens=24, temperature=0.0)
            texts.append(runtime.engine.complete([request])[0][0].text)
            assert runtime.prompt_style.value == ("few-shot" if spec.endswith("0") else "zero-shot")
    assert texts[0] != texts[1]
    result = CliRunner().invoke(
        app,
        ["solve", "What is 6 plus 7?", "--model", str(out / "round-1"), "--scorer",
         f"ppm:{out / 'round-1' / 'ppm'}", "--strategy", "greedy", "--threads", "1",
         "--max-steps", "3", "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    solved = json.loads(result.stdout.strip().splitlines()[-1])
    # Served under the round's own name (its run fingerprints depend on it).
    assert (solved["model"], solved["strategy"]) == ("out/round-1", "greedy")


def test_summary_files(evolved, tmp_path) -> None:
    out, rows, *_ = evolved
    result = CliRunner().invoke(app, ["evolve", "--out", str(out), "--config",
                                      str(Path(out).parent / "evolve.yaml")])  # fmt: skip
    # The CLI's own opener cannot serve the "scripted" bootstrap, but every stage is done.
    assert result.exit_code == 0, result.output
    assert (out / "dev_accuracy.png").is_file()
    assert json.loads((out / "summary.json").read_text()) == rows
    summary = (out / "summary.md").read_text()
    assert f"| {100 * rows[1]['dev_greedy']:.1f} % |" in summary
    versus = rows[1]["dev_greedy_vs_round0"]
    assert f"won {versus['won']}, lost {versus['lost']}" in summary


def test_a_shipped_round_is_the_embedded_evolved_model(evolved, tmp_path, monkeypatch) -> None:
    from thinktree.models import policy as policy_module
    from thinktree.models import resolve as resolve_module
    from thinktree.train.export.ship import ship_round

    out, *_ = evolved
    package = tmp_path / "evolved"
    ship_round(out / "round-1", package)
    monkeypatch.setattr(policy_module, "embedded_policy_dir", lambda: package)
    monkeypatch.setattr(resolve_module, "embedded_policy_dir", lambda: package)
    result = CliRunner().invoke(
        app,
        ["solve", "What is 6 plus 7?", "--model", "evolved", "--scorer", "ppm:evolved",
         "--strategy", "greedy", "--threads", "1", "--max-steps", "3", "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    shipped = json.loads(result.stdout.strip().splitlines()[-1])
    assert (shipped["model"], shipped["strategy"]) == ("evolved", "greedy")


def test_a_merged_round_serves_what_the_adapter_serves(evolved, tmp_path) -> None:
    from thinktree.engines.llamacpp import LlamaCppEngine, LlamaCppOptions
    from thinktree.models import resolve_model
    from thinktree.reward.ppm import PPM_FILES

    out, *_ = evolved
    dest = tmp_path / "round-1-merged"
    result = CliRunner().invoke(app, ["models", "merge", str(out / "round-1"), str(dest)])
    assert result.exit_code == 0, result.output
    policy = json.loads((dest / "policy.json").read_text())
    adapter_policy = json.loads((out / "round-1" / "policy.json").read_text())
    assert (policy["adapter"], policy["model"]) == (None, "merged-q8_0.gguf")
    assert policy["provenance"]["merged_from"] == adapter_policy["adapter_sha256"]
    assert sorted(p.name for p in (dest / "ppm").iterdir()) == sorted(PPM_FILES)
    for name in PPM_FILES:
        assert (dest / "ppm" / name).read_bytes() == (out / "round-1" / "ppm" / name).read_bytes()

    # Teacher-forced on the adapter serving's own greedy text: the merged file picks
    # the same next token (up to Q8_0 rounding); the base file alone does not.
    options = LlamaCppOptions(n_parallel=1, ctx_per_slot=1024, threads=1, cache_ram_mib=0)
    adapted = resolve_model(str(out / "round-1"))
    prompt = "Question: What is 6 plus 7?\n\nStep 1:"
    lora = ((str(adapted.adapter), 1.0),)
    with LlamaCppEngine(
        adapted.path, LlamaCppOptions(**{**options.__dict__, "lora": lora})
    ) as served:
        text = served.complete([CompletionRequest(prompt, max_tokens=48, temperature=0.0)])
        start = len(served.tokenize(prompt))
        ids = served.tokenize(prompt + text[0][0].text)
    agreement = {}
    for name, path in (("merged", resolve_model(str(dest)).path), ("base", adapted.path)):
        with LlamaCppEngine(path, options) as engine:
            hits = [engine.greedy_next_token(ids[:i]) == ids[i] for i in range(start, len(ids))]
        agreement[name] = sum(hits) / len(hits)
    assert agreement["merged"] >= 0.9 and agreement["merged"] > agreement["base"], agreement

    solved = CliRunner().invoke(
        app,
        ["solve", "What is 6 plus 7?", "--model", str(dest), "--scorer", f"ppm:{dest / 'ppm'}",
         "--strategy", "greedy", "--threads", "1", "--max-steps", "3", "--json"],
    )  # fmt: skip
    assert solved.exit_code == 0, solved.output
    assert json.loads(solved.stdout.strip().splitlines()[-1])["model"].endswith("/round-1-merged")
