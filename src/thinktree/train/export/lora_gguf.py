"""Convert a PEFT LoRA adapter into a llama.cpp GGUF adapter.

The adapter is served by llama.cpp over the unchanged quantised base file, so
training (on weights dequantised from that file, see :mod:`thinktree.train.export.hf_gguf`)
and serving share one set of base weights.

What is written: the base file's ``general.architecture``, ``general.type`` =
``adapter``, ``adapter.type`` = ``lora``, float32 ``adapter.lora.alpha``, and for
each adapted projection of block N the F32 tensors ``blk.N.<name>.weight.lora_a``
(PEFT's ``lora_A.weight`` as is, numpy shape ``(rank, n_in)``) and
``.lora_b`` (``lora_B.weight`` as is, ``(n_out, rank)``). llama.cpp computes
``W x + scale * alpha / rank * B (A x)`` with the rank read from each tensor, so
PEFT's ``rank_pattern`` carries over; everything it cannot express is refused
with a ``ValueError`` rather than served wrongly:

- adapters on ``embed_tokens`` / ``lm_head`` (llama.cpp rejects them, and our
  models tie or pair those matrices), ``modules_to_save``, trainable tokens;
- rsLoRA (PEFT scales by alpha/sqrt(rank), llama.cpp by alpha/rank), DoRA,
  per-module ``alpha_pattern``, LoRA biases, ``fan_in_fan_out``;
- any target other than the attention and MLP projections named in
  :data:`HF_TO_GGUF`, or a shape that does not fit the base file.

The output is written to a temporary file next to ``out`` and renamed into place,
so a killed export never leaves a half-written adapter under the final name.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from thinktree.train.export.staged import staged_file

HF_TO_GGUF: dict[str, str] = {
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}
"""HF module path inside ``model.layers.N`` -> llama.cpp tensor name inside ``blk.N``."""

TARGET_NAMES = frozenset(path.rsplit(".", 1)[1] for path in HF_TO_GGUF)
"""The short names PEFT's ``target_modules`` may list."""

EMBEDDING_NAMES = frozenset({"embed_tokens", "lm_head", "wte", "output"})

_KEY = re.compile(r"^base_model\.model\.model\.layers\.(\d+)\.(\w+\.\w+)\.lora_([AB])\.weight$")

# Config flags llama.cpp adapters cannot express; any truthy value is refused.
_UNSUPPORTED_FLAGS = (
    "use_dora",
    "use_rslora",
    "alpha_pattern",
    "lora_bias",
    "fan_in_fan_out",
    "modules_to_save",
    "trainable_token_indices",
    "layer_replication",
    "use_qalora",
    "use_bdlora",
    "alora_invocation_tokens",
)
_WHY = {
    "use_rslora": "llama.cpp scales by alpha/rank, not alpha/sqrt(rank); train without rsLoRA",
    "use_dora": "llama.cpp has no DoRA magnitude vectors; train plain LoRA",
    "alpha_pattern": "a llama.cpp adapter has one alpha; train with one lora_alpha",
    "modules_to_save": "only LoRA matrices can be served over the base file",
    "trainable_token_indices": "llama.cpp adapters cannot change embeddings",
}


@dataclass(frozen=True)
class BaseModelInfo:
    """What an export needs from the base GGUF: its architecture and tensor shapes."""

    architecture: str
    shapes: dict[str, tuple[int, ...]]
    """Tensor name -> shape in ggml ``ne`` order, i.e. ``(n_in, n_out)`` for a matrix."""


def read_base_info(base_gguf: Path) -> BaseModelInfo:
    """Architecture and tensor shapes of a GGUF model file.

    ``GGUFReader`` parses every metadata array (the 150k-token vocabulary too),
    which takes ~9 s for the 0.5B file here, so results are cached per file path,
    size and modification time.
    """
    path = Path(base_gguf).resolve()
    try:
        stat = path.stat()
    except OSError as exc:
        raise ValueError(f"base model {base_gguf} cannot be read: {exc.strerror}") from exc
    return _read_base_info(str(path), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=4)
def _read_base_info(path: str, size: int, mtime_ns: int) -> BaseModelInfo:
    from gguf import GGUFReader

    try:
        reader = GGUFReader(path)
        architecture = str(reader.fields["general.architecture"].contents())
    except (ValueError, KeyError, OSError) as exc:
        raise ValueError(f"{path} is not a GGUF model file ({exc})") from exc
    shapes = {t.name: tuple(int(d) for d in t.shape) for t in reader.tensors}
    return BaseModelInfo(architecture, shapes)


def gguf_tensor_name(peft_key: str) -> str:
    """The llama.cpp tensor name for one key of ``adapter_model.safetensors``.

    ``base_model.model.model.layers.3.mlp.up_proj.lora_B.weight`` ->
    ``blk.3.ffn_up.weight.lora_b``. Raises ``ValueError`` for anything that
    is not a LoRA matrix of a supported projection.
    """
    match = _KEY.match(peft_key)
    if match is None:
        if any(f".{name}." in peft_key for name in EMBEDDING_NAMES):
            raise ValueError(
                f"adapter tensor {peft_key} adapts an embedding or the output head; "
                "llama.cpp cannot serve that, target the attention/MLP projections only"
            )
        raise ValueError(f"adapter tensor {peft_key} is not a LoRA matrix llama.cpp can serve")
    block, module, side = match.groups()
    if module not in HF_TO_GGUF:
        raise ValueError(
            f"adapter tensor {peft_key} targets {module}; supported: {', '.join(HF_TO_GGUF)}"
        )
    return f"blk.{block}.{HF_TO_GGUF[module]}.weight.lora_{side.lower()}"


