"""``thinktree evolve``: self-evolution rounds (rStar-Math's loop, scaled to a CPU).

Round 0: the bootstrap model (default: the 1.5B, few-shot) runs MCTS with
outcome rewards on the pool's first problems; the policy being evolved (the
0.5B) is measured as it is, before any training.

Round r ≥ 1, in order, each stage recorded in ``OUT/round-r/manifest.json``:

1. ``sft_data``: per problem the top trajectories by mean Q, then minimum Q,
   correct and error-free, from the pool searches of all earlier rounds
   (:mod:`thinktree.train.sft.data`), plus converted reference solutions when
   ``reference.enabled``;
2. ``sft``: LoRA fine-tuning of the policy from its base on all of that data
   (:mod:`thinktree.train.sft.training`), zero-shot format, prompt and sandbox outputs
   masked, 2 epochs, resumable by checkpoints;
3. ``export``: the adapter as a llama.cpp GGUF adapter over the unchanged
   base file, and ``policy.json``, so ``--model OUT/round-r`` serves it;
4. ``parity``: teacher-forced next-token agreement of the PEFT model and
   llama.cpp with the adapter on held-out trajectories, against llama.cpp
   without it;
5. ``ppm``: PPM_r trained on the pairs of all trees so far; its pairwise
   accuracy on the pairs of the newest search's new problems is measured by a
   PPM fitted without them (``ppm_pairwise_new``);
6. ``dev_greedy`` / ``dev_mcts``: greedy accuracy and MCTS accuracy of
   policy_r (with PPM_r) on held-out test slices, stored as ordinary runs;
7. ``pool_search``: policy_r searches the next ``pool.grow`` new problems with
   PPM_r's step values and outcome rewards at the answers (``ppm+outcome``),
   giving the next round its data (skipped in the last round).

Rerunning the same command continues where it stopped: finished stages are
read from the ledger, searches resume from the run store, SFT from its newest
complete checkpoint. ``max_minutes`` stops cleanly between (or inside) stages.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from thinktree.api import Runtime, open_runtime
from thinktree.engines.factory import EngineConfig
from thinktree.eval.fanout import (
    EngineRecipe,
    SolverHandle,
    WorkerRecipe,
    import_ray,
    ray_solver,
)
from thinktree.eval.harness import Evaluation, LocalSolver
from thinktree.eval.metrics import pairwise
from thinktree.models import find_embedded
from thinktree.models.policy import PPM_SUBDIR, Policy, write_policy
from thinktree.models.resolve import resolve_model
from thinktree.problems import Problem, dataset_hash, load_source
from thinktree.reward.base import NullScorer, Scorer
from thinktree.reward.ppm import is_trained_ppm
from thinktree.reward.registry import load_scorer, spec_is_scored
from thinktree.search import SearchConfig
from thinktree.search.registry import default_slots, default_window, resolved
from thinktree.store import ResultRow, RunStore
from thinktree.train.evolve.config import EvolveConfig
from thinktree.train.evolve.ledger import MANIFEST_FILE, RoundLedger
from thinktree.train.sft.data import (
    Trajectory,
    read_trajectories,
    search_trajectories,
    select_top,
    with_references,
    write_trajectories,
)
from thinktree.train.sft.training import ADAPTER_DIR, SFTReport, is_holdout, train_policy_lora

FEATURE_SELECTION = ("gsm8k:train", 100)
"""The default PPM's features were chosen on pairs of gsm8k train[:100] (issue 6,
BENCHMARKS.md); on that pool, round 1 measures its PPM on the other problems only."""

ADAPTER_FILE = "adapter.gguf"


class EvolveStopped(Exception):
    """The time budget ran out; everything finished so far is stored."""


class Reporter(Protocol):
    def stage(self, round_index: int, name: str, total: int | None) -> None: ...

    def advance(self, done: int, total: int | None = None) -> None: ...

    def note(self, text: str) -> None: ...


class QuietReporter:
    def stage(self, round_index: int, name: str, total: int | None) -> None:
        pass

    def advance(self, done: int, total: int | None = None) -> None:
        pass

    def note(self, text: str) -> None:
        pass


RuntimeOpener = Callable[[str, SearchConfig], Runtime]
RecipeMaker = Callable[[str, SearchConfig, str | None], WorkerRecipe]
"""What a Ray worker builds for a search stage: (model spec, search, scorer spec)."""


@dataclass(frozen=True)
class EvolvePaths:
    out: Path

    def round_dir(self, index: int) -> Path:
        return self.out / f"round-{index}"

    def ppm_dir(self, index: int) -> Path:
        return self.round_dir(index) / PPM_SUBDIR

    def sft_dir(self, index: int) -> Path:
        return self.round_dir(index) / "sft"

    def peft_dir(self, index: int) -> Path:
        """Where the round's SFT leaves its PEFT adapter (what export and parity read)."""
        return self.sft_dir(index) / ADAPTER_DIR

    @property
    def references(self) -> Path:
        return self.out / "references.jsonl"


