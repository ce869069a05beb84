"""Issue 52's figures (``analyses: [evolve_default]``): evolve_default.json, the default
1.5B evolved on gsm8k and MATH train, against itself untouched and against plain chat.

Reads the evolve run's rounds in ``options.main`` (default runs/evolve_default, the
recipe's ``out``): each round's ledger (``round-N/manifest.json``, whose stages'
figures are written as each stage finishes, so a round in progress lists what it
has) and ``summary.json`` (one row a round, rewritten at the end of every sitting),
whose pooled figures on the pools' train-side dev slices choose the round to ship
(:func:`thinktree.eval.metrics.chosen_round`). Round 0 measures the policy before any
training, so its test-side dev runs are ``base``. ``plain_cot`` is the recipe's own
runs named by ``options.plain_cot`` (test slice -> arm name), found whole in the store
as the summary finds its arms. A figure not measured yet is null. Nothing is re-run;
the files are plain JSON, read here directly (``eval`` does not import ``train``).

Beside the issue's keys: per round each slice's problems and tokens a problem, its
sign test against the base (``vs_base``) and its train-side figures (pooled and per
pool); ``chosen_round`` and its rule, ``complete`` (every round of the config has its
train-side figures, so the choice is final) and ``targets``, each met or not.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from thinktree.eval.bench.analyses.evolve import read_json, summary_rows
from thinktree.eval.bench.context import ArmReport, ReportContext
from thinktree.eval.metrics import chosen_round, pairwise
from thinktree.store import RunStore

SLICES = ("gsm8k", "math500")
"""The test slices, by benchmark: each round's greedy on gsm8k test[:100] and math500[:100]."""
PLAIN_COT_ARMS = {"gsm8k": "plain chat gsm8k", "math500": "plain chat math500"}
"""The recipe's plain-chat runs by test slice (``options.plain_cot`` overrides)."""
POOL_DEV = {"dev_greedy": "pool_dev_greedy_", "dev_sc": "pool_dev_sc_"}
"""A round's stages on each pool's train-side dev slice, by search (``<prefix><pool>``)."""
# (measured key, slice, threshold): gains in accuracy over the base, then in-format shares.
GAIN_TARGETS = (("gsm8k_greedy_gain", "gsm8k", 0.08), ("math500_greedy_gain", "math500", 0.10))
FORMAT_TARGETS = (("gsm8k_in_format", "gsm8k", 0.95), ("math500_in_format", "math500", 0.85))
RULE = (
    "the round with the best sum of greedy and sc@4 accuracy on the pools' train-side dev "
    "slices pooled ships, ties to the earlier round; round 0 chosen ships nothing. "
    "dev_train_side is that sum halved (0..1, the same order)"
)
TARGETS_NOTE = (
    "measured on the chosen round (round 0, the base itself, while no trained round is "
    "chosen); gains are accuracy differences (0.08 = 8 points) with the sign test on the "
    "slice's problems"
)
COMMAND = (
    "thinktree bench benchmarks/recipes/evolve_default.yaml [--max-minutes M]; "
    "thinktree bench benchmarks/recipes/evolve_default.yaml --report-only"
)


def ledgers(directory: Path) -> dict[int, dict[str, Any]]:
    """Every round's ledger in ``directory``, by round."""
    found = (read_json(path) for path in directory.glob("round-*/manifest.json"))
    return {manifest["round"]: manifest for manifest in found}


def benchmark_label(benchmark: str) -> str:
    """A benchmark's name without its split (``gsm8k:test`` -> ``gsm8k``)."""
    return benchmark.partition(":")[0]


def greedy_stages(config: Mapping[str, Any]) -> dict[str, str]:
    """Each test slice's greedy stage in a round's ledger, by benchmark: ``dev_greedy``
    for the dev slice, ``dev_greedy_<benchmark>`` for each of ``dev.also``."""
    dev = config.get("dev") or {}
    stages = {benchmark_label(dev.get("benchmark", "gsm8k")): "dev_greedy"}
    for extra in dev.get("also") or []:
        label = benchmark_label(extra["benchmark"])
        stages[label] = f"dev_greedy_{label}"
    return stages


