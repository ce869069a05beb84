"""No strategy is named by a string of its own outside the registry and the strategies.

Code asks a strategy's class for facts (``is_strategy(name, MCTSSearch)``,
``budget_field(name)``, ``cls.independent_samples``) or builds a name once from the
registry (``strategy_name(SelfConsistencySearch)``), so a renamed or added strategy
reaches every report and its kinds. Only :mod:`thinktree.search.registry` (the list of
names) and the strategies' own modules may quote a name; docstrings are held to it too.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.layout.test_imports import ROOT

ALLOWED = (
    "thinktree/search/registry.py",
    "thinktree/search/greedy.py",
    "thinktree/search/sampling.py",
    "thinktree/search/beam.py",
    "thinktree/search/chat_cot.py",
    "thinktree/search/mcts/",
)
# The names as the rule was written, and every name registered since.
NAMES = {"greedy", "sc", "best_of_n", "beam", "mcts", "chat_cot"}


def quoted_names(text: str, names: set[str]) -> list[int]:
    """The lines (1-based) of ``text`` holding a strategy name in quotes, ``"sc"`` or ``'mcts'``."""
    alternatives = "|".join(sorted(map(re.escape, names)))
    pattern = re.compile(rf"[\"']({alternatives})[\"']")
    return [n for n, line in enumerate(text.splitlines(), 1) if pattern.search(line)]


def offenders(root: Path, names: set[str]) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root).as_posix()
        if relative.startswith(ALLOWED):
            continue
        found += [f"{relative}:{n}" for n in quoted_names(path.read_text(), names)]
    return found


def test_src_quotes_no_strategy_name_outside_the_registry_and_the_strategies() -> None:
    from thinktree.search.registry import STRATEGIES

    assert offenders(ROOT, NAMES | set(STRATEGIES)) == []


def test_a_quoted_name_is_seen_and_a_longer_word_is_not() -> None:
    text = 'x = 1\nif run.strategy == "sc":\nlabel = "sc-prelude"\ny = f"{SC}" or \'mcts\'\n'
    assert quoted_names(text, NAMES) == [2, 4]


def test_the_allowed_modules_are_where_the_names_live(tmp_path: Path) -> None:
    for relative in ("thinktree/search/registry.py", "thinktree/search/mcts/search.py",
                     "thinktree/eval/report.py"):  # fmt: skip
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text('NAME = "mcts"\n')
    assert offenders(tmp_path, NAMES) == ["thinktree/eval/report.py:1"]
