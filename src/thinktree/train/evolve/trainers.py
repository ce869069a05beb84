"""The model work of an evolve round, as functions a test can replace with fakes.

:func:`default_trainers` binds the real ones (LoRA SFT, GGUF export, parity,
the round PPM, reference conversion in the sandbox) to the config and the
policy's base model; their heavy imports happen when a stage first calls them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from thinktree.problems import Problem
from thinktree.steps import Step
from thinktree.store import RunStore
from thinktree.train.evolve.config import EvolveConfig
from thinktree.train.sft.data import Trajectory
from thinktree.train.sft.training import SFTReport

Progress = Callable[[int, int | None], None]

SFTTrainer = Callable[[list[Trajectory], Path, Progress, float | None], SFTReport | None]
"""(trajectories, output directory, progress, monotonic deadline) -> the report, or None
when it stopped at a checkpoint before the end."""
AdapterExporter = Callable[[Path, Path], Path]
"""(PEFT adapter directory, destination GGUF file) -> the written file."""
ParityMeter = Callable[[Sequence[Trajectory], Path, Path], dict[str, Any]]
"""(trajectories to teacher-force, PEFT directory, GGUF adapter) -> parity figures."""
PPMTrainer = Callable[
    [RunStore, Sequence[str], Path, set[str], float | None], dict[str, Any] | None
]
"""(store, pool run ids, PPM directory, known problem ids, monotonic deadline) -> the
PPM's figures, or None when it stopped at a checkpoint before the end (an LM PPM);
ValueError when the trees hold too few pairs."""
ReferenceConverter = Callable[[Sequence[Problem], Progress], dict[str, list[Step]]]
"""(problems, progress) -> verified reference steps by problem id (converted ones only)."""


@dataclass(frozen=True)
class Trainers:
    sft: SFTTrainer
    export: AdapterExporter
    parity: ParityMeter
    ppm: PPMTrainer
    references: ReferenceConverter


def default_trainers(config: EvolveConfig, base_name: str, base_sha256: str) -> Trainers:
    """The real trainers for ``config``, over the embedded model ``base_name``."""
    from thinktree.models.resolve import resolve_model

    def sft(
        trajectories: list[Trajectory], out: Path, progress: Progress, deadline: float | None
    ) -> SFTReport | None:
        from thinktree.train.sft.training import train_policy_lora

        return train_policy_lora(
            resolve_model(base_name).path,
            trajectories,
            out,
            config.sft,
            progress=lambda _stage, done, total: progress(done, total),
            deadline=deadline,
        )

    def export(peft: Path, dest: Path) -> Path:
        from thinktree.train.export.lora_gguf import export_lora_gguf

        return export_lora_gguf(peft, resolve_model(base_name).path, dest)

    def parity(trajectories: Sequence[Trajectory], peft: Path, adapter: Path) -> dict[str, Any]:
        from thinktree.train.export.hf_gguf import load_tokenizer_from_gguf
        from thinktree.train.export.parity import measure_adapter_parity
        from thinktree.train.sft.format import segments
        from thinktree.train.sft.training import chat_renderer

        base = resolve_model(base_name).path
        render = chat_renderer(load_tokenizer_from_gguf(base, base_sha256))
        texts = []
        for t in trajectories:
            parts = segments(t.question, t.steps, render)
            texts.append((parts[0].text, "".join(p.text for p in parts[1:])))
        report = measure_adapter_parity(
            base, peft, adapter, texts, config.parity_positions, threads=config.engine.threads
        )
        return asdict(report)

    def ppm(
        store: RunStore,
        runs: Sequence[str],
        directory: Path,
        known: set[str],
        deadline: float | None,
    ) -> dict[str, Any] | None:
        if config.ppm_kind == "lm":
            from thinktree.train.ppm.lm.round import train_round_lm_ppm

            return train_round_lm_ppm(store, runs, directory, config.lm_ppm, deadline)
        from thinktree.train.ppm.round import train_round_ppm

        return train_round_ppm(store, runs, directory, config.ppm, known)

    def references(problems: Sequence[Problem], progress: Progress) -> dict[str, list[Step]]:
        from thinktree.grading import Grader
        from thinktree.sandbox import Sandbox, SandboxConfig
        from thinktree.search.judge import GraderJudge
        from thinktree.train.sft.reference_check import convert_references

        with Sandbox(SandboxConfig(workers=2)) as sandbox, Grader(workers=1) as grader:
            report = convert_references(problems, sandbox, GraderJudge(grader), progress=progress)
        return report.trajectories

    return Trainers(sft, export, parity, ppm, references)
