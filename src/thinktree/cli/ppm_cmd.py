"""`thinktree ppm pairs | train | score`: the process preference model."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from thinktree.cli.app import app
from thinktree.cli.errors import fail, user_errors
from thinktree.cli.job_options import (
    StoreOpt,
    feature_options,
    head_options,
    lm_ppm_options,
    pairs_export_options,
    ppm_data_options,
    ppm_score_options,
    ppm_train_options,
    train_json_options,
)
from thinktree.cli.options import ConfigFields
from thinktree.cli.output_configs import wants_json
from thinktree.store import DEFAULT_STORE
from thinktree.train.ppm.train_config import FEATURE_PPM_FIELDS, PPMTrainConfig

if TYPE_CHECKING:
    from thinktree.train.ppm.lm.config import LMPPMConfig
    from thinktree.train.ppm.pairs import PreferencePair

ppm_app = typer.Typer(
    help="Process preference model: pairs, training, scoring.", no_args_is_help=True
)
app.add_typer(ppm_app, name="ppm")


@contextmanager
def _train_extra() -> Iterator[None]:
    """Imports of training code: a missing torch, transformers or peft is a one-line
    error saying which extra to install."""
    try:
        yield
    except ImportError as exc:
        raise ValueError(
            f"training needs the train extra: pip install 'thinktree[train]' ({exc})"
        ) from exc


def _guard(action):
    with user_errors():
        return action()


@ppm_app.command("pairs")
@pairs_export_options
def pairs(
    exporting: ConfigFields | None = None,
    store: StoreOpt = DEFAULT_STORE,
) -> None:
    """Export preference pairs: step and final pairs from stored MCTS trees, outcome
    pairs from stored samples; prints the count of each kind and of problems, and each
    policy's where the runs are of several."""
    from thinktree.store import RunStore
    from thinktree.train.ppm.data import collect_pairs
    from thinktree.train.ppm.pairs import trl_record, write_jsonl
    from thinktree.train.ppm.pairs_config import PairsExportConfig

    with user_errors():
        options = PairsExportConfig(**(exporting or {}))
    out = options.out

    def run() -> list[PreferencePair]:
        with RunStore(store, create=False) as db:
            found = collect_pairs(db, options.runs)
        if options.trl:
            with open(out, "w") as handle:
                for pair in found:
                    handle.write(json.dumps(trl_record(pair)) + "\n")
        else:
            write_jsonl(found, out)
        return found

    found = _guard(run)
    typer.echo(f"{_pair_counts(found)} -> {out}")
    policies = sorted({p.policy for p in found})
    if len(policies) > 1:  # the data of each policy the verifier must judge
        for policy in policies:
            mine = [p for p in found if p.policy == policy]
            typer.echo(f"  {policy or 'unknown'}: {_pair_counts(mine)}")


def _pair_counts(found: Sequence[PreferencePair]) -> str:
    """``N pairs (step s, final f, outcome o) from P problems``."""
    from thinktree.train.ppm.pairs import PAIR_KINDS

    kinds = ", ".join(f"{kind} {sum(p.kind == kind for p in found)}" for kind in PAIR_KINDS)
    problems = len({p.problem_id for p in found})
    pairs = "pair" if len(found) == 1 else "pairs"
    noun = "problem" if problems == 1 else "problems"
    return f"{len(found)} {pairs} ({kinds}) from {problems} {noun}"


