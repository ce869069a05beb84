"""Storing the server's solves in the run store, so they can be viewed later.

One run per (strategy and search config, scorer) per server session: requests
that ask for the same search add to one run (``kind = "serve"``, data set
``"chat"``), each request one problem whose id is the completion's id
(``chatcmpl-...``) and whose position is its order in the run. A request with
other settings starts another run, so a run's stored config is always the
config its problems were solved with. A new server session starts new runs.
A run's metrics are brought up to date with each solve, and the session's runs
are marked complete when the server stops (until then the viewer shows them live).

Writes happen on the solve's worker thread, on a store connection opened for
the write (SQLite connections are tied to their thread).
"""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from typing import Any

from thinktree.eval.harness import fingerprint, result_row
from thinktree.eval.manifest import build_manifest
from thinktree.eval.metrics import summarize
from thinktree.problems import Problem
from thinktree.search import AnswerJudge, SearchConfig, SolveResult
from thinktree.search.identity import run_identity
from thinktree.store import RunStore

DATASET = "chat"
KIND = "serve"


class Recorder:
    def __init__(self, path: Path, model_id: dict[str, Any]) -> None:
        self.path = Path(path)
        self.model_id = model_id
        self.session = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        self._runs: dict[str, str] = {}
        self._lock = threading.Lock()
        RunStore(self.path).close()  # a bad path fails at start, not at the first request

    def record(
        self,
        result: SolveResult,
        problem: Problem,
        config: SearchConfig,
        scorer_id: str,
        judge: AnswerJudge,
    ) -> str:
        """Store one solve (and its tree); the id of the run it went into."""
        identity = {
            "dataset": DATASET,
            "search": run_identity(config, scored=scorer_id != "none"),
            "model": self.model_id,
            "scorer": scorer_id,
            "kind": KIND,
            "session": self.session,
        }
        fp = fingerprint(identity)
        with self._lock, RunStore(self.path) as store:
            run_id = self._runs.get(fp)
            if run_id is None:
                run_id = self._create(store, fp, identity, config)
                self._runs[fp] = run_id
            position = store.count_results(run_id)
            store.add_result(run_id, result_row(result, problem, position, judge), result.tree)
            store.update_run(run_id, metrics=summarize(store.results(run_id)))
        return run_id

    def close(self) -> None:
        """Mark this session's runs complete: the server takes no more solves into them."""
        with self._lock:
            if not self._runs:
                return
            with RunStore(self.path) as store:
                for run_id in self._runs.values():
                    store.update_run(run_id, status="complete")

    def _create(
        self, store: RunStore, fp: str, identity: dict[str, Any], config: SearchConfig
    ) -> str:
        manifest = build_manifest(
            config=identity,
            model=str(self.model_id.get("name")),
            model_sha256=self.model_id.get("sha256"),
            dataset=DATASET,
            dataset_hash="",
            seed=config.seed,
        )
        run = store.create_run(
            f"serve-{config.strategy}-{fp[:6]}",
            fingerprint=fp,
            kind=KIND,
            dataset=DATASET,
            strategy=config.strategy,
            model=str(self.model_id.get("name")),
            config=identity,
            manifest=manifest,
        )
        return run.id
