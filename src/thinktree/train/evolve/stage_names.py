"""The names of a round's per-pool and per-slice stages in its ledger.

A stage's name is its key in the ledger's ``stages`` and, with ``_run``, the key of
its run in the ledger's ``data``. The first pool's search keeps the name
``pool_search`` that ledgers written before several pools use, so those ledgers
resume as they are; every other pool's search is ``pool_search_<pool>``.
"""

from __future__ import annotations

POOL_SEARCH = "pool_search"
POOL_DEV_PREFIXES = ("pool_dev_greedy_", "pool_dev_sc_")
"""The searches on each pool's dev slice (``dev.greedy``, then ``dev.sc``), named
``<prefix><pool>``, in the order a round runs them."""
TEST_DEV_PREFIXES = ("dev_greedy_", "dev_mcts_")
"""The searches on ``dev.also``'s further test slices (``dev.greedy``, then
``dev.mcts``), named ``<prefix><benchmark>``."""

FAMILIES = (
    *((prefix, "dev_mcts") for prefix in TEST_DEV_PREFIXES + POOL_DEV_PREFIXES),
    ("pool_search_", POOL_SEARCH),
)
"""Each per-pool or per-slice family of names (a prefix) and the fixed stage it runs
after, in the order a round runs them."""


def pool_search(index: int, label: str) -> str:
    """The search of pool ``index`` (called ``label``)."""
    return POOL_SEARCH if index == 0 else f"{POOL_SEARCH}_{label}"
