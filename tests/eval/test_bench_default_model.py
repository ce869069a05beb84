"""A recipe's `model: default` finds the runs of what `default` resolves to: the untouched
1.5B's (as `base` does) until an evolved 1.5B ships as `default`, then the evolved one's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.eval.bench_fakes import Clock
from tests.eval.test_bench import Opener
from tests.models.test_default_model import ship_default
from thinktree.eval.bench import parse_recipe, run_recipe
from thinktree.eval.bench.runner import RunStatus, model_name
from thinktree.models import find_embedded
from thinktree.models import policy as policy_module
from thinktree.models import resolve as resolve_module
from thinktree.store import RunStore

BASE = find_embedded("base")
assert BASE is not None


@pytest.fixture
def package(monkeypatch, tmp_path: Path) -> Path:
    """The package's models directory, in tmp_path and without a shipped `default`."""
    package = tmp_path / "package"
    package.mkdir()
    for module in (policy_module, resolve_module):
        monkeypatch.setattr(module, "default_policy_dir", lambda: package / "default")
    return package


def _greedy(store: RunStore, tmp_path: Path, model: str, dry_run: bool) -> list[RunStatus]:
    data = tmp_path / "problems.jsonl"
    data.write_text("".join(json.dumps({"question": f"q{i}", "answer": str(i)}) + "\n"
                            for i in range(2)))  # fmt: skip
    recipe = parse_recipe({
        "store": "store.db",
        "runs": [{"name": "greedy", "model": model, "source": {"data": str(data)},
                  "search": {"strategy": "greedy"}}],
    })  # fmt: skip
    return run_recipe(recipe, store, root=tmp_path, open_solver=Opener(Clock()),
                      dry_run=dry_run, say=lambda _: None)  # fmt: skip


def _found(store: RunStore, tmp_path: Path, model: str) -> tuple[str, str | None]:
    [status] = _greedy(store, tmp_path, model, dry_run=True)
    return status.state, status.run_id


def test_default_finds_the_base_run_until_an_evolved_1_5b_ships(
    package: Path, tmp_path: Path
) -> None:
    with RunStore(tmp_path / "store.db") as store:
        [base_run] = _greedy(store, tmp_path, "base", dry_run=False)
        assert (base_run.state, base_run.stored) == ("grown", 2)
        assert store.get_run(base_run.run_id).model == BASE.name
        for model in ("default", "base", "1.5b"):
            assert _found(store, tmp_path, model) == ("complete", base_run.run_id)

        ship_default(package)
        assert model_name("default") == "default"
        assert _found(store, tmp_path, "default") == ("missing", None)
        assert _found(store, tmp_path, "base") == ("complete", base_run.run_id)

        [evolved_run] = _greedy(store, tmp_path, "default", dry_run=False)
        assert evolved_run.run_id != base_run.run_id
        assert store.get_run(evolved_run.run_id).model == "default"
        assert _found(store, tmp_path, "default") == ("complete", evolved_run.run_id)
        assert _found(store, tmp_path, "base") == ("complete", base_run.run_id)


def test_a_model_that_resolves_to_nothing_keeps_its_spec(package: Path) -> None:
    assert model_name("evolved-nowhere") == "evolved-nowhere"
    assert model_name("fast") == "qwen2.5-coder-0.5b-instruct"
    assert model_name("default") == BASE.name
