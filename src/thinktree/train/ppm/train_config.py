"""``PPMTrainConfig``: which PPM ``thinktree ppm train`` trains and, for the feature PPM,
its features and cross-validation (the command's options are generated from it). The
head is :class:`~thinktree.train.ppm.head.HeadConfig`'s, the LM PPM
:class:`~thinktree.train.ppm.lm.config.LMPPMConfig`'s."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

PPM_KINDS = ("features", "lm")
FEATURE_KINDS = ("embedding", "handcrafted")
FEATURE_PPM_FIELDS = ("features", "seed_repeats")
"""The fields that set the feature PPM only (``feature_model`` is read only with
embedding features, so it is ignored wherever those are not trained)."""


class PPMTrainConfig(BaseModel):
    """The PPM a training makes: the feature PPM (MLP heads on features of the steps) or
    the LM PPM."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    # Not ``kind``: the head's kind (``--head``) has that name on the same command.
    ppm_kind: Literal["features", "lm"] = "features"
    """features: MLP heads on features of the steps; lm: a LoRA over the policy's base file that answers yes or no (options --lm-*)."""
    features: str = "handcrafted"
    """handcrafted, embedding or embedding+handcrafted (the defaults, five MLP heads on handcrafted features, measured best on 205 gsm8k pairs: BENCHMARKS.md)."""
    feature_model: str = "fast"
    """Model whose hidden states are used."""
    seed_repeats: int = Field(1, ge=1)
    """Repeat the cross-validation with this many head seeds."""
    max_minutes: float | None = Field(None, gt=0)
    """--kind lm: stop cleanly after this long, at a checkpoint (the same command resumes)."""
    checkpoint_file: Path | None = None
    """--kind lm: a file (kept in git, say) the checkpoint is exported to when the training stops or ends, and imported from when --out holds none as new: a fresh machine continues the run."""
    checkpoint_precision: Literal["exact", "compact"] = "compact"
    """--checkpoint-file's precision: exact (float32, resumes bit for bit) or compact (float16 weights, bfloat16 Adam moments: half the size)."""

    @model_validator(mode="before")
    @classmethod
    def _known_choices(cls, data: Any) -> Any:
        """Unknown choices in the command's words (pydantic's own would name the field)."""
        if not isinstance(data, dict):
            return data
        kind = data.get("ppm_kind", "features")
        if kind not in PPM_KINDS:
            raise ValueError(f"unknown --kind {kind!r}; use features or lm")
        features = data.get("features", "handcrafted")
        if not isinstance(features, str) or any(
            part not in FEATURE_KINDS for part in features.split("+")
        ):
            raise ValueError(
                f"unknown features {features!r}; use embedding, handcrafted or "
                "embedding+handcrafted"
            )
        return data

    @property
    def feature_kinds(self) -> tuple[str, ...]:
        """The kinds of features the PPM reads (``embedding+handcrafted``: both)."""
        return tuple(self.features.split("+"))
