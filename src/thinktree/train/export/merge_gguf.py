"""Merge a GGUF LoRA adapter into its base model file: one GGUF that needs no adapter.

The evolve run serves a round as the unchanged base file plus ``adapter.gguf``
(:mod:`thinktree.train.export.lora_gguf`); this module writes the alternative served
from one file (measured against it in BENCHMARKS.md): every adapted projection
becomes ``W + alpha / rank * B @ A`` (what llama.cpp computes at scale 1) and is
stored at ``Q8_0``; every other tensor (embeddings, norms, the output head) is
copied byte for byte, as is all metadata but ``general.file_type``, which would no
longer be true (llama.cpp infers the type when it is absent).

Why Q8_0 and not the base file's own types: the adapter's update is small
against a matrix's quantisation step, and re-quantising the merged weights to
4 or 5 bits rounds much of it away; Q8_0's step is 16 to 32 times finer. Merging
starts from llama.cpp's own dequantisation of the base file, so the merged
matrices are the served base weights plus the update, rounded once.

gguf-py does the (de)quantisation in numpy; the 0.5B merges in 15-25 s here.
Written to a temporary file and renamed, so a killed merge leaves nothing under
the final name.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from thinktree.models.assemble import sha256_file
from thinktree.models.policy import PPM_SUBDIR, Policy, read_policy, write_policy
from thinktree.models.resolve import resolve_policy
from thinktree.reward.ppm import is_trained_ppm
from thinktree.train.export.ship import copy_ppm
from thinktree.train.export.staged import staged_dir, staged_file

ADAPTER_SUFFIXES = (".lora_a", ".lora_b")
MERGED_FILE = "merged-q8_0.gguf"


def read_gguf_adapter(adapter_gguf: Path) -> tuple[float, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """``(alpha, {base tensor name: (A, B)})`` of a llama.cpp LoRA adapter file.

    ``A`` has numpy shape ``(rank, n_in)`` and ``B`` ``(n_out, rank)``, as
    :func:`thinktree.train.export.lora_gguf.export_lora_gguf` writes them.
    """
    import gguf

    try:
        reader = gguf.GGUFReader(str(adapter_gguf))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{adapter_gguf} is not a GGUF file ({exc})") from exc
    kind = reader.get_field(gguf.Keys.General.TYPE)
    if kind is None or kind.contents() != gguf.GGUFType.ADAPTER:
        raise ValueError(f"{adapter_gguf} is not a GGUF adapter (general.type is not 'adapter')")
    alpha_field = reader.get_field(gguf.Keys.Adapter.LORA_ALPHA)
    if alpha_field is None:
        raise ValueError(f"{adapter_gguf} has no {gguf.Keys.Adapter.LORA_ALPHA}")
    matrices: dict[str, dict[str, np.ndarray]] = {}
    for tensor in reader.tensors:
        weight, dot, side = tensor.name.rpartition(".")
        if not dot or f".{side}" not in ADAPTER_SUFFIXES:
            raise ValueError(f"{adapter_gguf}: tensor {tensor.name} is not a LoRA matrix")
        if tensor.tensor_type != gguf.GGMLQuantizationType.F32:
            raise ValueError(f"{adapter_gguf}: {tensor.name} is {tensor.tensor_type.name}, not F32")
        matrices.setdefault(weight, {})[side] = np.asarray(tensor.data, dtype=np.float32)
    pairs: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for weight, sides in matrices.items():
        if set(sides) != {"lora_a", "lora_b"}:
            raise ValueError(f"{adapter_gguf}: {weight} lacks one of lora_a, lora_b")
        pairs[weight] = (sides["lora_a"], sides["lora_b"])
    if not pairs:
        raise ValueError(f"{adapter_gguf} holds no LoRA matrices")
    return float(alpha_field.contents()), pairs


def merged_weight(base: np.ndarray, a: np.ndarray, b: np.ndarray, alpha: float) -> np.ndarray:
    """``base + alpha / rank * b @ a`` for a ``(n_out, n_in)`` float matrix."""
    rank = a.shape[0]
    return base + (alpha / rank) * (b.astype(np.float64) @ a.astype(np.float64)).astype(np.float32)


def merge_lora_gguf(
    base_gguf: Path,
    adapter_gguf: Path,
    out: Path,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Write ``base_gguf`` with ``adapter_gguf`` merged in (adapted matrices at Q8_0) to ``out``.

    ``progress(done, total)`` is called after each adapted matrix is merged.
    """
    import gguf
    from gguf.quants import dequantize, quantize

    alpha, pairs = read_gguf_adapter(adapter_gguf)
    try:
        reader = gguf.GGUFReader(str(base_gguf))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{base_gguf} is not a GGUF model file ({exc})") from exc
    tensors = {tensor.name: tensor for tensor in reader.tensors}
    missing = sorted(set(pairs) - set(tensors))
    if missing:
        raise ValueError(f"the base model has no tensor {missing[0]}; wrong base model?")
    q8 = gguf.GGMLQuantizationType.Q8_0
    merged: dict[str, np.ndarray] = {}
    for done, (name, (a, b)) in enumerate(pairs.items(), start=1):
        base = dequantize(tensors[name].data, tensors[name].tensor_type)
        if base.shape != (b.shape[0], a.shape[1]):
            raise ValueError(
                f"{adapter_gguf}: {name} maps {a.shape[1]} inputs to {b.shape[0]} outputs but "
                f"the base matrix maps {base.shape[1]} to {base.shape[0]}; wrong base model?"
            )
        merged[name] = quantize(merged_weight(base, a, b, alpha), q8)
        if progress is not None:
            progress(done, len(pairs))

    architecture = str(reader.get_field(gguf.Keys.General.ARCHITECTURE).contents())
    out = Path(out)
    with staged_file(out) as tmp:
        writer = gguf.GGUFWriter(str(tmp), architecture)
        for field in reader.fields.values():
            if field.name.startswith("GGUF.") or field.name in (
                gguf.Keys.General.ARCHITECTURE,
                gguf.Keys.General.FILE_TYPE,
            ):
                continue
            value_type = field.types[0]
            sub_type = field.types[-1] if value_type == gguf.GGUFValueType.ARRAY else None
            writer.add_key_value(field.name, field.contents(), value_type, sub_type=sub_type)
        for tensor in reader.tensors:
            data = merged.get(tensor.name, tensor.data)
            kind = q8 if tensor.name in merged else tensor.tensor_type
            writer.add_tensor_info(tensor.name, data.shape, data.dtype, data.nbytes, kind)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_ti_data_to_file()
        for tensor in reader.tensors:
            writer.write_tensor_data(merged.get(tensor.name, tensor.data))
        writer.close()
    return out


