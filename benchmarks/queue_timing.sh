#!/usr/bin/env bash
# The timing benchmarks, one after the other, for a machine with nothing else running.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p benchmarks/logs
.venv/bin/python benchmarks/engine_bench.py > benchmarks/logs/engine.log 2>&1
.venv/bin/python benchmarks/sandbox_bench.py > benchmarks/logs/sandbox.log 2>&1
.venv/bin/python benchmarks/grader_bench.py > benchmarks/logs/grader.log 2>&1
.venv/bin/python benchmarks/search_batch_bench.py > benchmarks/logs/search_batch.log 2>&1
