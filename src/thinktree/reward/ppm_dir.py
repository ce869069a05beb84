"""What a PPM directory is: ``ppm.json`` and the kind of PPM it describes.

Two kinds, told apart by ``ppm.json``'s ``"kind"``:

- ``"features"`` (or no ``"kind"``, as every feature PPM written so far): features
  and a small trained head, ``head.npz`` beside it (:mod:`thinktree.reward.ppm`);
- ``"lm"``: a LoRA adapter over the policy's base model, served by llama.cpp
  (:mod:`thinktree.reward.lm_ppm`).

Kept apart from both scorers so that each can read it without importing the other.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PPM_FILE = "ppm.json"
FEATURES_KIND = "features"
LM_KIND = "lm"
PPM_KINDS = (FEATURES_KIND, LM_KIND)


class PPMError(RuntimeError):
    """A PPM directory is missing or unreadable; the message says what to do."""


def read_ppm_json(directory: Path) -> dict[str, Any]:
    """``directory/ppm.json`` as a dict; PPMError with one line naming the file otherwise."""
    path = Path(directory) / PPM_FILE
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise PPMError(
            f"{directory} is not a trained PPM (no {PPM_FILE}); "
            "train one with: thinktree ppm train --runs RUN --out DIR"
        ) from None
    except (OSError, ValueError) as exc:
        raise PPMError(f"cannot read the PPM in {directory}: {path.name}: {exc}") from exc
    if not isinstance(data, dict):
        raise PPMError(f"cannot read the PPM in {directory}: {path.name} is not a JSON object")
    return data


def ppm_kind(directory: Path, config: dict[str, Any]) -> str:
    """The kind ``config`` (read from ``directory``) declares; PPMError for an unknown one."""
    kind = config.get("kind", FEATURES_KIND)
    if kind not in PPM_KINDS:
        raise PPMError(
            f"{Path(directory) / PPM_FILE}: unknown PPM kind {kind!r}; "
            f"this thinktree reads {' or '.join(repr(k) for k in PPM_KINDS)}"
        )
    return str(kind)