def _progress_bar(console: Console) -> tuple[Progress, Callable[[str, int, int], None]]:
    """A Rich progress bar with ETA, and the ``(stage, done, total)`` callback that
    drives it (one bar a stage)."""
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )
    tasks: dict[str, int] = {}

    def report(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = progress.add_task(stage, total=total)
        progress.update(tasks[stage], completed=done, total=total)

    return progress, report


def _changed(model: type, given: ConfigFields | None, prefix: str = "") -> list[str]:
    """The options of ``model``'s fields given other values than their defaults."""
    defaults = model().model_dump()  # type: ignore[attr-defined]
    return [
        "--" + (prefix + name).replace("_", "-")
        for name, value in (given or {}).items()
        if value != defaults[name]
    ]


def _read_pairs(path: Path) -> list:
    from thinktree.train.ppm.pairs import read_jsonl

    if not path.is_file():
        raise ValueError(f"{path} is not a file: give --pairs what `thinktree ppm pairs` wrote")
    try:
        return read_jsonl(path)
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(
            f"{path} is not a pairs file ({type(exc).__name__}: {exc}); "
            "write one with thinktree ppm pairs --runs RUN --out FILE"
        ) from None


@ppm_app.command("train")
@ppm_train_options
@head_options
@feature_options
@lm_ppm_options
@train_json_options
@ppm_data_options
def train(
    data: ConfigFields | None = None,
    store: StoreOpt = DEFAULT_STORE,
    output: ConfigFields | None = None,
    lm: ConfigFields | None = None,
    embedding: ConfigFields | None = None,
    head: ConfigFields | None = None,
    training: ConfigFields | None = None,
) -> None:
    """Train a PPM on pairs from the runs' trees or a pairs file (resumable: features and
    checkpoints): the feature PPM (--kind features) or the LM PPM (--kind lm)."""
    from thinktree.train.ppm.pairs_config import PPMDataConfig

    with user_errors():
        job = PPMTrainConfig(**(training or {}))
        given = PPMDataConfig(**(data or {}))  # runs or a pairs file, one of the two
    out, runs, pairs_file, json_out = given.out, given.runs, given.pairs, wants_json(output)
    if job.ppm_kind == "lm":
        from thinktree.reward.features import FeatureSpec
        from thinktree.train.ppm.head import HeadConfig

        embedding_given = [
            f"--{name}"
            for name, value in (embedding or {}).items()
            if value != getattr(FeatureSpec, name)
        ]
        feature_ppm = {k: v for k, v in (training or {}).items() if k in FEATURE_PPM_FIELDS}
        other = _changed(HeadConfig, head) + embedding_given + _changed(PPMTrainConfig, feature_ppm)
        if other:
            fail(f"{', '.join(other)} set the feature PPM, not --kind lm; drop them")
        _train_lm(out, runs, pairs_file, store, lm, json_out, job)
        return
    from thinktree.train.ppm.lm.config import LMPPMConfig

    lm_given = _changed(LMPPMConfig, lm, "lm_")
    if lm_given:
        fail(f"{', '.join(lm_given)} set the LM PPM; add --kind lm or drop them")
    if pairs_file is not None:
        fail("--pairs trains --kind lm; the feature PPM reads --runs from the store")
    if job.max_minutes is not None:
        fail("--max-minutes bounds --kind lm; the feature PPM trains in seconds, drop it")
    if job.checkpoint_file is not None:
        fail("--checkpoint-file carries --kind lm's checkpoint; the feature PPM has none, drop it")
    _train_features(out, runs or [], store, job, json_out, head, embedding)


def _train_lm(
    out: str,
    runs: list[str] | None,
    pairs_file: Path | None,
    store: str,
    lm: ConfigFields | None,
    json_out: bool,
    job: PPMTrainConfig,
) -> None:
    from thinktree.train.ppm.lm.config import LMPPMConfig

    with user_errors():
        config = LMPPMConfig(**(lm or {}))
    console = Console(stderr=True)
    max_minutes = job.max_minutes

    def run():
        from thinktree.models import resolve_model

        with _train_extra():
            from thinktree.train.ppm.lm.output import BaseFile
            from thinktree.train.ppm.lm.training import train_lm_ppm
        if pairs_file is not None:
            pairs = _read_pairs(pairs_file)
        else:
            from thinktree.store import RunStore
            from thinktree.train.ppm.data import collect_pairs

            with RunStore(store, create=False) as db:
                pairs = collect_pairs(db, runs or [])
        if not pairs:
            raise ValueError(
                "no preference pairs to train on; run MCTS with --scorer outcome on training "
                "problems first, or give --pairs a non-empty file"
            )
        resolved = resolve_model(config.base_model)
        base = BaseFile(resolved.name, resolved.path, resolved.digest())
        saved = _carry_checkpoint(job, Path(out), pairs, config, console)
        deadline = None if max_minutes is None else time.monotonic() + 60 * max_minutes
        progress, report = _progress_bar(console)
        with progress:
            return train_lm_ppm(
                pairs, out, config, base, progress=report,
                stop=None if deadline is None else lambda: time.monotonic() > deadline,
                saved=saved,
            )  # fmt: skip

    result = _guard(run)
    if result is None:
        console.print(
            f"stopped after {max_minutes:g} minutes at a checkpoint in {out}; "
            "run the same command again to resume"
        )
        return
    record = result.record
    if json_out:
        sys.stdout.write(json.dumps(record) + "\n")
        return
    training = record["training"]
    held = training["held_out_accuracy"]
    features = held["feature_ppm"]
    Console().print(
        f"LM PPM -> {result.directory}: {training['pairs_train']} pairs from "
        f"{training['problems_train']} problems trained {training['steps']} steps in "
        f"{training['seconds']:.0f} s; on {training['pairs_held_out']} held-out pairs "
        f"({training['problems_held_out']} problems) pairwise accuracy {held['lm_ppm']:.1%}, "
        f"base model {held['base']:.1%}, mean log-probability {held['mean_logprob']:.1%}"
        + (f", feature PPM {features:.1%}" if features is not None else "")
    )


def _carry_checkpoint(
    job: PPMTrainConfig, out: Path, pairs: list, config: LMPPMConfig, console: Console
) -> Callable[[], None] | None:
    """With --checkpoint-file: import it into ``out`` (unless ``out`` is finished or holds
    a checkpoint as new) and return what exports ``out``'s checkpoint back to it."""
    from thinktree.train.ppm.lm.checkpoint import data_hash
    from thinktree.train.ppm.lm.checkpoint_export import export_checkpoint, import_checkpoint
    from thinktree.train.ppm.lm.output import read_finished

    carried = job.checkpoint_file
    if carried is None:
        return None
    digest = data_hash(pairs)
    if carried.exists() and read_finished(out, digest) is None:
        imported = import_checkpoint(carried, out, digest, config)
        if imported is not None:
            console.print(f"resuming from {carried} (imported into {imported})")

    def export() -> None:
        if export_checkpoint(out, carried, job.checkpoint_precision) is not None:
            console.print(f"checkpoint exported to {carried}")

    return export


def _train_features(
    out: str,
    runs: list[str],
    store: str,
    job: PPMTrainConfig,
    json_out: bool,
    head: ConfigFields | None,
    embedding: ConfigFields | None,
) -> None:
    from thinktree.embedding import BACKENDS
    from thinktree.reward.features import FeatureSpec
    from thinktree.store import RunStore
    from thinktree.train.ppm.head import HeadConfig

    chosen = embedding or {}
    context = chosen.get("context", FeatureSpec.context)
    backend = chosen.get("backend", FeatureSpec.backend)
    kinds = job.feature_kinds
    if context not in ("full", "last"):
        fail(f"unknown context {context!r}; use full or last")
    if backend not in BACKENDS:
        fail(f"unknown backend {backend!r}; use torch or llamacpp")
    spec = FeatureSpec(kinds, job.feature_model if "embedding" in kinds else None, context, backend)
    with user_errors():
        config = HeadConfig(**(head or {}))
    console = Console(stderr=True)

    def run():
        with _train_extra():
            from thinktree.train.ppm.training import train_ppm
        progress, report = _progress_bar(console)
        with progress, RunStore(store, create=False) as db:
            return train_ppm(
                db, runs, out, features=spec, head=config, progress=report,
                seed_repeats=job.seed_repeats)  # fmt: skip

    result = _guard(run)
    record = result.record
    if json_out:
        sys.stdout.write(json.dumps(record) + "\n")
        return
    base = record["baselines"]
    spread = record.get("seed_spread")
    over_seeds = f" (mean over {job.seed_repeats} seeds {spread['mean']:.1%})" if spread else ""
    Console().print(
        f"PPM -> {result.directory}: {record['pairs']} pairs from "
        f"{record['problems_with_pairs']} problems ({record['evaluated_clean_pairs']} clean); "
        f"{record['folds']}-fold cross-validated pairwise accuracy "
        f"{record['pairwise_accuracy']:.1%}, clean {record['pairwise_accuracy_clean']:.1%}"
        f"{over_seeds}; baselines on clean pairs: "
        + ", ".join(f"{k} {v['clean']:.1%}" for k, v in base.items())
    )


@ppm_app.command("score")
@ppm_score_options
def score(
    directory: Annotated[str, typer.Argument(help="A trained PPM directory.")],
    scored: ConfigFields | None = None,
) -> None:
    """Score every prefix of a solution; prints one value in [-1, 1] per step."""
    from thinktree.cli.output_configs import PPMScoreInput
    from thinktree.reward.base import ScoreItem
    from thinktree.reward.ppm import load_ppm
    from thinktree.steps import Step, StepKind, code_step_text, final_step_text

    with user_errors():
        given = PPMScoreInput(**(scored or {}))
    question, steps = given.question, given.steps

    def parse_steps() -> list[Step]:
        if not steps.is_file():
            raise ValueError(f"{steps} is not a file: give --steps a JSON list of steps")
        try:
            data = json.loads(steps.read_text())
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"{steps} is not JSON ({exc.msg} at line {exc.lineno}): "
                'give a JSON list of steps, e.g. [{"code": "print(1)", "output": "1"}]'
            ) from None
        if not isinstance(data, list) or not data:
            raise ValueError(f"{steps} must hold a non-empty JSON list of steps")
        out = []
        for i, item in enumerate(data, 1):
            if not isinstance(item, dict) or not ({"code", "answer"} & item.keys()):
                raise ValueError(f"step {i} of {steps} needs 'code' (and 'output') or 'answer'")
            if "answer" in item and item.get("code") is None:
                out.append(
                    Step(
                        text=final_step_text(str(item["answer"])),
                        kind=StepKind.FINAL,
                        answer=str(item["answer"]),
                    )
                )
                continue
            code = str(item["code"])
            error = item.get("error")
            out.append(
                Step(
                    text=code_step_text(code),
                    kind=StepKind.ERROR if error else StepKind.CODE,
                    code=code,
                    output=str(item.get("output", "")),
                    error=error,
                )
            )
        return out

    def run() -> list[float]:
        parsed = parse_steps()
        ppm = load_ppm(directory)
        try:
            return ppm.score([ScoreItem(question, parsed[: i + 1]) for i in range(len(parsed))])
        finally:
            ppm.close()

    values = _guard(run)
    sys.stdout.write(json.dumps({"scores": [round(v, 6) for v in values]}) + "\n")
