"""Carrying a run between stores: `export_run` / `import_run` and `thinktree runs export|import`."""

from __future__ import annotations

import gzip
import json
import random
import zlib
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from thinktree.cli import app
from thinktree.store import (
    ImportReport,
    ResultRow,
    RunRecord,
    RunStore,
    StoreError,
    export_run,
    import_run,
    transfer,
)

runner = CliRunner()
RUN_FIELDS = ("id", "fingerprint", "kind", "created", "status", "dataset", "strategy", "model",
              "config", "manifest", "metrics")  # fmt: skip


def node(node_id: int, parent: int | None, **changes: Any) -> dict[str, Any]:
    base = {"id": node_id, "parent": parent, "depth": 0 if parent is None else 1, "step": None,
            "visits": 2, "value_sum": 1.25, "q": 0.625, "local_visits": 1, "local_value": -0.5,
            "terminal": False, "terminal_reason": None, "answer": None, "score": None,
            "expanded": True, "correct": None}  # fmt: skip
    return {**base, **changes}


TREE = {
    "nodes": [
        node(0, None),
        node(1, 0, step={"text": "x = 1", "kind": "code"}, terminal=True,
             terminal_reason="answer", answer="3", score=0.5, expanded=False, correct=True),
        node(2, 0, step={"text": "y", "kind": "final"}, terminal=True, terminal_reason="answer",
             answer="4", score=-0.25, expanded=False, correct=False),
    ]
}  # fmt: skip


def result(pid: str, position: int, *, noisy: bool = False) -> ResultRow:
    """A result; ``noisy`` adds 3000 incompressible characters (seeded by position) to it."""
    rng = random.Random(position)
    noise = "".join(rng.choice("0123456789abcdef") for _ in range(3000)) if noisy else ""
    return ResultRow(
        pid,
        position,
        f"What is {position}? {noise}",
        None if position == 2 else str(position),
        "3",
        None if position == 2 else position % 2 == 1,
        5 + position,
        7,
        9,
        1.5 + position / 3,
        "answer",
        samples={"answers": ["3", None], "correct": [True, None], "classes": [0, 1]},
        votes={"3": 0.75, "4": 0.25},
        trajectories=[{"steps": [{"text": "é ✓", "kind": "code"}], "score": 0.1}],
        extra={"note": "π", "nested": {"a": [1, 2.5, None]}},
    )


def make_source(path: Path, n: int = 3, *, noisy: bool = False) -> RunRecord:
    """A store with one run of ``n`` results (the first with a tree), status complete."""
    with RunStore(path) as store:
        run = store.create_run("run", fingerprint="fp1", kind="eval", dataset="gsm8k:test",
                               strategy="mcts", model="m", config={"search": {"k": 3}},
                               manifest={"seed": 0, "dataset_hash": "h"})  # fmt: skip
        for i in range(n):
            store.add_result(run.id, result(f"p{i}", i, noisy=noisy), TREE if i == 0 else None)
        store.update_run(run.id, status="complete", metrics={"accuracy": 0.5, "wall_seconds": 9.0})
        return store.get_run(run.id)


def run_fields(run: RunRecord) -> dict[str, Any]:
    return {name: getattr(run, name) for name in RUN_FIELDS}


def contents(path: Path) -> tuple[dict[str, Any], list[ResultRow], dict[str, Any]]:
    """A store's one run: its fields, results and trees (by problem id)."""
    with RunStore(path) as store:
        (run,) = store.list_runs()
        rows = store.results(run.id)
        return run_fields(run), rows, {r.problem_id: store.tree(run.id, r.problem_id) for r in rows}


def cut(path: Path, keep: int) -> None:
    path.write_bytes(path.read_bytes()[:keep])


