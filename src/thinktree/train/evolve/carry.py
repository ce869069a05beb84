"""Evolve rounds' in-progress SFT and LM PPM checkpoints carried between machines as files.

An evolve recipe's ``checkpoints`` directory (``thinktree bench``) holds one
``round-N.sft.tar.gz`` a round (:mod:`thinktree.train.sft.checkpoint_export`):
:func:`save_sft_checkpoints` exports each round's newest complete SFT checkpoint
after a call, :func:`restore_sft_checkpoints` imports them on a fresh machine
before the next, so the round's SFT resumes where it stopped instead of starting
from the base. A round whose SFT is recorded done is not restored (its file stays
until a rerun of that round's SFT replaces it); the data hash is checked when the
SFT resumes, once the round's data is built. A round's LM PPM (``ppm_kind: lm``)
travels the same way as ``round-N.ppm.tar.gz``
(:mod:`thinktree.train.ppm.lm.checkpoint_export`): :func:`save_ppm_checkpoints`,
:func:`restore_ppm_checkpoints`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from thinktree.train.evolve.context import EvolvePaths
from thinktree.train.evolve.ledger import RoundLedger
from thinktree.train.evolve.stages import SFT, RoundPPM
from thinktree.train.ppm.lm import checkpoint_export as lm_ppm_carry
from thinktree.train.ppm.lm.config import LMPPMConfig
from thinktree.train.sft.checkpoint_export import Precision, export_checkpoint, import_checkpoint
from thinktree.train.sft.training import SFTConfig

SUFFIX = ".sft.tar.gz"
PPM_SUFFIX = ".ppm.tar.gz"


def save_sft_checkpoints(out: Path, directory: Path, precision: Precision) -> list[Path]:
    """Export the newest complete SFT checkpoint of every round of ``out`` to
    ``directory/round-N.sft.tar.gz``; the files written or already up to date."""
    paths = EvolvePaths(Path(out))

    def export(index: int, dest: Path) -> Path | None:
        return export_checkpoint(paths.sft_dir(index), dest, precision)

    return _save(paths, directory, SUFFIX, export)


def restore_sft_checkpoints(directory: Path, out: Path, config: SFTConfig | None) -> list[str]:
    """Import each ``directory/round-N.sft.tar.gz`` into ``out/round-N/sft`` where that
    round's SFT is not done and holds no checkpoint as new; the rounds restored.
    ``config``: the SFT settings the run will train with (refused if they differ)."""
    paths = EvolvePaths(Path(out))

    def load(index: int, source: Path) -> Path | None:
        return import_checkpoint(source, paths.sft_dir(index), config=config)

    return _restore(paths, directory, SUFFIX, SFT.name, load)


def save_ppm_checkpoints(out: Path, directory: Path, precision: Precision) -> list[Path]:
    """Export the checkpoint of every round's unfinished LM PPM training in ``out`` to
    ``directory/round-N.ppm.tar.gz``; the files written or already up to date."""
    paths = EvolvePaths(Path(out))

    def export(index: int, dest: Path) -> Path | None:
        return lm_ppm_carry.export_checkpoint(paths.ppm_dir(index), dest, precision)

    return _save(paths, directory, PPM_SUFFIX, export)


def restore_ppm_checkpoints(directory: Path, out: Path, config: LMPPMConfig) -> list[str]:
    """Import each ``directory/round-N.ppm.tar.gz`` into ``out/round-N/ppm`` where that
    round's PPM is not done and holds no checkpoint as new; the rounds restored.
    ``config``: the LM PPM settings the run will train with (refused if they differ);
    the pairs are checked when the training resumes."""
    paths = EvolvePaths(Path(out))

    def load(index: int, source: Path) -> Path | None:
        return lm_ppm_carry.import_checkpoint(source, paths.ppm_dir(index), None, config)

    return _restore(paths, directory, PPM_SUFFIX, RoundPPM.name, load)


def _save(
    paths: EvolvePaths,
    directory: Path,
    suffix: str,
    export: Callable[[int, Path], Path | None],
) -> list[Path]:
    """``export(round, directory/round-N<suffix>)`` for every round of ``paths``; the
    files it wrote or found up to date."""
    saved = []
    for index in _round_indices(path.name for path in paths.out.glob("round-*")):
        written = export(index, Path(directory) / f"round-{index}{suffix}")
        if written is not None:
            saved.append(written)
    return saved


def _restore(
    paths: EvolvePaths,
    directory: Path,
    suffix: str,
    stage: str,
    load: Callable[[int, Path], Path | None],
) -> list[str]:
    """``load(round, file)`` for each ``directory/round-N<suffix>`` whose round has not
    recorded ``stage`` done; the rounds it restored."""
    files = Path(directory).glob(f"round-*{suffix}")
    restored = []
    for index in _round_indices(path.name.removesuffix(suffix) for path in files):
        ledger = RoundLedger.read(paths.round_dir(index), index)
        if ledger is not None and ledger.done(stage):
            continue
        if load(index, Path(directory) / f"round-{index}{suffix}") is not None:
            restored.append(f"round-{index}")
    return restored


def _round_indices(names: Iterable[str]) -> list[int]:
    """The round numbers of ``round-N`` names, in order (other names skipped)."""
    digits = (name.removeprefix("round-") for name in names)
    return sorted(int(d) for d in digits if d.isdigit())
