"""The run store: SQLite in WAL mode, one file holding many runs.

A run is identified by a fingerprint of everything that decides its results
(data set, strategy config, model, scorer, seed); running the same command
again finds the run and continues it. Each problem's result (and its tree) is
written in one transaction, so a kill at any moment leaves every problem either
fully stored or absent, and the primary key forbids storing one twice.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thinktree.store.schema import SCHEMA, SCHEMA_VERSION

DEFAULT_STORE = "thinktree-runs.db"


class StoreError(RuntimeError):
    """The store file or a run in it cannot be used; the message says what to do."""


@dataclass
class RunRecord:
    id: str
    fingerprint: str
    kind: str
    created: float
    updated: float
    status: str
    dataset: str
    strategy: str
    model: str
    config: dict[str, Any]
    manifest: dict[str, Any]
    metrics: dict[str, Any] = field(default_factory=dict)


@dataclass
class ResultRow:
    problem_id: str
    position: int
    question: str
    gold: str | None
    answer: str | None
    correct: bool | None
    generated_tokens: int
    prompt_tokens: int
    cached_tokens: int
    seconds: float
    stop_reason: str
    samples: dict[str, Any] = field(default_factory=dict)
    """``answers``, ``correct`` and ``classes`` (equivalence class per sample)."""
    votes: dict[str, float] = field(default_factory=dict)
    trajectories: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


def _run_from_row(row: sqlite3.Row) -> RunRecord:
    return RunRecord(
        id=row["id"],
        fingerprint=row["fingerprint"],
        kind=row["kind"],
        created=row["created"],
        updated=row["updated"],
        status=row["status"],
        dataset=row["dataset"],
        strategy=row["strategy"],
        model=row["model"],
        config=json.loads(row["config_json"]),
        manifest=json.loads(row["manifest_json"]),
        metrics=json.loads(row["metrics_json"]),
    )


def _result_from_row(row: sqlite3.Row) -> ResultRow:
    correct = row["correct"]
    return ResultRow(
        problem_id=row["problem_id"],
        position=row["position"],
        question=row["question"],
        gold=row["gold"],
        answer=row["answer"],
        correct=None if correct is None else bool(correct),
        generated_tokens=row["generated_tokens"],
        prompt_tokens=row["prompt_tokens"],
        cached_tokens=row["cached_tokens"],
        seconds=row["seconds"],
        stop_reason=row["stop_reason"],
        samples=json.loads(row["samples_json"]),
        votes=json.loads(row["votes_json"]),
        trajectories=json.loads(row["trajectories_json"]),
        extra=json.loads(row["extra_json"]),
    )


class RunStore:
    def __init__(self, path: str | Path = DEFAULT_STORE, *, create: bool = True) -> None:
        self.path = Path(path)
        if not create and not self.path.exists():
            raise StoreError(
                f"no run store at {self.path}; run `thinktree eval` first or pass --store"
            )
        if self.path.exists() and self.path.is_dir():
            raise StoreError(f"{self.path} is a directory; pass --store FILE.db")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)
            self._check_version()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path} is not a thinktree run store ({exc})") from exc

    def _check_version(self) -> None:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is None:
            self._db.execute(
                "INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
        elif int(row["value"]) > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} was written by a newer thinktree (schema {row['value']}); upgrade"
            )

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- runs ----------------------------------------------------------------------------

    def find_run(self, fingerprint: str) -> RunRecord | None:
        row = self._db.execute(
            "SELECT * FROM runs WHERE fingerprint = ? ORDER BY created DESC LIMIT 1", (fingerprint,)
        ).fetchone()
        return _run_from_row(row) if row else None

    def create_run(
        self,
        run_id: str,
        *,
        fingerprint: str,
        kind: str,
        dataset: str,
        strategy: str,
        model: str,
        config: dict[str, Any],
        manifest: dict[str, Any],
    ) -> RunRecord:
        """Start a new run named ``run_id``, or ``run_id-2``, ``-3``... if that name is taken."""
        now = time.time()
        base, suffix = run_id, 1
        while self._db.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone():
            suffix += 1
            run_id = f"{base}-{suffix}"
        self.add_run(
            RunRecord(
                id=run_id,
                fingerprint=fingerprint,
                kind=kind,
                created=now,
                updated=now,
                status="running",
                dataset=dataset,
                strategy=strategy,
                model=model,
                config=config,
                manifest=manifest,
            )
        )
        return self.get_run(run_id)

    def add_run(self, run: RunRecord) -> bool:
        """Store ``run`` exactly as given (id, times, status, metrics); False if its id is taken.

        For copying a run from another store: unlike ``create_run`` it never renames, and a
        run already stored under that id is left untouched, whatever its fields.
        """
        cursor = self._db.execute(
            "INSERT INTO runs (id, fingerprint, kind, created, updated, status, dataset, strategy,"
            " model, config_json, manifest_json, metrics_json)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
            (
                run.id,
                run.fingerprint,
                run.kind,
                run.created,
                run.updated,
                run.status,
                run.dataset,
                run.strategy,
                run.model,
                json.dumps(run.config, sort_keys=True),
                json.dumps(run.manifest, sort_keys=True),
                json.dumps(run.metrics, sort_keys=True),
            ),
        )
        return cursor.rowcount == 1

    def get_run(self, run_id: str) -> RunRecord:
        row = self._db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            rows = self._db.execute(
                "SELECT * FROM runs WHERE id LIKE ? ESCAPE '\\'",
                (run_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%",),
            ).fetchall()
            if len(rows) == 1:
                row = rows[0]
            elif len(rows) > 1:
                names = ", ".join(r["id"] for r in rows[:5])
                raise StoreError(f"run {run_id!r} is ambiguous in {self.path}: {names}")
        if row is None:
            raise StoreError(f"no run {run_id!r} in {self.path}; see `thinktree runs list`")
        return _run_from_row(row)

    def list_runs(self) -> list[RunRecord]:
        rows = self._db.execute("SELECT * FROM runs ORDER BY created").fetchall()
        return [_run_from_row(r) for r in rows]

    def update_run(
        self,
        run_id: str,
        *,
        status: str | None = None,
        metrics: dict[str, Any] | None = None,
        manifest: dict[str, Any] | None = None,
    ) -> None:
        fields, values = ["updated = ?"], [time.time()]
        if status is not None:
            fields.append("status = ?")
            values.append(status)
        if metrics is not None:
            fields.append("metrics_json = ?")
            values.append(json.dumps(metrics, sort_keys=True))
        if manifest is not None:
            fields.append("manifest_json = ?")
            values.append(json.dumps(manifest, sort_keys=True))
        self._db.execute(f"UPDATE runs SET {', '.join(fields)} WHERE id = ?", (*values, run_id))

    def count_results(self, run_id: str) -> int:
        return self._db.execute(
            "SELECT COUNT(*) FROM results WHERE run_id = ?", (run_id,)
        ).fetchone()[0]

    # -- results -------------------------------------------------------------------------

    def done_problem_ids(self, run_id: str) -> set[str]:
        rows = self._db.execute("SELECT problem_id FROM results WHERE run_id = ?", (run_id,))
        return {r[0] for r in rows}

    def add_result(
        self, run_id: str, result: ResultRow, tree: dict[str, Any] | None = None
    ) -> bool:
        """Store one problem's result and tree atomically; False if it was already stored."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            exists = db.execute(
                "SELECT 1 FROM results WHERE run_id = ? AND problem_id = ?",
                (run_id, result.problem_id),
            ).fetchone()
            if exists:
                db.execute("ROLLBACK")
                return False
            db.execute(
                "INSERT INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    result.problem_id,
                    result.position,
                    result.question,
                    result.gold,
                    result.answer,
                    None if result.correct is None else int(result.correct),
                    result.generated_tokens,
                    result.prompt_tokens,
                    result.cached_tokens,
                    result.seconds,
                    result.stop_reason,
                    json.dumps(result.samples),
                    json.dumps(result.votes),
                    json.dumps(result.trajectories),
                    json.dumps(result.extra),
                    time.time(),
                ),
            )
            if tree is not None:
                db.executemany(
                    "INSERT INTO tree_nodes VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        (
                            run_id,
                            result.problem_id,
                            n["id"],
                            n["parent"],
                            n["depth"],
                            json.dumps(n["step"]) if n["step"] is not None else None,
                            n["visits"],
                            n["value_sum"],
                            n["q"],
                            n["local_visits"],
                            n["local_value"],
                            int(n["terminal"]),
                            n["terminal_reason"],
                            n["answer"],
                            n["score"],
                            int(n["expanded"]),
                            None if n["correct"] is None else int(n["correct"]),
                        )
                        for n in tree["nodes"]
                    ],
                )
            db.execute("UPDATE runs SET updated = ? WHERE id = ?", (time.time(), run_id))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return True

    def update_grades(
        self,
        run_id: str,
        problem_id: str,
        correct: bool | None,
        samples: dict[str, Any],
        node_correct: dict[int, bool | None],
    ) -> None:
        """Replace one result's verdicts (and its tree nodes') in one transaction."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(
                "UPDATE results SET correct = ?, samples_json = ? WHERE run_id = ? AND problem_id = ?",
                (
                    None if correct is None else int(correct),
                    json.dumps(samples),
                    run_id,
                    problem_id,
                ),
            )
            db.executemany(
                "UPDATE tree_nodes SET correct = ? WHERE run_id = ? AND problem_id = ? AND node_id = ?",
                [
                    (None if v is None else int(v), run_id, problem_id, node_id)
                    for node_id, v in node_correct.items()
                ],
            )
            db.execute("UPDATE runs SET updated = ? WHERE id = ?", (time.time(), run_id))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def results(self, run_id: str) -> list[ResultRow]:
        rows = self._db.execute(
            "SELECT * FROM results WHERE run_id = ? ORDER BY position, problem_id", (run_id,)
        ).fetchall()
        return [_result_from_row(r) for r in rows]

    def iter_results(self, run_id: str) -> Iterator[ResultRow]:
        cursor = self._db.execute(
            "SELECT * FROM results WHERE run_id = ? ORDER BY position, problem_id", (run_id,)
        )
        for row in cursor:
            yield _result_from_row(row)

    def tree(self, run_id: str, problem_id: str) -> dict[str, Any] | None:
        rows = self._db.execute(
            "SELECT * FROM tree_nodes WHERE run_id = ? AND problem_id = ? ORDER BY node_id",
            (run_id, problem_id),
        ).fetchall()
        if not rows:
            return None
        return {
            "nodes": [
                {
                    "id": r["node_id"],
                    "parent": r["parent_id"],
                    "depth": r["depth"],
                    "step": json.loads(r["step_json"]) if r["step_json"] else None,
                    "visits": r["visits"],
                    "value_sum": r["value_sum"],
                    "q": r["q"],
                    "local_visits": r["local_visits"],
                    "local_value": r["local_value"],
                    "terminal": bool(r["terminal"]),
                    "terminal_reason": r["terminal_reason"],
                    "answer": r["answer"],
                    "score": r["score"],
                    "expanded": bool(r["expanded"]),
                    "correct": None if r["correct"] is None else bool(r["correct"]),
                }
                for r in rows
            ]
        }

    def tree_problem_ids(self, run_id: str) -> list[str]:
        rows = self._db.execute(
            "SELECT DISTINCT problem_id FROM tree_nodes WHERE run_id = ?", (run_id,)
        ).fetchall()
        return [r[0] for r in rows]
