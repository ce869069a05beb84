"""Load on `thinktree serve`: many clients asking ``thinktree-greedy`` at once.

    thinktree bench benchmarks/recipes/serve_load.yaml        # scripted engine, 50 requests
    thinktree bench benchmarks/recipes/serve_load_real.yaml   # the embedded 0.5B, 2 threads

Starts the real server app (uvicorn on 127.0.0.1, a free port, a temporary run
store) over either the scripted engine (canned three-step solutions: what is
measured is the server, its queue and the sandbox, not a model) or the embedded
fast model (Qwen2.5-Coder-0.5B Q4_K_M on llama.cpp), then sends every request
at the same moment from one asyncio client and waits for all of them.

What must hold: every request is answered (200) or refused for a full queue
(429); anything else (another status, a timeout, a dropped connection) is an
error, and the command fails (non-zero exit) if there is one. Figures: ``p50_ms`` and
``p95_ms`` are nearest-rank percentiles of the answered requests' latencies
(send to last byte), ``p50_429_ms`` of the refusals'. Results go to
``benchmarks/results/serve_load.json`` under ``scripted`` or ``fast_0_5b``
(the other setting's entry is kept).
"""

from __future__ import annotations

import asyncio
import json
import math
import multiprocessing
import os
import platform
import socket
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field

from thinktree.eval.bench.probes.base import Probe, ProbeContext, ProbeError, ProbeOptions
from thinktree.eval.bench.probes.results import read_results, write_results

if TYPE_CHECKING:
    import uvicorn

    from thinktree.api import Runtime
    from thinktree.engines.base import CompletionRequest
    from thinktree.server import ServerConfig

SCRIPTED_STEPS = (
    "\n```python\n# Cost of the pens.\ncost = 4 * 3\nprint(cost)\n```\n",
    "\n```python\n# Change from 20 dollars.\nchange = 20 - cost\nprint(change)\n```\n",
    "\nAnswer: \\boxed{8}",
)


class ServeLoadOptions(ProbeOptions):
    real: bool = False
    """The embedded 0.5B instead of the scripted engine (results under fast_0_5b)."""
    requests: int | None = Field(None, ge=1)
    """Requests sent at once (default 50 scripted, 8 real)."""
    concurrency: int | None = Field(None, ge=1)
    """Solves at once (default 4 scripted, 1 real)."""
    queue: int = Field(16, ge=0)
    """Requests waiting for a slot (the rest are refused with 429)."""
    threads: int = Field(1, ge=1)
    """llama.cpp threads (real only)."""
    max_tokens: int = Field(512, ge=1)
    """Token budget per request."""
    out: str = "benchmarks/results/serve_load.json"
    """The results file (relative to the repository); the other setting's entry is kept."""


def scripted_step(request: CompletionRequest, index: int) -> str:
    """The next step of a three-step solution, by the number of cells already run."""
    written = request.prompt.rsplit("<assistant>\n", 1)[-1]
    return SCRIPTED_STEPS[min(written.count("Output:"), len(SCRIPTED_STEPS) - 1)]


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile ``q`` (0–100) of ``values``; None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def run_clients(url: str, questions: list[str], max_tokens: int) -> list[dict]:
    """:func:`fire` in this process (the benchmark runs it in a process of its own, so the
    clients do not share the server's interpreter lock and their requests do arrive at once)."""
    return asyncio.run(fire(url, questions, max_tokens, timeout=3600))


