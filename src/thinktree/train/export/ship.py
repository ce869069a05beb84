"""Ship an evolve round as a self-contained policy directory in a package slot.

The slots (:data:`PACKAGE_SLOTS`): ``evolved`` (the evolved 0.5B, with its PPM) and
``default`` (the evolved 1.5B that ``--model default`` serves once one ships; only a
round trained over the 1.5B's base file goes there).

What is copied from ``OUT/round-N``: the GGUF adapter, ``policy.json`` (its
provenance extended with what ``thinktree models list`` shows: round, pool data,
dev accuracy, parity) and the round's PPM (its ``ppm.json`` and head; its
training pairs and checkpoints stay behind). The PEFT weights stay behind too:
the package holds only what llama.cpp and the scorer serve. The round must be
whole (exported, its PPM stage and dev evaluations done), and the adapter must
fit the package's size bound. A round whose PPM stage was skipped (too few
pairs) ships without one where the slot allows it. The destination is replaced
atomically: a sibling temporary directory is filled, then swapped in, so a kill
never leaves half a policy under the name. ``thinktree models ship ROUND_DIR``
ships into the package slot :class:`ShipConfig` names.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

from thinktree.models.assemble import ModelError
from thinktree.models.policy import (
    DEFAULT_POLICY,
    EMBEDDED_POLICY,
    POLICY_FILE,
    PPM_SUBDIR,
    Policy,
    check_weights,
    default_policy_dir,
    embedded_policy_dir,
    read_policy,
    write_policy,
)
from thinktree.models.registry import EmbeddedModel, find_embedded
from thinktree.reward.ppm import is_trained_ppm, ppm_files
from thinktree.train.export.staged import staged_dir
from thinktree.train.rounds import MANIFEST_FILE

MAX_ADAPTER_BYTES = 40 * 10**6
"""A shipped adapter's bound, in every slot (issues 17 and 52: at most 40 MB of package data)."""
NEEDED_STAGES = ("export", "ppm", "dev_greedy", "dev_mcts")


@dataclass(frozen=True)
class PackageSlot:
    """A policy directory the package ships and what a round must be to go there."""

    directory: Callable[[], Path]
    base: str | None = None
    """The embedded model whose file the round's adapter must be trained over (None: any)."""
    needs_ppm: bool = True
    """Whether a round without a trained PPM is refused (``--scorer ppm:NAME`` serves it)."""

    def base_model(self) -> EmbeddedModel | None:
        return find_embedded(self.base) if self.base is not None else None


PACKAGE_SLOTS: dict[str, PackageSlot] = {
    EMBEDDED_POLICY: PackageSlot(embedded_policy_dir),
    DEFAULT_POLICY: PackageSlot(default_policy_dir, base="base", needs_ppm=False),
}
"""The policy directories the package ships, by name (pyproject's package data lists each)."""


class ShipConfig(BaseModel):
    """Where ``thinktree models ship`` puts a round (its options are generated from it)."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    name: str = EMBEDDED_POLICY
    """The package slot the round replaces (--model NAME and --scorer ppm:NAME serve it):
    evolved, or default for a round of the 1.5B (what runs when no --model is given)."""

    @field_validator("name")
    @classmethod
    def _shippable(cls, name: str) -> str:
        if name not in PACKAGE_SLOTS:
            raise ValueError(
                f"{name!r} is not a package slot; ship into {' or '.join(PACKAGE_SLOTS)}"
            )
        return name

    def slot(self) -> PackageSlot:
        return PACKAGE_SLOTS[self.name]

    def destination(self) -> Path:
        """The package directory the round is shipped into."""
        return self.slot().directory()

    def ship(self, round_dir: str | Path) -> Policy:
        """Ship ``round_dir`` into the slot, with the slot's checks."""
        slot = self.slot()
        return ship_round(
            round_dir, self.destination(), base=slot.base_model(), needs_ppm=slot.needs_ppm
        )


def copy_ppm(source: Path, dest: Path) -> None:
    """Copy a trained PPM's files (a feature or an LM PPM's) from ``source`` into ``dest``."""
    dest.mkdir(exist_ok=True)
    for name in ppm_files(source):
        shutil.copy2(source / name, dest / name)


def round_provenance(manifest: dict[str, Any]) -> dict[str, Any]:
    """What a user sees of a shipped round: where it came from and how it measured."""
    config, stages = manifest["config"], manifest["stages"]
    # A ledger of one pool says ``pool``; one written since several pools, ``pools``.
    pools = config.get("pools") or [config["pool"]]
    sources = " + ".join(p.get("data") or f"{p['benchmark']} {p['split']}" for p in pools)
    out: dict[str, Any] = {
        "round": manifest["round"],
        "data": f"{sources}, {stages.get('sft_data', {}).get('trajectories')} trajectories",
    }
    # The test slices' figures, then the pools' dev slices' (those chose the round).
    for name in ("dev_greedy", "dev_mcts", *sorted(n for n in stages if n.startswith("pool_dev_"))):
        if name in stages:
            figures = stages[name]
            out[name] = f"{100 * figures['accuracy']:.1f}% of {figures['n']}"
    parity = stages.get("parity")
    if parity and parity.get("agree") is not None:
        out["parity"] = f"{100 * parity['agree']:.1f}% of {parity['positions']} tokens"
    return out