def read_adapter_config(adapter_dir: Path) -> dict[str, Any]:
    """``adapter_config.json`` of a PEFT LoRA adapter, refused unless llama.cpp can serve it."""
    path = Path(adapter_dir) / "adapter_config.json"
    try:
        config = json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"{adapter_dir} is not a PEFT adapter (no adapter_config.json)") from None
    except ValueError as exc:
        raise ValueError(f"{path} is not valid JSON: {exc}") from exc
    if config.get("peft_type") != "LORA":
        raise ValueError(f"{path}: peft_type is {config.get('peft_type')!r}, not 'LORA'")
    for flag in _UNSUPPORTED_FLAGS:
        if config.get(flag):
            why = _WHY.get(flag, "llama.cpp adapters cannot express it")
            raise ValueError(f"{path}: {flag} is set; {why}")
    if config.get("bias", "none") != "none":
        raise ValueError(f"{path}: bias={config['bias']!r}; llama.cpp adapters carry no biases")
    targets = config.get("target_modules")
    if isinstance(targets, list):
        names = {str(t).rsplit(".", 1)[-1] for t in targets}
        if names & EMBEDDING_NAMES:
            raise ValueError(
                f"{path}: target_modules includes {sorted(names & EMBEDDING_NAMES)}; llama.cpp "
                "cannot serve adapters on embeddings, target the attention/MLP projections only"
            )
        if names - TARGET_NAMES:
            raise ValueError(
                f"{path}: unsupported target_modules {sorted(names - TARGET_NAMES)}; "
                f"supported: {', '.join(sorted(TARGET_NAMES))}"
            )
    alpha = config.get("lora_alpha")
    if not isinstance(alpha, (int, float)) or alpha <= 0:
        raise ValueError(f"{path}: lora_alpha must be a positive number, got {alpha!r}")
    return config


def adapter_tensors(adapter_dir: Path, base: BaseModelInfo) -> dict[str, np.ndarray]:
    """llama.cpp name -> float32 matrix for every LoRA matrix, checked against ``base``."""
    from safetensors.torch import load_file

    path = Path(adapter_dir) / "adapter_model.safetensors"
    if not path.is_file():
        raise ValueError(f"{adapter_dir} has no adapter_model.safetensors (save with PEFT >= 0.6)")
    tensors: dict[str, np.ndarray] = {}
    for key, value in load_file(str(path)).items():
        tensors[gguf_tensor_name(key)] = value.float().contiguous().numpy()
    if not tensors:
        raise ValueError(f"{path} holds no LoRA matrices")
    for name in sorted(tensors):
        if not name.endswith(".lora_a"):
            continue
        weight = name.removesuffix(".lora_a")
        a, b = tensors[name], tensors.get(f"{weight}.lora_b")
        if b is None:
            raise ValueError(f"{path}: {weight} has lora_A but no lora_B")
        base_shape = base.shapes.get(weight)
        if base_shape is None:
            raise ValueError(f"{path}: the base model has no tensor {weight}; wrong base model?")
        n_in, n_out = base_shape
        if a.ndim != 2 or b.ndim != 2 or a.shape[1] != n_in or b.shape[0] != n_out:
            raise ValueError(
                f"{path}: {weight} has lora_A {a.shape} and lora_B {b.shape} but the base "
                f"matrix maps {n_in} inputs to {n_out} outputs; wrong base model?"
            )
        if a.shape[0] != b.shape[1]:
            raise ValueError(f"{path}: {weight} has rank {a.shape[0]} in A but {b.shape[1]} in B")
    missing = [n for n in tensors if n.endswith(".lora_b") and n[:-1] + "a" not in tensors]
    if missing:
        raise ValueError(f"{path}: {missing[0].removesuffix('.lora_b')} has lora_B but no lora_A")
    return tensors


def export_lora_gguf(adapter_dir: Path, base_gguf: Path, out: Path) -> Path:
    """Write ``adapter_dir`` (as ``PeftModel.save_pretrained`` left it) as a GGUF adapter.

    Returns ``out``. Raises ``ValueError`` with a one-line reason when the adapter
    cannot be served exactly by llama.cpp over ``base_gguf``; nothing is written then.
    """
    import gguf

    config = read_adapter_config(adapter_dir)
    base = read_base_info(base_gguf)
    tensors = adapter_tensors(adapter_dir, base)
    out = Path(out)
    with staged_file(out) as tmp:
        writer = gguf.GGUFWriter(str(tmp), base.architecture)
        writer.add_string(gguf.Keys.General.TYPE, gguf.GGUFType.ADAPTER)
        writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
        writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(config["lora_alpha"]))
        for name in sorted(tensors, key=_tensor_order):
            writer.add_tensor(name, tensors[name])
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
    return out


def _tensor_order(name: str) -> tuple[int, str]:
    return int(name.split(".")[1]), name
