"""The evolve pools' config: several pools and the single-pool spelling it replaces
(which existing configs and ledgers use), names, reaches, and the one-line refusals
that keep every dev slice out of every pool's reach."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
import yaml

from thinktree.models import find_embedded
from thinktree.train.evolve.config import EvolveConfig, PoolConfig, load_evolve_config
from thinktree.train.evolve.pool import Pool
from thinktree.train.evolve.stages import round_stages

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = find_embedded("default")


def test_one_pool_said_either_way_is_the_same_config(tmp_path) -> None:
    single = tmp_path / "single.yaml"
    single.write_text("pool: {benchmark: gsm8k, split: train, size: 300, grow: 100}\n"
                      "pool_run: gsm8k-train-mcts4-f7fc2a\n")  # fmt: skip
    listed = tmp_path / "listed.yaml"
    listed.write_text("pools:\n  - {benchmark: gsm8k, split: train, size: 300, grow: 100,\n"
                      "     run: gsm8k-train-mcts4-f7fc2a}\n")  # fmt: skip
    one, other = load_evolve_config(single), load_evolve_config(listed)
    assert one == other
    assert one.model_dump() == other.model_dump()
    assert one.pools == [one.pool] and one.pool_run == "gsm8k-train-mcts4-f7fc2a"
    assert one.pools[0] == PoolConfig(
        benchmark="gsm8k", split="train", size=300, grow=100, run="gsm8k-train-mcts4-f7fc2a"
    )
    # Written out (a round's ledger), a config says pools only.
    assert "pool" not in one.model_dump(mode="json") and "pool_run" not in one.model_dump()
    assert EvolveConfig.model_validate(one.model_dump(mode="json")) == one


@pytest.mark.parametrize("folder", ["ledgers", "ledgers-ref"])
def test_the_stored_ledgers_configs_load_into_one_pool_with_its_run(folder) -> None:
    for path in sorted((ROOT / "benchmarks" / "evolve" / folder).glob("round-*.json")):
        stored = json.loads(path.read_text())["config"]
        config = EvolveConfig.model_validate(stored)
        assert config.pools == [PoolConfig(**stored["pool"], run=stored["pool_run"])]
        assert [s.name for s in round_stages(0, config)] == [
            "base_policy", "dev_greedy", "dev_mcts", "pool_search",
        ]  # fmt: skip


def test_the_0_5b_recipe_config_keeps_its_one_pool_and_adopted_run() -> None:
    config = load_evolve_config(ROOT / "benchmarks/recipes/evolve/config.yaml")
    assert config.pools == [
        PoolConfig(benchmark="gsm8k", split="train", size=300, grow=100,
                   run="gsm8k-train-mcts4-f7fc2a"),
    ]  # fmt: skip


def evolve_configs() -> list[Path]:
    """Every evolve config a recipe under benchmarks/recipes names."""
    found = []
    for recipe in sorted((ROOT / "benchmarks" / "recipes").glob("*.yaml")):
        evolve = (yaml.safe_load(recipe.read_text()) or {}).get("evolve")
        if evolve:
            found.append(ROOT / evolve["config"])
    return found


def test_every_evolve_config_of_a_recipe_loads() -> None:
    configs = evolve_configs()
    assert ROOT / "benchmarks/recipes/evolve_default/config.yaml" in configs
    for path in configs:
        load_evolve_config(path)


def test_the_1_5b_config_evolves_the_1_5b_on_gsm8k_and_math() -> None:
    config = load_evolve_config(ROOT / "benchmarks/recipes/evolve_default/config.yaml")
    assert (config.policy, config.bootstrap, config.rounds) == ("default", "base", 2)
    assert find_embedded(config.policy) is find_embedded(config.bootstrap) is DEFAULT
    assert [(p.source, p.offset, p.size, p.grow, p.run) for p in config.pools] == [
        ("gsm8k:train", 0, 300, 100, "gsm8k-train-mcts4-f7fc2a"),
        ("math:train", 0, 300, 100, None),
    ]
    assert [(p.dev.offset, p.dev.stop) for p in config.pools if p.dev] == [(7100, 7300),
                                                                          (7000, 7100)]  # fmt: skip
    assert (config.dev.benchmark, config.dev.greedy_limit, config.dev.mcts_limit) == (
        "gsm8k", 100, 0,
    )  # fmt: skip
    assert [(s.benchmark, s.greedy_limit, s.mcts_limit) for s in config.dev.also] == [
        ("math500", 100, 0)
    ]
    assert (config.sft.rank, config.sft.alpha, config.sft.batch_size) == (8, 16.0, 1)
    assert [s.name for s in round_stages(0, config)] == [
        "base_policy", "dev_greedy", "dev_greedy_math500", "pool_dev_greedy_gsm8k",
        "pool_dev_greedy_math", "pool_dev_sc_gsm8k", "pool_dev_sc_math", "pool_search",
        "pool_search_math",
    ]  # fmt: skip


def test_flags_of_the_single_pool_set_the_first_of_several(tmp_path) -> None:
    path = tmp_path / "pools.yaml"
    path.write_text("pools:\n  - {benchmark: gsm8k}\n  - {benchmark: math, offset: 1000}\n")
    config = load_evolve_config(path, {"pool.size": 50, "pool_run": "r0", "pools.1.grow": 7})
    assert [(p.label, p.size, p.grow, p.run) for p in config.pools] == [
        ("gsm8k", 50, 100, "r0"),
        ("math", 300, 7, None),
    ]
    assert (config.pool, config.pool_run) == (config.pools[0], "r0")


def test_pool_names_default_to_the_source() -> None:
    assert PoolConfig(benchmark="gsm8k:train", split=None).label == "gsm8k"
    assert PoolConfig(data="/data/hard-set.jsonl").label == "hard-set"
    assert PoolConfig(benchmark="math", name="math-l5").label == "math-l5"
    assert PoolConfig(benchmark="math", split=None).source == "math:train"
    assert PoolConfig(benchmark="gsm8k:train", split=None).source == "gsm8k:train"
    assert PoolConfig(data="x.jsonl").source == "file:x.jsonl"


def test_reach_is_every_problem_the_rounds_may_search() -> None:
    pool = PoolConfig(offset=10, size=300, grow=100)
    assert (pool.bounds(1), pool.bounds(2), pool.reach(2)) == ((310, 410), (410, 510), (10, 510))


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"pool": {"size": 3}, "pools": [{}]},
            "evolve config: config: Value error, give pools, or pool and pool_run (a single "
            "pool), not both",
        ),
        (
            {"pools": [{"benchmark": "math", "dev": {"offset": 450}}]},
            "evolve config: pools: Value error, the dev slice of pool 'math' "
            "(math:train[450:550]) overlaps what pool 'math' searches over 2 rounds "
            "(math:train[0:500]); move the dev slice out of it or shrink the pool",
        ),
        (
            {"pools": [{"benchmark": "gsm8k"}, {"benchmark": "math", "dev": {"offset": 100}},
                       {"benchmark": "math", "name": "late", "offset": 600}]},
            "evolve config: pools: Value error, the dev slice of pool 'math' "
            "(math:train[100:200]) overlaps what pool 'math' searches over 2 rounds "
            "(math:train[0:500]); move the dev slice out of it or shrink the pool",
        ),
        (
            {"rounds": 5, "pools": [{"benchmark": "math", "dev": {"offset": 2100}},
                                    {"benchmark": "math", "name": "b", "offset": 2000}]},
            "evolve config: pools: Value error, the dev slice of pool 'math' "
            "(math:train[2100:2200]) overlaps what pool 'b' searches over 5 rounds "
            "(math:train[2000:2800]); move the dev slice out of it or shrink the pool",
        ),
        (
            {"pools": [{"benchmark": "math"}, {"benchmark": "math", "name": "more",
                                               "offset": 400}]},
            "evolve config: pools: Value error, pools 'math' (math:train[0:500]) and 'more' "
            "(math:train[400:900]) overlap over 2 rounds; move one's offset past the other's "
            "reach",
        ),
        (
            {"pools": [{"benchmark": "math"}, {"benchmark": "math:train", "offset": 900}]},
            "evolve config: pools: Value error, pools 0 and 1 are both called 'math'; give "
            "one a name",
        ),
        (
            {"pools": [{"benchmark": "math", "name": "a b"}]},
            "evolve config: pools.0: Value error, pool name 'a b': use letters, digits, '_', "
            "'.' or '-' (it names stages)",
        ),
        (
            {"pools": [{}], "pools.3.size": 4},
            "evolve config: pools.3.size: pools has 1 entries, numbered from 0",
        ),
        (
            {"dev.also": [{"benchmark": "math500"}, {"benchmark": "math500", "split": "test"}]},
            "evolve config: dev.also: Value error, two slices of math500; a stage is named by "
            "its benchmark",
        ),
        ({"pools": []}, "evolve config: pools: List should have at least 1 item after "
                        "validation, not 0"),
        ({"pool": {"size": 0}}, "evolve config: pool.size: Input should be greater than or "
                                "equal to 1"),
        ({"pools": [{"size": 0}]}, "evolve config: pools.0.size: Input should be greater "
                                   "than or equal to 1"),
    ],
)  # fmt: skip
def test_bad_pools_are_refused_in_one_line(overrides, message) -> None:
    with pytest.raises(ValueError) as caught:
        load_evolve_config(None, overrides)
    assert str(caught.value) == message


def test_pools_apart_on_other_sources_or_offsets_load() -> None:
    config = load_evolve_config(None, {"pools": [
        {"benchmark": "gsm8k", "dev": {"offset": 500, "size": 10}},
        {"benchmark": "math", "dev": {"offset": 0, "size": 10}, "offset": 10},
        {"benchmark": "math", "name": "later", "offset": 510},
    ]})  # fmt: skip
    assert [p.label for p in config.pools] == ["gsm8k", "math", "later"]


def test_a_dev_slice_past_the_source_says_so(tmp_path) -> None:
    data = tmp_path / "tiny.jsonl"
    data.write_text("".join(json.dumps({"q": f"{n} + 1?", "a": n + 1}) + "\n" for n in range(4)))
    pool = Pool(PoolConfig(benchmark=None, data=str(data), question_field="q", answer_field="a",
                           size=1, grow=1, dev={"offset": 9, "size": 2}), 1)  # fmt: skip
    with pytest.raises(ValueError) as caught:
        pool.dev_problems()
    assert str(caught.value) == (
        "its dev slice takes problems 9..11 of pool 'tiny' but its source has 4; move its dev slice"
    )
    assert [p.id for p in pool.problems(1)] == ["tiny/1"]
    assert pool.search_stage == "pool_search_tiny"


def test_the_stored_run_of_the_1_5b_s_round_0_is_gsm8k_train_mcts4_outcome() -> None:
    path = ROOT / "benchmarks/evolve/gsm8k-train-mcts4-f7fc2a.jsonl.gz"
    with gzip.open(path, "rt") as handle:
        header = json.loads(handle.readline())
        results = sum(1 for _ in handle)
    run = header.get("run", header)
    assert (run["id"], run["model"], run["config"]["scorer"], run["dataset"], results) == (
        "gsm8k-train-mcts4-f7fc2a", "qwen2.5-coder-1.5b-instruct", "outcome", "gsm8k:train",
        300,
    )  # fmt: skip