# -- round trip ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["run.jsonl", "run.jsonl.gz"])
def test_round_trip_gives_the_same_run_results_and_trees(tmp_path: Path, name: str) -> None:
    source = make_source(tmp_path / "a.db")
    target = tmp_path / name
    with RunStore(tmp_path / "a.db") as store:
        assert export_run(store, "ru", target) == 3  # a unique prefix names the run
    assert (target.read_bytes()[:2] == b"\x1f\x8b") == name.endswith(".gz")
    with RunStore(tmp_path / "b.db") as fresh:
        assert import_run(fresh, target) == ImportReport("run", 3, 0)
        assert fresh.find_run("fp1").id == "run"  # what `thinktree eval` looks the run up by
        assert fresh.get_run("run").updated >= source.updated
    assert contents(tmp_path / "b.db") == contents(tmp_path / "a.db")
    assert contents(tmp_path / "b.db")[0] == {
        "id": "run", "fingerprint": "fp1", "kind": "eval", "created": source.created,
        "status": "complete", "dataset": "gsm8k:test", "strategy": "mcts", "model": "m",
        "config": {"search": {"k": 3}}, "manifest": {"seed": 0, "dataset_hash": "h"},
        "metrics": {"accuracy": 0.5, "wall_seconds": 9.0}}  # fmt: skip
    _, rows, trees = contents(tmp_path / "b.db")
    assert rows == [result("p0", 0), result("p1", 1), result("p2", 2)]
    assert trees == {"p0": TREE, "p1": None, "p2": None}


