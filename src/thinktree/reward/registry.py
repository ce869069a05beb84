"""Scorers by name, as ``--scorer`` names them: ``NAME`` or ``NAME:ARGUMENT``.

Adding a scorer: a module with a :class:`~thinktree.reward.base.Scorer` subclass,
one line in :data:`SCORERS`. Each entry names the class it builds (so what a
scorer needs, such as a gold answer, is known before anything is loaded) and
how to load it from the argument after the colon; loading returns the scorer
and its identity in run fingerprints.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from thinktree.models.assemble import ModelError
from thinktree.models.policy import (
    DEFAULT_POLICY,
    EMBEDDED_POLICY,
    PPM_SUBDIR,
    Policy,
    default_policy_dir,
    embedded_ppm_dir,
    is_policy_dir,
)
from thinktree.models.resolve import locate_model
from thinktree.reward.base import NullScorer, Scorer, StepScorer
from thinktree.reward.outcome import OutcomeGuided, OutcomeScorer
from thinktree.reward.ppm import load_ppm, ppm_identity
from thinktree.reward.ppm_dir import LM_KIND, PPMError, read_ppm_json

Loaded = tuple[Scorer, str]
"""A loaded scorer and its identity in run fingerprints."""


@dataclass(frozen=True)
class ScorerEntry:
    kind: type[Scorer]
    """The class ``load`` returns: its type says what the scorer needs and gives."""
    load: Callable[[str], Loaded]
    """Load from the argument after ``NAME:`` (empty when there is none)."""
    usage: str
    """How ``--scorer`` names it, for messages (``ppm:DIR``)."""


def _plain(scorer: type[Scorer]) -> Callable[[str], Loaded]:
    def load(argument: str) -> Loaded:
        if argument:
            raise ValueError(f"scorer {scorer.name!r} takes no argument, got {argument!r}")
        return scorer(), scorer.name

    return load


def _ppm(argument: str) -> Loaded:
    ppm = load_ppm(_directory(argument))
    return ppm, f"ppm:{ppm.identity}"


def _ppm_outcome(argument: str) -> Loaded:
    ppm = load_ppm(_directory(argument))
    return OutcomeGuided(ppm), f"ppm+outcome:{ppm.identity}"


def _directory(argument: str) -> Path:
    """A PPM's directory: ``evolved`` or ``default`` (the PPM shipped with that package
    slot's policy), a PPM directory, or a policy directory holding its PPM (an evolve
    round, ``OUT/round-N``)."""
    if not argument:
        raise ValueError("a PPM scorer needs its directory: ppm:DIR")
    if argument == EMBEDDED_POLICY:
        directory = embedded_ppm_dir()
        if not directory.is_dir():
            raise ValueError(
                "this thinktree ships no evolved PPM yet; run `thinktree evolve` and pass "
                "ppm:OUT/round-N/ppm"
            )
        return directory
    if argument == DEFAULT_POLICY:
        directory = default_policy_dir() / PPM_SUBDIR
        if not directory.is_dir():
            raise ValueError(
                "this thinktree ships no PPM with default (no evolved 1.5B shipped, or its "
                "round trained none); pass ppm:OUT/round-N/ppm, or ship a round that has one: "
                "thinktree models ship OUT/round-N --name default"
            )
        return directory
    directory = Path(argument).expanduser()
    if is_policy_dir(directory) and (directory / PPM_SUBDIR).is_dir():
        return directory / PPM_SUBDIR
    return directory


def ppm_directory(spec: str) -> Path:
    """The directory the PPM scorer ``spec`` (``ppm:DIR``, ``ppm:evolved``...) loads,
    found without loading anything; ValueError for a spec that names no PPM."""
    entry, argument = scorer_entry(spec)
    if entry.load is not _ppm:
        raise ValueError(f"{spec!r} names no PPM; give ppm:DIR")
    return _directory(argument)


def ppm_spec_identity(spec: str) -> str:
    """The scorer id runs scored by ``spec`` (``ppm:DIR``) record, read from the PPM's
    files without loading it (PPMError, one line, where the directory holds none)."""
    directory = ppm_directory(spec)
    read_ppm_json(directory)  # no ppm.json: the one-line error naming the fix
    return ppm_identity(directory)


def shipped_verifier(model: str | None) -> str | None:
    """The ``--scorer`` spec of the verifier shipped with ``model``'s policy: the LM PPM
    in its ``ppm/`` (``ppm:evolved``, ``ppm:default``, or ``ppm:ROUND/ppm`` for an evolve
    round). None where the model is not a policy, ships no PPM, or ships a feature PPM:
    that one measured no better than the vote (BENCHMARKS.md, issue 6) and stays opt-in.
    A model that cannot be found is None too: the engine says what is wrong with it."""
    try:
        found = locate_model(model)
    except (ModelError, OSError, ValueError):
        return None
    if not isinstance(found, Policy):
        return None
    directory = found.directory / PPM_SUBDIR
    try:
        kind = read_ppm_json(directory).get("kind")
    except (PPMError, OSError):
        return None
    if kind != LM_KIND:
        return None
    if found.name in (EMBEDDED_POLICY, DEFAULT_POLICY):
        return f"ppm:{found.name}"
    return f"ppm:{directory}"


SCORERS: dict[str, ScorerEntry] = {
    "none": ScorerEntry(NullScorer, _plain(NullScorer), "none"),
    "outcome": ScorerEntry(OutcomeScorer, _plain(OutcomeScorer), "outcome"),
    # A feature PPM or an LM PPM (a LoRA adapter served by llama.cpp), as DIR/ppm.json says.
    "ppm": ScorerEntry(StepScorer, _ppm, "ppm:DIR"),
    # The PPM's step values with gold-answer rewards, for training rollouts.
    "ppm+outcome": ScorerEntry(OutcomeGuided, _ppm_outcome, "ppm+outcome:DIR"),
}


def scorer_entry(spec: str | None) -> tuple[ScorerEntry, str]:
    """The registry entry ``spec`` names and the argument after its colon."""
    text = (spec or "none").strip()
    name, _, argument = text.partition(":")
    entry = SCORERS.get(name)
    if entry is None:
        usages = [e.usage for e in SCORERS.values()]
        raise ValueError(f"unknown scorer {text!r}; use {', '.join(usages[:-1])} or {usages[-1]}")
    return entry, argument


def scorer_kind(spec: str | None) -> type[Scorer]:
    """The class ``spec`` would load, without loading anything."""
    return scorer_entry(spec)[0].kind


def spec_is_scored(spec: str | None) -> bool:
    """:func:`thinktree.reward.base.is_scored` for the scorer ``spec`` names, loading
    nothing (an unknown one: ValueError)."""
    return scorer_kind(spec) is not NullScorer


def load_scorer(spec: str | None) -> Loaded:
    """The scorer named by ``spec`` and an identity string for run fingerprints."""
    entry, argument = scorer_entry(spec)
    return entry.load(argument)