class Evolution:
    """One evolve directory: its config, store and rounds."""

    def __init__(
        self,
        config: EvolveConfig,
        out: str | Path,
        reporter: Reporter | None = None,
        runtime_opener: RuntimeOpener | None = None,
        worker_recipe: RecipeMaker | None = None,
    ) -> None:
        self.config = config
        self.paths = EvolvePaths(Path(out))
        self.paths.out.mkdir(parents=True, exist_ok=True)
        self.reporter = reporter or QuietReporter()
        self.open_runtime = runtime_opener or self._default_runtime
        self.worker_recipe = worker_recipe or self._default_recipe
        self.store_path = Path(config.store) if config.store else self.paths.out / "runs.db"
        self.deadline = (
            None if config.max_minutes is None else time.monotonic() + 60 * config.max_minutes
        )
        policy = find_embedded(config.policy)
        if policy is None:
            raise ValueError(
                f"policy {config.policy!r} is not an embedded model; the evolved policy's LoRA "
                "is trained over an embedded model's GGUF (e.g. fast)"
            )
        self.policy_model = policy
        if config.fanout.enabled:
            import_ray()  # said now, not after hours of training
        self._pool: tuple[list[Problem], str, str] | None = None

    # -- the loop ------------------------------------------------------------------------

    def run(self) -> list[dict[str, Any]]:
        """Run (or resume) rounds 0..R; returns every round's figures."""
        with RunStore(self.store_path) as store:
            self.store = store
            for index in range(self.config.rounds + 1):
                self._round(index)
            return [self.round_figures(i) for i in range(self.config.rounds + 1)]

    def summary(self) -> list[dict[str, Any]]:
        """Every round's figures as stored so far (None where a stage has not run)."""
        with RunStore(self.store_path) as store:
            self.store = store
            return [self.round_figures(i) for i in range(self.config.rounds + 1)]

    def _round(self, index: int) -> None:
        ledger = RoundLedger.open(
            self.paths.round_dir(index),
            index,
            {
                "parent": index - 1 if index > 0 else None,
                "config": self.config.model_dump(mode="json"),
                "policy_base": self.policy_model.name,
                "base_model_sha256": self.policy_model.sha256,
            },
        )
        if index == 0:
            self._base_policy(ledger)
        else:
            trajectories = self._sft_data(index, ledger)
            self._sft(index, ledger, trajectories)
            self._export(index, ledger)
            self._parity(index, ledger, trajectories)
            self._ppm(index, ledger)
        self._dev(index, ledger)
        if index == 0 or index < self.config.rounds:
            self._pool_search(index, ledger)

    # -- helpers -------------------------------------------------------------------------

    def _check_time(self) -> None:
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise EvolveStopped("time budget reached")

    def _minutes_left(self) -> float | None:
        if self.deadline is None:
            return None
        return max(0.0, (self.deadline - time.monotonic()) / 60)

    def _engine_config(self, spec: str, search: SearchConfig) -> EngineConfig:
        engine = self.config.engine
        slots = engine.parallel or default_slots(search)
        return EngineConfig(model=spec, parallel=slots, threads=engine.threads)

    def _default_runtime(self, spec: str, search: SearchConfig) -> Runtime:
        return open_runtime(self._engine_config(spec, search))

    def _default_recipe(
        self, spec: str, search: SearchConfig, scorer_spec: str | None
    ) -> WorkerRecipe:
        return EngineRecipe(self._engine_config(spec, search), scorer_spec)

    @contextmanager
    def _searcher(
        self, spec: str, search: SearchConfig, scorer_spec: str | None
    ) -> Iterator[SolverHandle]:
        """What a search stage searches with: this process, or Ray workers (``fanout``)."""
        fanout = self.config.fanout
        if fanout.enabled:
            recipe = self.worker_recipe(spec, search, scorer_spec)
            threads = self.config.engine.threads
            with ray_solver(recipe, search, fanout, threads=threads) as solver:
                yield SolverHandle(
                    solver, solver.model_id, solver.scorer_id, solver.tokens_per_second
                )
            return
        scorer: Scorer
        scorer, scorer_id = load_scorer(scorer_spec) if scorer_spec else (NullScorer(), "none")
        with closing(scorer), self.open_runtime(spec, search) as runtime:
            yield SolverHandle(
                LocalSolver(runtime.context(search, scorer)),
                runtime.model_id(),
                scorer_id,
                runtime.tokens_per_second_guess(),
            )

    def policy_spec(self, index: int) -> str:
        """What ``--model`` names policy_r: the round's directory (policy.json)."""
        return str(self.paths.round_dir(index))

    def ppm_spec(self, index: int, with_outcome: bool = False) -> str | None:
        """``ppm:OUT/round-r/ppm`` once PPM_r exists (round 0 and rounds whose trees
        held too few pairs have none)."""
        directory = self.paths.ppm_dir(index)
        if index == 0 or not is_trained_ppm(directory):
            return "outcome" if with_outcome else None
        prefix = "ppm+outcome:" if with_outcome else "ppm:"
        return prefix + str(directory)

    def pool(self) -> tuple[list[Problem], str, str]:
        """(every problem of the pool source, dataset name, dataset hash)."""
        if self._pool is None:
            p = self.config.pool
            problems, name = load_source(
                p.benchmark if p.data is None else None,
                p.split if p.data is None else None,
                p.data,
                p.question_field,
                p.answer_field,
                p.id_field,
            )
            self._pool = (problems, name, dataset_hash(problems))
        return self._pool

    def pool_problems(self, index: int) -> list[Problem]:
        problems, _, _ = self.pool()
        start, stop = self.config.pool.bounds(index)
        chosen = problems[start:stop]
        if not chosen:
            raise ValueError(
                f"round {index} would search problems {start}..{stop} but the pool source has "
                f"{len(problems)}; lower pool.size or pool.grow"
            )
        return chosen

    def pool_run_ids(self, before: int) -> list[str]:
        """Run ids of the pool searches of rounds < ``before`` (finished ones)."""
        ids = []
        for i in range(before):
            ledger = self._ledger(i)
            if ledger is None or not ledger.done("pool_search"):
                raise ValueError(f"round {i}'s pool search is not finished")
            ids.append(ledger.figures("pool_search")["run_id"])
        return ids

    def _ledger(self, index: int) -> RoundLedger | None:
        directory = self.paths.round_dir(index)
        if not (directory / "manifest.json").is_file():
            return None
        return RoundLedger.open(directory, index, {})

    def _evaluate(
        self,
        index: int,
        stage: str,
        ledger: RoundLedger,
        problems: Sequence[Problem],
        dataset: str,
        data_hash: str,
        model_spec: str,
        search: SearchConfig,
        scorer_spec: str | None,
        adopt: str | None = None,
    ) -> list[ResultRow]:
        """Run (or resume) one stored evaluation; the stage is finished when it is whole."""
        self._check_time()
        search = resolved(search, scored=spec_is_scored(scorer_spec))
        self.reporter.stage(index, stage, len(problems))
        with self._searcher(model_spec, search, scorer_spec) as searcher:
            run_id = adopt or ledger.data["data"].get(f"{stage}_run")
            evaluation = Evaluation(
                problems,
                dataset=dataset,
                dataset_hash=data_hash,
                solver=searcher.solver,
                store=self.store,
                model_id=searcher.model_id,
                scorer_id=searcher.scorer_id,
                run_id=run_id,
                tokens_per_second=searcher.tokens_per_second,
            )
            ledger.record_data(f"{stage}_run", evaluation.run.id)
            plan = evaluation.plan()
            done = plan.done
            self.reporter.advance(done, len(problems))

            def on_result(row: ResultRow) -> None:
                nonlocal done
                done += 1
                self.reporter.advance(done, len(problems))

            slots = self.config.engine.parallel or default_slots(search)
            outcome = evaluation.run_all(
                window=self.config.engine.window or default_window(search, slots),
                max_minutes=self._minutes_left(),
                on_result=on_result,
            )
        if outcome.stopped:
            raise EvolveStopped(f"round {index} {stage} stopped at the time budget")
        summary = outcome.summary
        answered = sum(1 for r in outcome.rows if r.answer is not None)
        ledger.finish(
            stage,
            {
                "run_id": outcome.run.id,
                "n": summary["graded"],
                "accuracy": summary["accuracy"],
                "in_format": answered / len(outcome.rows) if outcome.rows else None,
                "tokens_per_problem": summary["tokens_per_problem"],
                "seconds_per_problem": summary["seconds_per_problem"],
            },
        )
        return outcome.rows

    # -- stages --------------------------------------------------------------------------

    def _base_policy(self, ledger: RoundLedger) -> None:
        """Round 0's policy: the base model, few-shot, no adapter."""
        directory = self.paths.round_dir(0)
        if (directory / "policy.json").is_file():
            return
        write_policy(
            Policy(
                directory=directory,
                name="round-0",
                base=self.policy_model.name,
                base_sha256=self.policy_model.sha256,
                adapter=None,
                adapter_sha256=None,
                prompt_style="few-shot",
                provenance={"round": 0, "note": "the base policy before any training"},
            )
        )

    def _pool_search(self, index: int, ledger: RoundLedger) -> None:
        if ledger.done("pool_search"):
            return
        problems = self.pool_problems(index)
        _, dataset, data_hash = self.pool()
        if index == 0:
            spec, search, scorer = self.config.bootstrap, self.config.bootstrap_search, "outcome"
            adopt = self.config.pool_run
        else:
            spec, search = self.policy_spec(index), self.config.evolved_search
            scorer, adopt = self.ppm_spec(index, with_outcome=True), None
        self._evaluate(
            index, "pool_search", ledger, problems, dataset, data_hash, spec, search, scorer,
            adopt,
        )  # fmt: skip

    def _dev(self, index: int, ledger: RoundLedger) -> None:
        dev = self.config.dev
        problems, dataset = load_source(dev.benchmark, dev.split)
        data_hash = dataset_hash(problems)
        spec = self.policy_spec(index)
        if dev.greedy_limit and not ledger.done("dev_greedy"):
            self._evaluate(
                index, "dev_greedy", ledger, problems[: dev.greedy_limit], dataset, data_hash,
                spec, dev.greedy, None,
            )  # fmt: skip
        if dev.mcts_limit and not ledger.done("dev_mcts"):
            self._evaluate(
                index, "dev_mcts", ledger, problems[: dev.mcts_limit], dataset, data_hash,
                spec, dev.mcts, self.ppm_spec(index),
            )  # fmt: skip

    def _sft_data(self, index: int, ledger: RoundLedger) -> list[Trajectory]:
        path = self.paths.round_dir(index) / "sft.jsonl"
        if ledger.done("sft_data") and path.is_file():
            return read_trajectories(path)
        self._check_time()
        self.reporter.stage(index, "sft_data", None)
        runs = self.pool_run_ids(index)
        candidates = search_trajectories(self.store, runs)
        selected = select_top(candidates, self.config.per_problem)
        from_search = len(selected)
        if self.config.reference.enabled:
            selected = with_references(selected, self._references())
        digest = write_trajectories(selected, path)
        ledger.record_data("sft_sha256", digest)
        ledger.finish(
            "sft_data",
            {
                "runs": runs,
                "candidates": len(candidates),
                "trajectories": len(selected),
                "from_search": from_search,
                "from_reference": len(selected) - from_search,
                "problems": len({t.problem_id for t in selected}),
                "sha256": digest,
            },
        )
        return selected

    def _references(self) -> list[Trajectory]:
        """Converted reference solutions of the pool source (cached in OUT)."""
        path = self.paths.references
        if path.is_file():
            return read_trajectories(path)
        from thinktree.grading import Grader
        from thinktree.sandbox import Sandbox, SandboxConfig
        from thinktree.search.judge import GraderJudge
        from thinktree.train.sft.reference import convert_references

        problems, _, _ = self.pool()
        start = self.config.pool.offset
        count = self.config.reference.problems or self.config.pool.size
        chosen = problems[start : start + count]
        self.reporter.stage(0, "references", len(chosen))
        with Sandbox(SandboxConfig(workers=2)) as sandbox, Grader(workers=1) as grader:
            report = convert_references(
                chosen, sandbox, GraderJudge(grader), progress=self.reporter.advance
            )
        trajectories = [
            Trajectory(p.id, p.question, tuple(report.trajectories[p.id]), None, None, "reference")
            for p in chosen
            if p.id in report.trajectories
        ]
        write_trajectories(trajectories, path)
        return trajectories

    def _sft(self, index: int, ledger: RoundLedger, trajectories: list[Trajectory]) -> None:
        if ledger.done("sft"):
            return
        self._check_time()
        self.reporter.stage(index, "sft", None)
        report = train_policy_lora(
            resolve_model(self.policy_model.name).path,
            trajectories,
            self.paths.sft_dir(index),
            self.config.sft,
            progress=lambda _stage, done, total: self.reporter.advance(done, total),
            deadline=self.deadline,
        )
        if report is None:
            raise EvolveStopped(f"round {index} sft stopped at a checkpoint")
        ledger.finish("sft", _sft_figures(report))

    def _export(self, index: int, ledger: RoundLedger) -> None:
        directory = self.paths.round_dir(index)
        if ledger.done("export") and (directory / "policy.json").is_file():
            return
        peft = self.paths.peft_dir(index)
        if not peft.is_dir():
            # The ledger travelled to a machine without the round's weights.
            raise ValueError(
                f"round {index}'s trained adapter is not on this machine ({peft} is missing); "
                f"copy {directory} here, or delete its {MANIFEST_FILE} to train the round again"
            )
        self._check_time()
        self.reporter.stage(index, "export", None)
        from thinktree.models.assemble import sha256_file
        from thinktree.train.export.lora_gguf import export_lora_gguf

        base = resolve_model(self.policy_model.name)
        adapter = export_lora_gguf(peft, base.path, directory / ADAPTER_FILE)
        digest = sha256_file(adapter)
        sft = ledger.figures("sft")
        write_policy(
            Policy(
                directory=directory,
                name=f"round-{index}",
                base=self.policy_model.name,
                base_sha256=self.policy_model.sha256,
                adapter=adapter,
                adapter_sha256=digest,
                prompt_style="zero-shot",
                provenance={
                    "round": index,
                    "sft_trajectories": ledger.figures("sft_data").get("trajectories"),
                    "sft_sha256": ledger.data["data"].get("sft_sha256"),
                    "sft_tokens": sft.get("sft_tokens"),
                },
            )
        )
        ledger.finish(
            "export",
            {
                "adapter": ADAPTER_FILE,
                "adapter_sha256": digest,
                "adapter_bytes": adapter.stat().st_size,
            },
        )

    def _parity(self, index: int, ledger: RoundLedger, trajectories: list[Trajectory]) -> None:
        if ledger.done("parity"):
            return
        self._check_time()
        self.reporter.stage(index, "parity", None)
        from dataclasses import asdict

        from thinktree.train.export.hf_gguf import load_tokenizer_from_gguf
        from thinktree.train.export.parity import measure_adapter_parity
        from thinktree.train.sft.format import segments
        from thinktree.train.sft.training import chat_renderer

        fraction = self.config.sft.holdout_fraction
        holdout = [t for t in trajectories if is_holdout(t.problem_id, fraction)]
        chosen = holdout or trajectories[-4:]
        base = resolve_model(self.policy_model.name).path
        render = chat_renderer(load_tokenizer_from_gguf(base, self.policy_model.sha256))
        texts = []
        for t in chosen:
            parts = segments(t.question, t.steps, render)
            texts.append((parts[0].text, "".join(p.text for p in parts[1:])))
        directory = self.paths.round_dir(index)
        report = measure_adapter_parity(
            base,
            self.paths.peft_dir(index),
            directory / ADAPTER_FILE,
            texts,
            self.config.parity_positions,
            threads=self.config.engine.threads,
        )
        # Held-out trajectories were never trained on; without any (a tiny pool)
        # the last training ones stand in, and the ledger says so.
        ledger.finish("parity", {**asdict(report), "held_out": bool(holdout)})

    def _ppm(self, index: int, ledger: RoundLedger) -> None:
        directory = self.paths.ppm_dir(index)
        if ledger.done("ppm") and is_trained_ppm(directory):
            return
        self._check_time()
        self.reporter.stage(index, "ppm", None)
        from thinktree.train.ppm.round import train_round_ppm

        runs = self.pool_run_ids(index)
        known = self._known_problem_ids(index)
        try:
            figures = train_round_ppm(self.store, runs, directory, self.config.ppm, known)
        except ValueError as exc:
            # Too few pairs to fit and cross-validate a head: the round goes on
            # without a PPM (its searches use outcome rewards / agreement only).
            self.reporter.note(f"round {index}: no PPM ({exc})")
            figures = {"pairs": None, "skipped": str(exc)}
        ledger.finish("ppm", figures)

    def _known_problem_ids(self, index: int) -> set[str]:
        """Problems an earlier choice saw: the searches before the newest one, and (in
        round 1) the problems the default PPM's features were selected on."""
        problems, dataset, _ = self.pool()
        seen_by_features = index == 1 and dataset == FEATURE_SELECTION[0]
        known = {p.id for p in problems[: FEATURE_SELECTION[1]]} if seen_by_features else set()
        for run_id in self.pool_run_ids(index - 1):
            known |= self.store.done_problem_ids(run_id)
        return known

    # -- figures -------------------------------------------------------------------------

    def round_figures(self, index: int) -> dict[str, Any]:
        """One row of the summary (None where a stage has not run)."""
        ledger = self._ledger(index)
        stages: dict[str, Any] = ledger.data["stages"] if ledger else {}
        get = lambda stage, key: stages.get(stage, {}).get(key)  # noqa: E731
        row: dict[str, Any] = {
            "round": index,
            "pool_size": get("pool_search", "n"),
            "pool_accuracy": get("pool_search", "accuracy"),
            "trajectories": get("sft_data", "trajectories"),
            "pairs": get("ppm", "pairs"),
            "sft_tokens": get("sft", "sft_tokens"),
            "sft_minutes": get("sft", "sft_minutes"),
            "sft_tokens_per_second": get("sft", "tokens_per_second"),
            "holdout_loss_before": get("sft", "holdout_loss_before"),
            "holdout_loss_after": get("sft", "holdout_loss_after"),
            "ppm_pairwise_new": get("ppm", "pairwise_accuracy_new"),
            "dev_greedy": get("dev_greedy", "accuracy"),
            "dev_greedy_n": get("dev_greedy", "n"),
            "dev_greedy_in_format": get("dev_greedy", "in_format"),
            "dev_mcts": get("dev_mcts", "accuracy"),
            "dev_mcts_n": get("dev_mcts", "n"),
            "parity": {k: get("parity", k) for k in ("agree", "base_agree", "positions")},
        }
        if index > 0 and "dev_greedy" in stages:
            base = self._ledger(0)
            if base is not None and base.done("dev_greedy"):
                row["dev_greedy_vs_round0"] = self.compare_runs(
                    base.figures("dev_greedy")["run_id"], stages["dev_greedy"]["run_id"]
                )
        return row

    def compare_runs(self, base_run: str, run: str) -> dict[str, Any]:
        """Problems won and lost by ``run`` against ``base_run``, with the sign test."""
        return pairwise(self.store.results(run), self.store.results(base_run))


def _sft_figures(report: SFTReport) -> dict[str, Any]:
    return {
        **report.to_dict(),
        "sft_tokens": report.tokens_seen,
        "sft_minutes": report.train_seconds / 60,
    }