def greedy_figures(manifest: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Each test slice's greedy figures in a round's ledger ({} where not run yet)."""
    stages, names = manifest.get("stages") or {}, greedy_stages(manifest.get("config") or {})
    return {name: dict(stages.get(names.get(name, ""), {})) for name in SLICES}


def accuracies(test: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The schema's figures of the test slices: greedy accuracy, then the share in format."""
    return {f"{name}_greedy": test[name].get("accuracy") for name in SLICES} | {
        f"{name}_in_format": test[name].get("in_format") for name in SLICES
    }


def sizes(test: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Problems and generated tokens a problem of each test slice's greedy run."""
    return {f"{name}_n": test[name].get("n") for name in SLICES} | {
        f"{name}_tokens_per_problem": test[name].get("tokens_per_problem") for name in SLICES
    }


def sign_test(store: RunStore, run: str | None, base_run: str | None) -> dict[str, Any] | None:
    """``run`` against ``base_run`` on the problems both graded (None: a run is missing)."""
    if run is None or base_run is None:
        return None
    pair = pairwise(store.results(run), store.results(base_run))
    if not pair["common"]:
        return None  # not in this store (its export not imported): no figure
    return {"won": pair["won"], "lost": pair["lost"], "p": pair["sign_test_p"]}


def pool_names(
    manifests: Iterable[Mapping[str, Any]], rows: Iterable[Mapping[str, Any]]
) -> list[str]:
    """The pools with a train-side dev slice, by the names of their stages in any round."""
    stages = [name for m in manifests for name in m.get("stages") or {}]
    stages += [name for row in rows for name in row.get("pool_dev") or {}]
    return sorted(
        {name.removeprefix(p) for name in stages for p in POOL_DEV.values() if name.startswith(p)}
    )


def train_side(
    row: Mapping[str, Any], stages: Mapping[str, Any], pools: Sequence[str]
) -> dict[str, Any]:
    """A round's train-side dev figures: pooled over the pools (the summary's, which
    choose the round) and each pool's own (its ledger's)."""
    return {
        "dev_greedy": row.get("pool_dev_greedy"),
        "dev_sc": row.get("pool_dev_sc"),
        "n": row.get("pool_dev_greedy_n"),
        "pools": {
            pool: {
                search: (stages.get(prefix + pool) or {}).get("accuracy")
                for search, prefix in POOL_DEV.items()
            }
            for pool in pools
        },
    }


def train_side_score(row: Mapping[str, Any]) -> float | None:
    greedy, sc = row.get("pool_dev_greedy"), row.get("pool_dev_sc")
    return None if greedy is None or sc is None else (greedy + sc) / 2


def round_entry(
    index: int,
    manifest: Mapping[str, Any],
    row: Mapping[str, Any],
    base: Mapping[str, Mapping[str, Any]],
    pools: Sequence[str],
    store: RunStore,
) -> dict[str, Any]:
    """One round's figures (None where not measured yet); ``base``: round 0's test side."""
    test = greedy_figures(manifest)
    sft = (manifest.get("stages") or {}).get("sft") or {}
    entry: dict[str, Any] = {
        "round": index,
        **accuracies(test),
        "dev_train_side": train_side_score(row),
        "sft_tokens": sft.get("sft_tokens"),
        "sft_minutes": sft.get("sft_minutes"),
        **sizes(test),
        "vs_base": None,
    }
    if index > 0:
        entry["vs_base"] = {
            name: sign_test(store, test[name].get("run_id"), base[name].get("run_id"))
            for name in SLICES
        }
    entry["train_side"] = train_side(row, manifest.get("stages") or {}, pools)
    return entry


def one_run(reports: Sequence[ArmReport], arm: str) -> ArmReport | None:
    """The recipe's run of ``arm`` found whole in the store (None: not yet)."""
    runs = [rep for rep in reports if rep.arm == arm]
    if len(runs) > 1:
        raise ValueError(f"arm {arm!r} has {len(runs)} runs; plain_cot reads one run a slice")
    return runs[0] if runs else None


def plain_cot(reports: Sequence[ArmReport], arms: Mapping[str, str]) -> dict[str, Any]:
    """The plain-chat runs' figures by test slice (None: the run is not stored whole)."""
    found = {name: one_run(reports, arms[name]) for name in SLICES}
    out: dict[str, Any] = {
        f"{name}_greedy": rep and rep.summary["accuracy"] for name, rep in found.items()
    }
    for name, rep in found.items():
        figures = rep.summary if rep else {}
        n = figures.get("n")
        out |= {
            f"{name}_in_format": figures["answered"] / n if n else None,
            f"{name}_n": n,
            f"{name}_tokens_per_problem": figures.get("tokens_per_problem"),
            f"{name}_run": rep and rep.run.id,
        }
    return out


def targets(rounds: Sequence[Mapping[str, Any]], chosen: int | None) -> dict[str, Any]:
    """Issue 52's targets on the chosen round (``met`` None while not measured)."""
    entry = next((r for r in rounds if r["round"] == chosen), None)
    base = next((r for r in rounds if r["round"] == 0), None)
    out: dict[str, Any] = {}
    for key, name, threshold in GAIN_TARGETS:
        now, then = (entry or {}).get(f"{name}_greedy"), (base or {}).get(f"{name}_greedy")
        # Rounded: 0.37 - 0.29 is 0.0799... in floats, and 8 points are 8 points.
        gain = None if now is None or then is None else round(now - then, 9)
        out[key] = {
            "round": chosen, "threshold": threshold, "measured": gain,
            "met": None if gain is None else gain >= threshold,
            "sign_test": ((entry or {}).get("vs_base") or {}).get(name),
        }  # fmt: skip
    for key, name, threshold in FORMAT_TARGETS:
        share = (entry or {}).get(f"{name}_in_format")
        out[key] = {"round": chosen, "threshold": threshold, "measured": share,
                    "met": None if share is None else share >= threshold}  # fmt: skip
    out["note"] = TARGETS_NOTE
    return out


def evolve_default(ctx: ReportContext) -> dict[str, Any]:
    """evolve_default.json's every key. Before round 0 begins (a first sitting stopped
    in the plain-chat runs) every round figure is null and ``rounds`` is empty."""
    main = ctx.path_option("main", "runs/evolve_default")
    manifests = ledgers(main)
    rows = {row["round"]: row for row in summary_rows(main) or []}
    base = greedy_figures(manifests.get(0, {}))
    pools = pool_names(manifests.values(), rows.values())
    rounds = [
        round_entry(index, manifests.get(index, {}), rows.get(index, {}), base, pools, ctx.store)
        for index in sorted({*manifests, *rows})
    ]
    chosen = chosen_round(list(rows.values()))
    planned = (manifests.get(0, {}).get("config") or {}).get("rounds")
    measured = {r["round"] for r in rounds if r["dev_train_side"] is not None}
    return {
        "base": accuracies(base) | sizes(base),
        "plain_cot": plain_cot(ctx.reports, PLAIN_COT_ARMS | ctx.option("plain_cot", {})),
        "rounds": rounds,
        # Round 0 is the base itself: when it is chosen, nothing ships.
        "shipped_round": chosen if chosen else None,
        "chosen_round": chosen,
        "choosing_rule": RULE,
        "complete": planned is not None and measured >= set(range(planned + 1)),
        "targets": targets(rounds, chosen),
        "command": COMMAND,
    }  # fmt: skip