async def fire(url: str, questions: list[str], max_tokens: int, timeout: float) -> list[dict]:
    """Send one request per question, all at once; the status and latency of each.

    Every connection is opened first (one ``GET /v1/models`` each, at once), so the
    requests themselves do not wait on connection setup."""
    import httpx

    size = max(1, len(questions))
    limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
    async with httpx.AsyncClient(base_url=url, timeout=timeout, limits=limits) as client:
        await asyncio.gather(*(client.get("/v1/models") for _ in questions))

        async def one(question: str) -> dict[str, Any]:
            body = {
                "model": "thinktree-greedy",
                "messages": [{"role": "user", "content": question}],
                "max_tokens": max_tokens,
            }
            started = time.perf_counter()
            try:
                response = await client.post("/v1/chat/completions", json=body)
                status: int | str = response.status_code
                if status == 200 and not response.json()["choices"][0]["message"]["content"]:
                    status = "empty answer"
            except (httpx.HTTPError, ValueError, KeyError) as exc:
                status = type(exc).__name__
            return {"status": status, "ms": (time.perf_counter() - started) * 1000}

        return await asyncio.gather(*(one(q) for q in questions))


def serve(runtime: Runtime, config: ServerConfig) -> tuple[uvicorn.Server, threading.Thread, str]:
    import uvicorn

    from thinktree.server import create_app

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(runtime, config), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.02)
    return server, thread, f"http://127.0.0.1:{sock.getsockname()[1]}"


def summarise(outcomes: list[dict], wall: float) -> dict[str, Any]:
    ok = [o["ms"] for o in outcomes if o["status"] == 200]
    refused = [o["ms"] for o in outcomes if o["status"] == 429]
    errors = [o["status"] for o in outcomes if o["status"] not in (200, 429)]
    return {
        "requests": len(outcomes),
        "ok": len(ok),
        "rejected_429": len(refused),
        "errors": len(errors),
        "error_kinds": sorted({str(e) for e in errors}),
        "p50_ms": percentile(ok, 50),
        "p95_ms": percentile(ok, 95),
        "max_ms": max(ok, default=None),
        "p50_429_ms": percentile(refused, 50),
        "wall_s": wall,
    }


def run(options: ServeLoadOptions, ctx: ProbeContext) -> Path:
    from thinktree.api import open_runtime
    from thinktree.engines.factory import EngineConfig
    from thinktree.engines.scripted import ScriptedEngine
    from thinktree.problems.loaders import load_benchmark
    from thinktree.server import ServerConfig

    requests = options.requests or (8 if options.real else 50)
    concurrency = options.concurrency or (1 if options.real else 4)
    setting = "fast_0_5b" if options.real else "scripted"

    if options.real:
        engine: Any = EngineConfig(model="fast", parallel=4, threads=options.threads)
        problems = load_benchmark("gsm8k", "test")[:requests]
        questions = [p.question for p in problems]
    else:
        engine = ScriptedEngine(scripted_step)
        questions = [f"Ana buys 4 pens at 3 dollars and pays 20 (client {i}). Change?"
                     for i in range(requests)]  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp, open_runtime(engine) as runtime:
        config = ServerConfig(concurrency=concurrency, queue=options.queue,
                              store_path=Path(tmp) / "runs.db")  # fmt: skip
        server, thread, url = serve(runtime, config)
        try:
            with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
                pool.submit(run_clients, url, [], options.max_tokens).result()  # start it
                started = time.perf_counter()
                outcomes = pool.submit(run_clients, url, questions, options.max_tokens).result()
                wall = time.perf_counter() - started
        finally:
            server.should_exit = True
            thread.join(30)
    figures = {
        **summarise(outcomes, wall),
        "concurrency": concurrency,
        "queue": options.queue,
        "max_tokens": options.max_tokens,
        "engine": "llama.cpp qwen2.5-coder-0.5b-instruct" if options.real else "scripted",
        "threads": options.threads if options.real else None,
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "measured": time.strftime("%Y-%m-%d"),
    }
    path = ctx.path(options.out)
    write_results(path, {**read_results(path), setting: figures})
    ctx.say(json.dumps({setting: figures}, indent=2))
    if figures["errors"] or figures["ok"] + figures["rejected_429"] != requests:
        raise ProbeError(
            f"serve_load: {figures['errors']} errors ({', '.join(figures['error_kinds'])}) "
            f"in {requests} requests; the figures are in {options.out}"
        )
    return path


PROBE = Probe(ServeLoadOptions, "latency of thinktree serve under many clients at once", run)