def test_export_lines_are_a_header_then_one_result_each(tmp_path: Path) -> None:
    source = make_source(tmp_path / "a.db", 2)
    with RunStore(tmp_path / "a.db") as store:
        assert export_run(store, "run", tmp_path / "out.jsonl", trees=False) == 2
    header, *lines = [json.loads(x) for x in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert header == {"thinktree_run": 1, "run": run_fields(source)}
    assert lines == [{"result": asdict(result("p0", 0)), "tree": None},
                     {"result": asdict(result("p1", 1)), "tree": None}]  # fmt: skip


def test_gzip_export_of_an_unchanged_run_is_byte_identical(tmp_path: Path) -> None:
    make_source(tmp_path / "a.db")
    with RunStore(tmp_path / "a.db") as store:
        export_run(store, "run", tmp_path / "one.gz")
        export_run(store, "run", tmp_path / "two.gz")
    assert (tmp_path / "one.gz").read_bytes() == (tmp_path / "two.gz").read_bytes()
    assert gzip.decompress((tmp_path / "one.gz").read_bytes()).decode().count("\n") == 4


def test_the_format_tables_match_the_store(tmp_path: Path) -> None:
    assert list(transfer._RESULT_TYPES) == [f.name for f in fields(ResultRow)]
    assert list(transfer._NODE_TYPES) == list(TREE["nodes"][0])
    assert set(transfer._RUN_TYPES) == set(RUN_FIELDS)


# -- importing into a store that has the run --------------------------------------------------


def test_importing_twice_adds_nothing_and_keeps_the_stored_status(tmp_path: Path) -> None:
    make_source(tmp_path / "a.db")
    with RunStore(tmp_path / "a.db") as store:
        export_run(store, "run", tmp_path / "run.jsonl.gz")
    with RunStore(tmp_path / "b.db") as fresh:
        assert import_run(fresh, tmp_path / "run.jsonl.gz") == ImportReport("run", 3, 0)
        fresh.update_run("run", status="stopped", metrics={"accuracy": 0.1})
        assert import_run(fresh, tmp_path / "run.jsonl.gz") == ImportReport("run", 0, 3)
        run = fresh.get_run("run")
        assert (run.status, run.metrics) == ("stopped", {"accuracy": 0.1})
        assert fresh.count_results("run") == 3 and len(fresh.list_runs()) == 1


def test_a_grown_export_adds_only_the_new_results(tmp_path: Path) -> None:
    make_source(tmp_path / "a.db", 2)
    with RunStore(tmp_path / "a.db") as store:
        export_run(store, "run", tmp_path / "early.jsonl")
        store.add_result("run", result("p2", 2))
        store.add_result("run", result("p3", 3), TREE)
        store.update_run("run", metrics={"accuracy": 0.75})
        export_run(store, "run", tmp_path / "late.jsonl")
    with RunStore(tmp_path / "b.db") as fresh:
        assert import_run(fresh, tmp_path / "early.jsonl") == ImportReport("run", 2, 0)
        assert import_run(fresh, tmp_path / "late.jsonl") == ImportReport("run", 2, 2)
        assert fresh.get_run("run").metrics == {"accuracy": 0.5, "wall_seconds": 9.0}
    assert contents(tmp_path / "b.db")[1:] == contents(tmp_path / "a.db")[1:]


def test_a_run_id_with_another_fingerprint_is_refused(tmp_path: Path) -> None:
    make_source(tmp_path / "a.db")
    with RunStore(tmp_path / "a.db") as store:
        export_run(store, "run", tmp_path / "run.jsonl")
    with RunStore(tmp_path / "b.db") as other:
        other.create_run("run", fingerprint="fp2", kind="eval", dataset="d", strategy="s",
                         model="m", config={}, manifest={})  # fmt: skip
        with pytest.raises(StoreError) as err:
            import_run(other, tmp_path / "run.jsonl")
        assert str(err.value) == (
            f"{tmp_path / 'b.db'} already has a run 'run' with another fingerprint than the one "
            f"in {tmp_path / 'run.jsonl'}; import it into another store (--store OTHER.db)"
        )
        assert other.count_results("run") == 0 and other.get_run("run").fingerprint == "fp2"


def test_an_exact_id_is_never_confused_with_a_prefix(tmp_path: Path) -> None:
    make_source(tmp_path / "a.db")
    with RunStore(tmp_path / "a.db") as store:
        export_run(store, "run", tmp_path / "run.jsonl")
    with RunStore(tmp_path / "b.db") as other:
        other.create_run("run-long", fingerprint="fp2", kind="eval", dataset="d", strategy="s",
                         model="m", config={}, manifest={})  # fmt: skip
        assert import_run(other, tmp_path / "run.jsonl") == ImportReport("run", 3, 0)
        assert other.count_results("run-long") == 0


def test_add_run_stores_exactly_and_never_overwrites(tmp_path: Path) -> None:
    record = RunRecord("r", "fp", "eval", 100.0, 200.0, "stopped", "d", "s", "m", {"a": 1},
                       {"b": 2}, {"accuracy": 0.5})  # fmt: skip
    with RunStore(tmp_path / "s.db") as store:
        assert store.add_run(record)
        assert store.get_run("r") == record
        assert not store.add_run(RunRecord("r", "other", "eval", 1.0, 1.0, "running", "d", "s",
                                           "m", {}, {}))  # fmt: skip
        assert store.get_run("r") == record
        assert store.create_run("r", fingerprint="x", kind="eval", dataset="d", strategy="s",
                                model="m", config={}, manifest={}).id == "r-2"  # fmt: skip


# -- bad files --------------------------------------------------------------------------------


def test_a_cut_last_line_keeps_the_complete_results(tmp_path: Path) -> None:
    make_source(tmp_path / "a.db")
    target = tmp_path / "run.jsonl"
    with RunStore(tmp_path / "a.db") as store:
        export_run(store, "run", target)
    cut(target, len(target.read_bytes()) - 20)
    with RunStore(tmp_path / "b.db") as fresh:
        with pytest.raises(StoreError) as err:
            import_run(fresh, target)
        assert str(err.value) == (
            f"{target} line 4: not JSON (the file may be cut short); import stopped there with "
            "2 results added (0 already stored); export the run again and import that"
        )
        assert fresh.results("run") == [result("p0", 0), result("p1", 1)]
        assert fresh.tree("run", "p0") == TREE


def test_a_truncated_gzip_keeps_the_results_before_the_cut(tmp_path: Path) -> None:
    # Incompressible questions, so that half the gzip holds about half the lines.
    make_source(tmp_path / "a.db", 8, noisy=True)
    target = tmp_path / "run.jsonl.gz"
    with RunStore(tmp_path / "a.db") as store:
        export_run(store, "run", target)
    cut(target, len(target.read_bytes()) // 2)
    readable = zlib.decompressobj(wbits=31).decompress(target.read_bytes())
    complete = readable.count(b"\n") - 1  # result lines whole before the cut
    assert 0 < complete < 8
    with RunStore(tmp_path / "b.db") as fresh:
        with pytest.raises(StoreError) as err:
            import_run(fresh, target)
        assert str(err.value) == (
            f"{target} line {complete + 2}: the gzip file ends early (cut short?); import "
            f"stopped there with {complete} results added (0 already stored); export the run "
            "again and import that"
        )
        assert fresh.results("run") == [result(f"p{i}", i, noisy=True) for i in range(complete)]


NOT_AN_EXPORT = "is not a thinktree run export (line 1: "
RUN = {"id": "r", "fingerprint": "fp", "kind": "eval", "dataset": "d", "strategy": "s",
       "model": "m", "status": "complete", "config": {}, "manifest": {}, "metrics": {},
       "created": 1.0}  # fmt: skip


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "the file is empty)"),
        (b"\n\n", "the file is empty)"),
        (b'{"run_id": "r", "problem_id": "p"}\n', 'no {"thinktree_run": 1, ...} header)'),
        (b'{"thinktree_run": true, "run": {}}\n', 'no {"thinktree_run": 1, ...} header)'),
        (b"[1, 2]\n", "a JSON list, not an object)"),
        (b"id,answer\np1,3\n", "not JSON (the file may be cut short))"),
        (b"\xff\xfe\x00garbage", "not UTF-8 text)"),
        (b"\x1f\x8bnot really gzip", "unreadable gzip data (Unknown compression method))"),
        (b'{"thinktree_run": 1}\n', "the header's run is not an object)"),
        (json.dumps({"thinktree_run": 1, "run": {"id": "r"}}).encode(),
         "the header's run lacks fingerprint, kind, dataset, strategy, model, status, config, "
         "manifest, metrics, created)"),
        (json.dumps({"thinktree_run": 1, "run": {**RUN, "config": "x"}}).encode(),
         "the header's run field config is \"x\")"),
        (json.dumps({"thinktree_run": 1, "run": {**RUN, "created": True}}).encode(),
         "the header's run field created is true)"),
    ],
)  # fmt: skip
def test_a_file_without_a_valid_header_is_refused(
    tmp_path: Path, content: bytes, reason: str
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(content)
    with RunStore(tmp_path / "b.db") as fresh:
        with pytest.raises(StoreError) as err:
            import_run(fresh, bad)
        assert str(err.value) == (
            f"{bad} {NOT_AN_EXPORT}{reason}; write one with `thinktree runs export RUN --out FILE`"
        )
        assert fresh.list_runs() == []


def test_a_newer_format_asks_for_an_upgrade(tmp_path: Path) -> None:
    bad = tmp_path / "new.jsonl"
    bad.write_text(json.dumps({"thinktree_run": 2, "run": RUN}) + "\n")
    with RunStore(tmp_path / "b.db") as fresh, pytest.raises(StoreError) as err:
        import_run(fresh, bad)
    assert str(err.value) == (
        f"{bad} was written by a newer thinktree (export format 2, this one reads 1); "
        "upgrade thinktree"
    )


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    with RunStore(tmp_path / "b.db") as fresh, pytest.raises(StoreError) as err:
        import_run(fresh, tmp_path / "nope.jsonl")
    assert str(err.value) == (
        f"cannot read {tmp_path / 'nope.jsonl'} (No such file or directory); give a file "
        "written by `thinktree runs export RUN --out FILE`"
    )


GOOD = asdict(result("p1", 1))
BAD_NODE = {"nodes": [{k: v for k, v in node(0, None).items() if k != "q"}]}


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ({"tree": None}, 'not a {"result": ..., "tree": ...} line'),
        ({"result": [1]}, "the result is not an object"),
        ({"result": {k: v for k, v in GOOD.items() if k not in ("votes", "extra")}},
         "the result lacks votes, extra"),
        ({"result": {**GOOD, "position": "1"}}, 'the result field position is "1"'),
        ({"result": {**GOOD, "generated_tokens": True}}, "the result field generated_tokens is true"),
        ({"result": {**GOOD, "seconds": None}}, "the result field seconds is null"),
        ({"result": GOOD, "tree": {"node": []}}, 'the tree is not {"nodes": [...]}'),
        ({"result": GOOD, "tree": BAD_NODE}, "a tree node lacks q"),
        ({"result": GOOD, "tree": {"nodes": [node(0, None, terminal=1)]}},
         "a tree node field terminal is 1"),
        ({"result": GOOD, "tree": {"nodes": [node(0, None), node(0, None)]}},
         "the store refused its tree (UNIQUE constraint failed: tree_nodes.run_id, "
         "tree_nodes.problem_id, tree_nodes.node_id)"),
    ],
)  # fmt: skip
def test_a_bad_result_line_stops_the_import_there(
    tmp_path: Path, line: dict[str, Any], reason: str
) -> None:
    header = {"thinktree_run": 1, "run": RUN}
    first = {"result": asdict(result("p0", 0)), "tree": TREE}
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(json.dumps(x) for x in (header, first, line)) + "\n")
    with RunStore(tmp_path / "b.db") as fresh:
        with pytest.raises(StoreError) as err:
            import_run(fresh, bad)
        assert str(err.value) == (
            f"{bad} line 3: {reason}; import stopped there with 1 results added (0 already "
            "stored); export the run again and import that"
        )
        assert fresh.results("r") == [result("p0", 0)]  # nothing of the bad line, not even rows
        assert fresh.tree("r", "p1") is None and fresh.tree("r", "p0") == TREE


