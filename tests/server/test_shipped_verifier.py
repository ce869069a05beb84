"""A request that names no scorer gets the verifier the server found shipped with the
model, for the searches that take one (mcts, best_of_n, beam); every other search, a
request naming its scorer, and a server given ``--scorer`` keep what they had."""

from __future__ import annotations

import json

import pytest

from thinktree.reward.base import NullScorer
from thinktree.server import ServerConfig
from thinktree.server.request import parse_body

VERIFIER = "ppm:evolved"


def config(**fields: object) -> ServerConfig:
    scorers = {"none": NullScorer(), VERIFIER: NullScorer()}
    return ServerConfig(scorers=scorers, **fields)  # type: ignore[arg-type]


def scorer_of(limits: ServerConfig, strategy: str, **thinktree: object) -> str:
    body = {"model": f"thinktree-{strategy}", "messages": [{"role": "user", "content": "1+1?"}]}
    if thinktree:
        body["thinktree"] = thinktree
    return parse_body(json.dumps(body).encode(), limits).scorer


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [("mcts", VERIFIER), ("best_of_n", VERIFIER), ("beam", VERIFIER),
     ("sc", "none"), ("greedy", "none"), ("chat_cot", "none")],
)  # fmt: skip
def test_the_searches_that_take_a_verifier_get_the_shipped_one(strategy, expected) -> None:
    assert scorer_of(config(shipped_verifier=VERIFIER), strategy) == expected


def test_a_request_naming_its_scorer_keeps_it() -> None:
    assert scorer_of(config(shipped_verifier=VERIFIER), "mcts", scorer="none") == "none"
    assert scorer_of(config(shipped_verifier=VERIFIER), "sc", scorer=VERIFIER) == VERIFIER


def test_without_a_shipped_verifier_the_server_default_stands() -> None:
    assert scorer_of(config(), "mcts") == "none"
    # --scorer given: every search that names none gets it, as before.
    assert scorer_of(config(default_scorer=VERIFIER), "sc") == VERIFIER


def test_a_shipped_verifier_must_be_loaded() -> None:
    with pytest.raises(ValueError, match="shipped verifier 'ppm:other' is not loaded"):
        config(shipped_verifier="ppm:other")
