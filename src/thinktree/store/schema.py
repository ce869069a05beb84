"""The run store's SQLite schema (versioned)."""

from __future__ import annotations

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    kind TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    status TEXT NOT NULL,
    dataset TEXT NOT NULL,
    strategy TEXT NOT NULL,
    model TEXT NOT NULL,
    config_json TEXT NOT NULL,
    manifest_json TEXT NOT NULL,
    metrics_json TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS runs_fingerprint ON runs (fingerprint);
CREATE TABLE IF NOT EXISTS results (
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    problem_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    question TEXT NOT NULL,
    gold TEXT,
    answer TEXT,
    correct INTEGER,
    generated_tokens INTEGER NOT NULL,
    prompt_tokens INTEGER NOT NULL,
    cached_tokens INTEGER NOT NULL,
    seconds REAL NOT NULL,
    stop_reason TEXT NOT NULL,
    samples_json TEXT NOT NULL,
    votes_json TEXT NOT NULL,
    trajectories_json TEXT NOT NULL,
    extra_json TEXT NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (run_id, problem_id)
);
CREATE TABLE IF NOT EXISTS tree_nodes (
    run_id TEXT NOT NULL,
    problem_id TEXT NOT NULL,
    node_id INTEGER NOT NULL,
    parent_id INTEGER,
    depth INTEGER NOT NULL,
    step_json TEXT,
    visits INTEGER NOT NULL,
    value_sum REAL NOT NULL,
    q REAL NOT NULL,
    local_visits INTEGER NOT NULL,
    local_value REAL NOT NULL,
    terminal INTEGER NOT NULL,
    terminal_reason TEXT,
    answer TEXT,
    score REAL,
    expanded INTEGER NOT NULL,
    correct INTEGER,
    PRIMARY KEY (run_id, problem_id, node_id),
    FOREIGN KEY (run_id, problem_id) REFERENCES results (run_id, problem_id) ON DELETE CASCADE
);
"""
