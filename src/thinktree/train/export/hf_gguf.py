"""The policy as a Hugging Face model, read from the GGUF file llama.cpp serves.

Training a LoRA on weights dequantised from the very Q4_K_M file that llama.cpp
runs means the adapter is trained against the base weights it will be served
over: there is no second checkpoint to fetch or keep in step, and nothing is read
from the Hugging Face hub (``HF_HUB_OFFLINE`` is set while loading).

Costs measured on this machine (2 cores shared with a running evaluation), 0.5B
model: the dequantised model loads in about 50 s; the tokenizer conversion from
the GGUF vocabulary takes about 12 s, a saved copy loads in under 1 s. So the
converted tokenizer is cached next to the model in
``<model file>.hf-tokenizer-<sha256 prefix>/`` (the file's sha256 costs ~1.5 s);
when that directory cannot be written the tokenizer is simply converted each time.

Surprise: the model comes back in float32 however the file is quantised; each
quantised matrix becomes the exact float values llama.cpp dequantises, but
llama.cpp multiplies in quantised arithmetic (activations rounded to 8 bits), so
logits agree closely, not bit for bit.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from thinktree.models.assemble import sha256_file


@contextmanager
def _offline() -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    os.environ.update({k: "1" for k in saved})
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def tokenizer_cache_dir(gguf_path: Path, sha256: str) -> Path:
    """Where the converted tokenizer of ``gguf_path`` is kept."""
    return gguf_path.with_name(f"{gguf_path.name}.hf-tokenizer-{sha256[:16]}")


def load_tokenizer_from_gguf(gguf_path: Path, sha256: str | None = None) -> Any:
    """The HF tokenizer of a GGUF model, converted once and then loaded from the cache.

    ``sha256`` (the file's digest) keys the cache; it is computed when not given.
    """
    from transformers import AutoTokenizer

    path = Path(gguf_path)
    cached = tokenizer_cache_dir(path, sha256 or sha256_file(path))
    with _offline():
        if (cached / "tokenizer_config.json").is_file():
            return AutoTokenizer.from_pretrained(str(cached))
        tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    try:
        staging = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{cached.name}."))
    except OSError:
        return tokenizer  # a read-only model directory: no cache
    try:
        tokenizer.save_pretrained(str(staging))
        os.replace(staging, cached)
    except OSError:
        pass  # another process cached it first, or the disk is full: both harmless
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return tokenizer


def load_hf_from_gguf(
    gguf_path: Path, dtype: torch.dtype = torch.float32, sha256: str | None = None
) -> tuple[Any, Any]:
    """``(model, tokenizer)`` dequantised from a GGUF model file, offline.

    The model is the architecture's ``*ForCausalLM`` in ``dtype`` and eval mode
    (~50 s for the 0.5B here). Raises ``ValueError`` with a one-line reason when the
    file is missing or transformers cannot read it.
    """
    from transformers import AutoModelForCausalLM

    path = Path(gguf_path)
    if not path.is_file():
        raise ValueError(f"model file {path} does not exist")
    try:
        tokenizer = load_tokenizer_from_gguf(path, sha256)
        with _offline():
            model = AutoModelForCausalLM.from_pretrained(
                str(path.parent), gguf_file=path.name, dtype=dtype
            )
    except (OSError, ValueError, KeyError) as exc:
        raise ValueError(f"transformers cannot load {path}: {exc}") from exc
    # The weights are dense float tensors now; the GGUF "quantizer" record that
    # transformers keeps would make the Trainer refuse to fine-tune them.
    model.hf_quantizer = None
    model.is_quantized = False
    model.config.__dict__.pop("quantization_config", None)
    model.eval()
    return model, tokenizer
