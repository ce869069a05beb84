"""CLI commands over a store filled by scripted evaluations; bad input everywhere."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import answer, cell, depth_of
from thinktree.cli import app
from thinktree.engines.scripted import ScriptedEngine
from thinktree.eval import Evaluation
from thinktree.problems import Problem
from thinktree.reward import NullScorer, OutcomeScorer
from thinktree.search import SearchConfig, SearchContext
from thinktree.search.judge import GraderJudge
from thinktree.store import RunStore

runner = CliRunner()
PROBLEMS = [Problem(f"toy/{i}", f"What is {i} + {i}?", str(2 * i)) for i in range(4)]


def script(request, index):
    n = int(request.prompt.rsplit("What is ", 1)[1].split(" ")[0])
    if depth_of(request.prompt) == 0:
        return cell(f"s = {n} + {n} + {index % 2}\nprint(s)")
    return answer(request.prompt.rsplit("Output: ", 1)[1].split("\n")[0])


@pytest.fixture(scope="module")
def store_path(tmp_path_factory, sandbox, grader) -> Path:
    path = tmp_path_factory.mktemp("cli") / "runs.db"
    with RunStore(path) as store:
        for config, scorer in [
            (SearchConfig(strategy="greedy"), NullScorer()),
            (SearchConfig(strategy="mcts", samples=2, k=2), OutcomeScorer()),
        ]:
            ctx = SearchContext(
                ScriptedEngine(script), sandbox, config, GraderJudge(grader), scorer
            )
            Evaluation(PROBLEMS, dataset="toy:test", dataset_hash="h", ctx=ctx, store=store,
                       model_id={"name": "scripted"},
                       scorer_id=scorer.name).run_all()  # fmt: skip
    return path


def invoke(*args: str):
    return runner.invoke(app, list(args))


def test_runs_list_show_export(store_path: Path, tmp_path: Path) -> None:
    out = invoke("runs", "list", "--store", str(store_path), "--json")
    assert out.exit_code == 0
    runs = [json.loads(line) for line in out.stdout.splitlines()]
    assert [(r["strategy"], r["results"], r["accuracy"]) for r in runs] == [
        ("greedy", 4, 1.0), ("mcts", 4, 1.0)]  # fmt: skip
    shown = json.loads(invoke("runs", "show", runs[1]["run_id"], "--store", str(store_path)).stdout)
    assert shown["metrics"]["n"] == 4 and shown["manifest"]["dataset_hash"] == "h"
    target = tmp_path / "export.jsonl"
    assert invoke("runs", "export", runs[1]["run_id"], "--store", str(store_path), "--out",
                  str(target), "--trees").exit_code == 0  # fmt: skip
    header, *lines = [json.loads(line) for line in target.read_text().splitlines()]
    assert header["run"]["id"] == runs[1]["run_id"] and header["thinktree_run"] == 1
    assert len(lines) == 4 and all(line["tree"]["nodes"] for line in lines)


def test_runs_regrade_keeps_right_verdicts(store_path: Path) -> None:
    runs = [json.loads(line) for line in
            invoke("runs", "list", "--store", str(store_path), "--json").stdout.splitlines()]  # fmt: skip
    out = invoke("runs", "regrade", runs[1]["run_id"], "--store", str(store_path), "--json")
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout) == {"run_id": runs[1]["run_id"], "checked": 4, "changed": [],
                                      "nodes_changed": 0, "accuracy": 1.0}  # fmt: skip


def test_report_and_plot(store_path: Path, tmp_path: Path) -> None:
    ids = [
        json.loads(line)["run_id"]
        for line in invoke("runs", "list", "--store", str(store_path), "--json").stdout.splitlines()
    ]
    png = tmp_path / "plot.png"
    out = invoke("report", *ids, "--store", str(store_path), "--plot", str(png))
    assert out.exit_code == 0, out.output
    assert out.stdout.startswith("| run | model / strategy |")
    assert "| 4 | 0 | 0 | 4 | 0 | 1.000 |" in out.stdout  # pair-wise: both right on all 4
    # equally right on all 4; greedy spends fewer tokens, so it dominates
    assert (
        f"- {ids[0]} (scripted greedy) dominates {ids[1]} (scripted mcts@2+outcome)" in out.stdout
    )
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_tree_prints_indented_nodes(store_path: Path) -> None:
    mcts = [
        json.loads(line)["run_id"]
        for line in invoke("runs", "list", "--store", str(store_path), "--json").stdout.splitlines()
    ][1]
    out = invoke("tree", mcts, "toy/1", "--store", str(store_path))
    assert out.exit_code == 0, out.output
    lines = out.stdout.splitlines()
    assert lines[0].startswith("[0] N=")
    assert any(line.startswith("  [1] ") for line in lines)
    assert any("answer correct" in line for line in lines)
    by_position = invoke("tree", mcts, "1", "--store", str(store_path))
    assert by_position.stdout == out.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["runs", "list", "--store", "/nonexistent/x.db"], "no run store at /nonexistent/x.db"),
        (["runs", "show", "nope"], "no run 'nope'"),
        (["runs", "regrade", "nope"], "no run 'nope'"),
        (["tree", "{greedy}", "toy/1"], "only mcts stores trees"),
        (["tree", "{mcts}", "toy/99"], "no tree for problem 'toy/99'"),
        (["eval", "--benchmark", "nope"], "unknown benchmark"),
        (["eval"], "give --benchmark NAME"),
        (["eval", "--benchmark", "gsm8k", "--split", "dev"], "split"),
        (["eval", "--data", "/nonexistent.jsonl"], "/nonexistent.jsonl"),
        (["eval", "--benchmark", "gsm8k", "--strategy", "magic"], "unknown strategy 'magic'"),
        (["eval", "--benchmark", "gsm8k", "--offset", "99999"], "no problems"),
        (["solve", "2+2?", "--strategy", "mcts", "--temperature", "5"], "temperature"),
        (["solve", "2+2?", "--engine", "vllm"], "unknown engine 'vllm'"),
        (["solve", "2+2?", "--scorer", "outcome"], "--scorer outcome needs the known answer"),
        (["ppm", "train", "--runs", "x", "--out", "o", "--features", "magic"], "unknown features"),
        (["ppm", "train", "--runs", "x", "--out", "o", "--backend", "onnx"], "unknown backend"),
        (["models", "verify", "gpt-5"], "unknown embedded model 'gpt-5'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(store_path: Path, args: list[str], message: str) -> None:
    ids = {
        json.loads(line)["strategy"]: json.loads(line)["run_id"]
        for line in invoke("runs", "list", "--store", str(store_path), "--json").stdout.splitlines()
    }
    args = [a.format(**ids) for a in args]
    if args[0] in ("runs", "tree") and "--store" not in args:
        args += ["--store", str(store_path)]
    out = invoke(*args)
    assert out.exit_code == 2, out.output
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], out.stderr


def test_ppm_train_on_runs_without_pairs_fails_cleanly(store_path: Path, tmp_path: Path) -> None:
    greedy = json.loads(
        invoke("runs", "list", "--store", str(store_path), "--json").stdout.splitlines()[0]
    )["run_id"]
    out = invoke(
        "ppm",
        "train",
        "--runs",
        greedy,
        "--out",
        str(tmp_path / "ppm"),
        "--store",
        str(store_path),
        "--features",
        "handcrafted",
    )
    assert out.exit_code == 2
    assert "hold no preference pairs" in out.stderr