def ship_round(
    round_dir: str | Path,
    dest: str | Path,
    max_adapter_bytes: int = MAX_ADAPTER_BYTES,
    base: EmbeddedModel | None = None,
    needs_ppm: bool = True,
) -> Policy:
    """Copy the round's adapter, policy and PPM into ``dest``; ValueError if it cannot ship.

    ``base``: the model file the round's adapter must be trained over; ``needs_ppm``:
    refuse a round whose PPM stage was skipped (else it ships without a PPM)."""
    round_dir, dest = Path(round_dir), Path(dest)
    manifest = _round_ledger(round_dir)
    if manifest.get("round") == 0:
        raise ValueError(f"{round_dir} is round 0, the base model itself; ship a round >= 1")
    # A config without dev MCTS (dev.mcts_limit 0) never records it.
    mcts_runs = manifest["config"].get("dev", {}).get("mcts_limit") != 0
    needed = [s for s in NEEDED_STAGES if s != "dev_mcts" or mcts_runs]
    missing = [s for s in needed if s not in manifest["stages"]]
    if missing:
        raise ValueError(f"{round_dir} is not finished ({', '.join(missing)} not done); "
                         "rerun thinktree evolve first")  # fmt: skip
    try:
        policy = read_policy(round_dir)
    except ModelError as exc:
        raise ValueError(f"{exc}; ship from the machine that trained the round") from None
    if policy.adapter is None:
        raise ValueError(f"{round_dir}'s policy.json names no adapter; export the round again")
    if base is not None:
        _check_base(round_dir, policy, base, dest.name)
    check_weights(policy)
    size = policy.adapter.stat().st_size
    if size > max_adapter_bytes:
        raise ValueError(f"{policy.adapter} is {size / 1e6:.1f} MB, above the package's "
                         f"{max_adapter_bytes / 1e6:.0f} MB bound; train with a lower LoRA rank "
                         "(sft: {rank: N} in the evolve config; r8 fits the 1.5B in float32)")  # fmt: skip
    ppm = round_dir / PPM_SUBDIR
    skipped = manifest["stages"]["ppm"].get("skipped") if not needs_ppm else None
    if not is_trained_ppm(ppm) and not skipped:
        raise ValueError(f"{round_dir} has no trained PPM ({ppm}); its PPM stage was skipped")

    with staged_dir(dest) as staging:
        shutil.copy2(policy.adapter, staging / policy.adapter.name)
        if is_trained_ppm(ppm):
            copy_ppm(ppm, staging / PPM_SUBDIR)
        shipped = Policy(
            directory=staging,
            name=dest.name,
            base=policy.base,
            base_sha256=policy.base_sha256,
            adapter=staging / policy.adapter.name,
            adapter_sha256=policy.adapter_sha256,
            prompt_style=policy.prompt_style,
            provenance={**policy.provenance, **round_provenance(manifest)},
        )
        write_policy(shipped)
    return read_policy(dest, name=dest.name)


def _check_base(round_dir: Path, policy: Policy, base: EmbeddedModel, slot: str) -> None:
    """ValueError, in one line, unless ``policy``'s adapter was trained over ``base``'s file."""
    if find_embedded(policy.base) is base and policy.base_sha256 == base.sha256:
        return
    trained = f"sha256 {policy.base_sha256[:12]}" if policy.base_sha256 else "no sha256"
    raise ValueError(
        f"{round_dir} is a LoRA over {policy.base} ({trained}), not over {base.name} "
        f"(sha256 {base.sha256[:12]}), the file the {slot} slot serves; ship a round "
        f"evolved from {base.name} (evolve with policy: {base.aliases[0]})"
    )


def _round_ledger(round_dir: Path) -> dict[str, Any]:
    """The round's ledger; ValueError, in one line, if ``round_dir`` is not an evolve round."""
    path = round_dir / MANIFEST_FILE
    if not path.is_file():
        raise ValueError(f"{round_dir} holds no {MANIFEST_FILE}; is it an evolve round directory?")
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError:
        manifest = None
    shape = {"round": int, "config": dict, "stages": dict}
    if not isinstance(manifest, dict) or not all(
        isinstance(manifest.get(key), kind) for key, kind in shape.items()
    ):
        raise ValueError(f"{path} is not an evolve round's ledger; give an OUT/round-N directory")
    return manifest


def restore_shipped_round(
    out: str | Path, shipped: str | Path, base: str | None = None
) -> str | None:
    """Copy a shipped round's adapter, policy and PPM back into its evolve round in ``out``.

    A round's weights live on the machine that trained them; git carries only its
    ledger. When ``shipped`` is round N (its provenance says so) and its adapter is
    the one round N's ledger recorded at export, a run on a fresh machine resumes
    from it instead of training the round again. Says what it did; None when there
    is nothing to do, or when ``base`` is given and the shipped policy is a LoRA over
    another embedded model (another evolve run's round). The PEFT weights are not
    shipped, so such a round cannot be exported or parity-checked again (its ledger
    already holds both).
    """
    out, shipped = Path(out), Path(shipped)
    if not (shipped / POLICY_FILE).is_file():
        return None
    policy = read_policy(shipped, name=shipped.name)
    if base is not None and policy.base != base:
        return None
    round_dir = out / f"round-{policy.provenance.get('round')}"
    manifest = round_dir / MANIFEST_FILE
    if policy.adapter is None or not manifest.is_file() or (round_dir / POLICY_FILE).is_file():
        return None
    export = json.loads(manifest.read_text())["stages"].get("export", {})
    if export.get("adapter_sha256") != policy.adapter_sha256:
        return f"{shipped} is not {round_dir}'s adapter (sha256 differs); nothing restored"
    check_weights(policy)
    shutil.copy2(policy.adapter, round_dir / policy.adapter.name)
    copy_ppm(shipped / PPM_SUBDIR, round_dir / PPM_SUBDIR)
    # policy.json last: its presence is what marks the round's export as whole.
    shutil.copy2(shipped / POLICY_FILE, round_dir / POLICY_FILE)
    return f"restored {round_dir} (adapter, policy, PPM) from {shipped}"