# -- atomic export ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["run.jsonl", "run.jsonl.gz"])
def test_a_failed_export_leaves_no_file_and_keeps_the_old_one(
    tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_source(tmp_path / "a.db")
    out = tmp_path / "out"
    out.mkdir()
    old = out / name
    old.write_bytes(b"the previous export")

    def dying_tree(self: RunStore, run_id: str, problem_id: str) -> None:
        if problem_id == "p1":
            raise RuntimeError("killed mid-write")

    monkeypatch.setattr(RunStore, "tree", dying_tree)
    with RunStore(tmp_path / "a.db") as store:
        with pytest.raises(RuntimeError, match="killed mid-write"):
            export_run(store, "run", old)
        with pytest.raises(RuntimeError, match="killed mid-write"):
            export_run(store, "run", out / f"new-{name}")
    assert sorted(p.name for p in out.iterdir()) == [name]
    assert old.read_bytes() == b"the previous export"


def test_export_errors(tmp_path: Path) -> None:
    make_source(tmp_path / "a.db")
    with RunStore(tmp_path / "a.db") as store:
        with pytest.raises(StoreError, match="no run 'zzz'"):
            export_run(store, "zzz", tmp_path / "x.jsonl")
        with pytest.raises(FileNotFoundError):
            export_run(store, "run", tmp_path / "missing" / "x.jsonl")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.db"]


# -- the command line -------------------------------------------------------------------------


def invoke(*args: str):
    return runner.invoke(app, list(args))


def test_cli_export_then_import(tmp_path: Path) -> None:
    make_source(tmp_path / "a.db")
    target = tmp_path / "run.jsonl.gz"
    out = invoke("runs", "export", "run", "--store", str(tmp_path / "a.db"), "--out", str(target))
    assert out.exit_code == 0, out.output
    assert out.stdout == "" and out.stderr == f"exported 3 results of run run to {target}\n"
    fresh = str(tmp_path / "b.db")  # a store that does not exist yet is created
    out = invoke("runs", "import", str(target), "--store", fresh)
    assert (out.exit_code, out.stdout) == (
        0,
        "imported 3 results into run run (0 already stored)\n",
    )
    out = invoke("runs", "import", str(target), "--store", fresh)
    assert out.stdout == "imported 0 results into run run (3 already stored)\n"
    assert contents(tmp_path / "b.db") == contents(tmp_path / "a.db")


def test_cli_export_to_stdout_is_the_same_format(tmp_path: Path) -> None:
    make_source(tmp_path / "a.db")
    with RunStore(tmp_path / "a.db") as store:
        export_run(store, "run", tmp_path / "run.jsonl")
    out = invoke("runs", "export", "run", "--store", str(tmp_path / "a.db"))
    assert out.exit_code == 0 and out.stdout == (tmp_path / "run.jsonl").read_text()
    bare = invoke("runs", "export", "run", "--store", str(tmp_path / "a.db"), "--no-trees")
    lines = [json.loads(x) for x in bare.stdout.splitlines()]
    assert len(lines) == 4 and [x["tree"] for x in lines[1:]] == [None, None, None]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["runs", "import", "{tmp}/bad.jsonl"], "{tmp}/bad.jsonl is not a thinktree run export"),
        (["runs", "import", "{tmp}/nope.jsonl"], "no file {tmp}/nope.jsonl; give one written by"),
        (["runs", "import", "{tmp}"], "no file {tmp}; give one written by"),
        (["runs", "export", "zzz"], "no run 'zzz'"),
        (["runs", "export", "run", "--out", "{tmp}/missing/x.gz"],
         "No such file or directory"),
    ],
)  # fmt: skip
def test_cli_errors_are_one_line_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    make_source(tmp_path / "a.db")
    (tmp_path / "bad.jsonl").write_text('{"run_id": "run", "problem_id": "p0"}\n')
    out = invoke(*[a.format(tmp=tmp_path) for a in args], "--store", str(tmp_path / "a.db"))
    assert out.exit_code == 2, out.output
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), out.stderr
    assert message.format(tmp=tmp_path) in lines[0]
