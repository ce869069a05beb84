"""Issue 18's names for stored runs: a run's exploration setting and its *kind*
(greedy, sc, mcts-default, mcts-previous, mcts-old, sc-settle-confident, ...,
with ``-floor`` and ``-prelude`` suffixes), by which its analyses pair runs.
"""

from __future__ import annotations

from typing import Any

from thinktree.eval.report import RunReport
from thinktree.search.config import SearchConfig
from thinktree.search.greedy import GreedySearch
from thinktree.search.identity import FORMER_VALUES, run_identity
from thinktree.search.mcts.search import MCTSSearch
from thinktree.search.options import DEFAULT_K
from thinktree.search.registry import is_strategy, strategy_name
from thinktree.search.sampling import SelfConsistencySearch
from thinktree.store import RunRecord

# The strategies' registered names, with which the kinds begin (sc, sc-prelude,
# mcts-old...): the kinds are search.json's keys, so they follow the registry.
GREEDY = strategy_name(GreedySearch)
SC = strategy_name(SelfConsistencySearch)
MCTS = strategy_name(MCTSSearch)

DEFAULT_MODEL = "qwen2.5-coder-1.5b-instruct"
# The exploration fields issue 18 measures; a run's "setting" is their values.
TUNED = ("temperature", "c_uct", "unvisited_first", "tie_break", "resample",
         "invalid_backup", "agreement", "expand", "repeat_answers")  # fmt: skip
OLD_SETTING = {"temperature": 0.7, "c_uct": 2.0, "unvisited_first": False, "tie_break": "first",
               "resample": 0, "invalid_backup": "local", "agreement": "earlier",
               "expand": "all", "repeat_answers": "drop"}  # fmt: skip


def search_of(run: RunRecord) -> dict[str, Any]:
    """The run's search config with the fields it predates at their legacy values."""
    return {**FORMER_VALUES, **run.config["search"]}


def tuned(search: dict[str, Any]) -> dict[str, Any]:
    """The exploration fields of a stored search, a null temperature resolved to what it
    meant when stored (MCTS's first default)."""
    out = {name: search[name] for name in TUNED}
    if out["temperature"] is None:
        out["temperature"] = MCTSSearch.stored_default_temperature or MCTSSearch.default_temperature
    return out


def setting(run: RunRecord) -> dict[str, Any]:
    return tuned(search_of(run))


def default_setting() -> dict[str, Any]:
    """The exploration fields of an MCTS run made now with SearchConfig's defaults."""
    defaults = SearchConfig(strategy=MCTS)
    return tuned({**defaults.model_dump(), **run_identity(defaults, scored=False)})


def default_k(samples: int) -> int:
    """The k an MCTS run of ``samples`` rollouts made now with the defaults has."""
    return int(run_identity(SearchConfig(strategy=MCTS, samples=samples), scored=False)["k"])


def previous_setting() -> dict[str, Any]:
    """The default before independent rollouts (2026-12-03): lazy expansion at k = 3 with
    the local invalid backup."""
    return {**default_setting(), "invalid_backup": "local"}


def seed_of(run: RunRecord) -> int:
    return int(run.config.get("search", {}).get("seed", 0))


def is_adaptive(run: RunRecord) -> bool:
    return search_of(run)["settle"] != "off"


def mcts_base(run: RunRecord) -> str:
    """What an MCTS run's setting is: default (today's defaults, k included), previous
    (the default before independent rollouts: k = 3, local backup), old (before issue
    18) or other; previous and old at another k than 3 are named by it."""
    search = search_of(run)
    if setting(run) == default_setting():
        if search["k"] == default_k(search["samples"]):
            return "default"
        return f"other-k{search['k']}"
    known = ((previous_setting(), "previous"), (OLD_SETTING, "old"))
    base = next((name for rule, name in known if setting(run) == rule), "other")
    return base + (f"-k{search['k']}" if search["k"] != DEFAULT_K else "")


def kind(run: RunRecord) -> str:
    """greedy, sc, an MCTS run named by :func:`mcts_base` (mcts-default, mcts-previous,
    mcts-previous-k4, mcts-old, mcts-other...), or an adaptive run named by its rule
    (sc-settle-decided, sc-settle-agree, sc-settle-confident, sc-settle-confident-0.88
    where that threshold is no longer the default, mcts-settle-agree-previous...), with
    "-floor" and its step floor where unsure samples were dropped
    (sc-settle-confident-floor0.69) and "-prelude" where its cells ran after the cell
    prelude (sc-prelude...)."""
    search = search_of(run)
    floor = f"-floor{search['step_floor']}" if search["step_floor"] is not None else ""
    prelude = "-prelude" if search["cell_prelude"] else ""
    return base_kind(run) + floor + prelude


def base_kind(run: RunRecord) -> str:
    """:func:`kind` before the cell prelude's suffix."""
    search = search_of(run)
    if is_adaptive(run):
        name = f"{run.strategy}-settle-{search['settle']}"
        # A confident run away from today's threshold is named by its own.
        threshold = search["settle_token_probability"]
        if search["settle"] == "confident" and threshold != SearchConfig().settle_token_probability:
            name += f"-{threshold}"
        # Adaptive mcts is weighed against the setting it stops early.
        return name + (f"-{mcts_base(run)}" if is_mcts(run) else "")
    if not is_mcts(run):
        return run.strategy
    return f"{run.strategy}-{mcts_base(run)}"


def is_mcts(run: RunRecord) -> bool:
    return is_strategy(run.strategy, MCTSSearch)


def is_sc(run: RunRecord) -> bool:
    return is_strategy(run.strategy, SelfConsistencySearch)


def problem_index(problem_id: str) -> int:
    return int(problem_id.rsplit("/", 1)[1])


class KindReport(RunReport):
    """A report whose plot label names its kind (old and default mcts differ)."""

    @property
    def label(self) -> str:
        seed = f" seed {seed_of(self.run)}" if seed_of(self.run) else ""
        return f"{super().label} [{kind(self.run)}]{seed}"
