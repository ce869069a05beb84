"""The serve_load probe (benchmarks/recipes/serve_load.yaml) runs end to end on the
scripted engine (a small load)."""

from __future__ import annotations

import json
from pathlib import Path

from thinktree.eval.bench.probes import ProbeContext, run_probe
from thinktree.server.load_probe import PROBE


def test_the_load_probe_answers_or_refuses_every_request(tmp_path: Path) -> None:
    out = tmp_path / "serve_load.json"
    out.write_text(json.dumps({"fast_0_5b": {"kept": True}}))
    options = {"requests": 12, "concurrency": 1, "queue": 2, "out": str(out)}
    said: list[str] = []
    ctx = ProbeContext(tmp_path, "thinktree bench serve_load.yaml", said.append)
    assert run_probe("serve_load", options, {"serve_load": PROBE}, ctx) == out
    results = json.loads(out.read_text())
    assert results["fast_0_5b"] == {"kept": True}  # the other setting's figures stay
    figures = results["scripted"]
    assert (figures["requests"], figures["errors"], figures["error_kinds"]) == (12, 0, [])
    assert figures["ok"] + figures["rejected_429"] == 12
    assert figures["ok"] >= 3  # one running and two queued are always answered
    assert 0 < figures["p50_ms"] <= figures["p95_ms"] <= figures["max_ms"]
    assert (figures["concurrency"], figures["queue"], figures["engine"]) == (1, 2, "scripted")
    assert json.loads(said[-1]) == {"scripted": figures}
