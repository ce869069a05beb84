"""benchmarks/serve_load.py runs end to end on the scripted engine (a small load)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "serve_load.py"


def test_the_load_script_answers_or_refuses_every_request(tmp_path) -> None:
    out = tmp_path / "serve_load.json"
    out.write_text(json.dumps({"fast_0_5b": {"kept": True}}))
    args = ["--requests", "12", "--concurrency", "1", "--queue", "2", "--out", str(out)]
    done = subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    results = json.loads(out.read_text())
    assert results["fast_0_5b"] == {"kept": True}  # the other setting's figures stay
    figures = results["scripted"]
    assert (figures["requests"], figures["errors"], figures["error_kinds"]) == (12, 0, [])
    assert figures["ok"] + figures["rejected_429"] == 12
    assert figures["ok"] >= 3  # one running and two queued are always answered
    assert 0 < figures["p50_ms"] <= figures["p95_ms"] <= figures["max_ms"]
    assert (figures["concurrency"], figures["queue"], figures["engine"]) == (1, 2, "scripted")
