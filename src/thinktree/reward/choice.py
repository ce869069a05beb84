"""``ScorerChoice``: the scorer a command uses, by its spec (``none``, ``outcome``,
``ppm:DIR``), checked against the registry before anything is loaded; not given, the
command decides it from the search and the model. ``solve``'s,
``eval``'s and ``rescore``'s ``--scorer`` options are generated from it (each command's
model words the help its own way; the check is this one)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, model_validator


class ScorerChoice(BaseModel):
    """The scorer of a search or a selection, named as ``NAME`` or ``NAME:ARGUMENT``."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    scorer: str | None = None
    """none, outcome or ppm:DIR. Not given: mcts, best_of_n and beam score with the
    verifier shipped with the model, where one ships; any other search with none."""

    @model_validator(mode="after")
    def _known(self) -> ScorerChoice:
        """An unknown spec in the registry's words (a field error would prefix its name).
        The registry is imported here, with the command that checks a spec."""
        from thinktree.reward.registry import scorer_entry

        if self.scorer is not None:
            scorer_entry(self.scorer)
        return self


class GoldScorerChoice(ScorerChoice):
    """``solve``'s scorer and the known answer an outcome scorer values answers by."""

    scorer: str | None = None
    """none, outcome (needs --gold) or ppm:DIR. Not given: mcts, best_of_n and beam score
    with the verifier shipped with the model, where one ships; any other search with none."""
    gold: str | None = None
    """The known answer (for --scorer outcome)."""