def merge_policy(
    source: Policy, dest: Path, progress: Callable[[int, int], None] | None = None
) -> Policy:
    """A policy directory ``dest`` that serves ``source``'s adapter merged into its base.

    ``dest`` gets the merged file, a ``policy.json`` naming it (same prompt style,
    the source's provenance plus ``merged_from``: the adapter's sha256) and a copy
    of the source's trained PPM (its ``ppm.json`` and head) when it has one, so
    ``--model DEST`` and ``--scorer ppm:DEST/ppm`` work as they did on the source.
    The directory is filled beside ``dest`` and swapped in whole. ValueError when
    there is nothing to merge.
    """
    if source.model is not None:
        raise ValueError(f"{source.directory} is already a merged policy ({source.model.name})")
    if source.adapter is None or source.adapter_sha256 is None:
        raise ValueError(f"{source.directory} names no adapter (round 0): nothing to merge")
    base = resolve_policy(source)  # checks the base file and the adapter's sha256
    dest = Path(dest)
    with staged_dir(dest) as staging:
        merged = merge_lora_gguf(base.path, source.adapter, staging / MERGED_FILE, progress)
        ppm = source.directory / PPM_SUBDIR
        if is_trained_ppm(ppm):
            copy_ppm(ppm, staging / PPM_SUBDIR)
        write_policy(
            Policy(
                directory=staging,
                name=dest.name,
                base=source.base,
                base_sha256=source.base_sha256,
                adapter=None,
                adapter_sha256=None,
                prompt_style=source.prompt_style,
                provenance={**source.provenance, "merged_from": source.adapter_sha256},
                model=merged,
                model_sha256=sha256_file(merged),
            )
        )
    return read_policy(dest, name=dest.name)
