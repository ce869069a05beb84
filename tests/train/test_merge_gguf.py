"""A GGUF LoRA adapter merged into its base file: exact weights, copied metadata, refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

gguf = pytest.importorskip("gguf")

from gguf.quants import dequantize, quantize  # noqa: E402

from thinktree.train.export.merge_gguf import merge_lora_gguf, read_gguf_adapter  # noqa: E402

Q8 = gguf.GGMLQuantizationType.Q8_0
F32 = gguf.GGMLQuantizationType.F32
RNG = np.random.default_rng(7)
# n_out x n_in of each base matrix (Q8_0 blocks run along n_in in 32s).
SHAPES = {"blk.0.attn_q.weight": (64, 96), "blk.0.attn_k.weight": (32, 64)}
EMBEDDING = RNG.standard_normal((16, 64)).astype(np.float32)
BASE = {
    "blk.0.attn_q.weight": RNG.standard_normal(SHAPES["blk.0.attn_q.weight"]).astype(np.float32),
    "blk.0.attn_k.weight": RNG.standard_normal(SHAPES["blk.0.attn_k.weight"]).astype(np.float32),
}
LORA = {
    name: (
        RNG.standard_normal((2, n_in)).astype(np.float32),
        RNG.standard_normal((n_out, 2)).astype(np.float32) * 0.1,
    )
    for name, (n_out, n_in) in SHAPES.items()
}


def write_base(path: Path) -> Path:
    """attn_q at Q8_0, attn_k at F32, an F32 embedding, and metadata of three kinds."""
    writer = gguf.GGUFWriter(str(path), "qwen2")
    writer.add_name("tiny")
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_Q4_K_M)
    writer.add_uint32("qwen2.block_count", 1)
    writer.add_token_list(["a", "b", "c"])
    writer.add_tensor("token_embd.weight", EMBEDDING)
    q = quantize(BASE["blk.0.attn_q.weight"], Q8)
    writer.add_tensor("blk.0.attn_q.weight", q, raw_shape=q.shape, raw_dtype=Q8)
    writer.add_tensor("blk.0.attn_k.weight", BASE["blk.0.attn_k.weight"])
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def write_adapter(
    path: Path, lora: dict[str, tuple[np.ndarray, np.ndarray]], alpha: float = 4.0
) -> Path:
    writer = gguf.GGUFWriter(str(path), "qwen2")
    writer.add_string(gguf.Keys.General.TYPE, gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, alpha)
    for name, (a, b) in lora.items():
        writer.add_tensor(f"{name}.lora_a", a)
        writer.add_tensor(f"{name}.lora_b", b)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def tensors(path: Path) -> dict[str, object]:
    return {t.name: t for t in gguf.GGUFReader(str(path)).tensors}


def test_adapted_matrices_become_base_plus_update_at_q8_0(tmp_path: Path) -> None:
    base = write_base(tmp_path / "base.gguf")
    adapter = write_adapter(tmp_path / "adapter.gguf", LORA)
    out = merge_lora_gguf(base, adapter, tmp_path / "merged.gguf")

    merged = tensors(out)
    assert list(merged) == ["token_embd.weight", "blk.0.attn_q.weight", "blk.0.attn_k.weight"]
    served = {  # what llama.cpp serves of the base file
        "blk.0.attn_q.weight": dequantize(quantize(BASE["blk.0.attn_q.weight"], Q8), Q8),
        "blk.0.attn_k.weight": BASE["blk.0.attn_k.weight"],
    }
    for name, weight in served.items():
        a, b = LORA[name]
        expected = quantize(weight + (4.0 / 2) * (b.astype(np.float64) @ a).astype(np.float32), Q8)
        assert merged[name].tensor_type == Q8
        np.testing.assert_array_equal(merged[name].data, expected)
        update = dequantize(merged[name].data, Q8) - weight
        np.testing.assert_allclose(update, 2.0 * b @ a, atol=0.05)
    assert merged["token_embd.weight"].tensor_type == F32
    np.testing.assert_array_equal(merged["token_embd.weight"].data, EMBEDDING)


def test_metadata_is_copied_except_the_file_type(tmp_path: Path) -> None:
    base = write_base(tmp_path / "base.gguf")
    adapter = write_adapter(tmp_path / "adapter.gguf", LORA)
    fields = gguf.GGUFReader(str(merge_lora_gguf(base, adapter, tmp_path / "m.gguf"))).fields
    assert fields["general.architecture"].contents() == "qwen2"
    assert fields["general.name"].contents() == "tiny"
    assert fields["qwen2.block_count"].contents() == 1
    assert fields["tokenizer.ggml.tokens"].contents() == ["a", "b", "c"]
    assert "general.file_type" not in fields


def test_the_adapter_is_read_as_written(tmp_path: Path) -> None:
    alpha, pairs = read_gguf_adapter(write_adapter(tmp_path / "a.gguf", LORA, alpha=8.0))
    assert alpha == 8.0
    assert sorted(pairs) == sorted(LORA)
    for name, (a, b) in pairs.items():
        np.testing.assert_array_equal(a, LORA[name][0])
        np.testing.assert_array_equal(b, LORA[name][1])


def test_refusals_are_one_line_and_write_nothing(tmp_path: Path) -> None:
    base = write_base(tmp_path / "base.gguf")
    out = tmp_path / "merged.gguf"
    cases = [
        (base, "is not a GGUF adapter"),
        (tmp_path / "absent.gguf", "is not a GGUF file"),
        (write_adapter(tmp_path / "other.gguf", {"blk.9.attn_q.weight": LORA["blk.0.attn_q.weight"]}),
         "no tensor blk.9.attn_q.weight; wrong base model"),
        (write_adapter(tmp_path / "wide.gguf", {"blk.0.attn_k.weight": LORA["blk.0.attn_q.weight"]}),
         "maps 96 inputs to 64 outputs but the base matrix maps 64 to 32"),
        (_half_adapter(tmp_path / "half.gguf"), "lacks one of lora_a, lora_b"),
    ]  # fmt: skip
    for adapter, message in cases:
        with pytest.raises(
            ValueError, match=message.replace("(", r"\(").replace(")", r"\)")
        ) as info:
            merge_lora_gguf(base, adapter, out)
        assert "\n" not in str(info.value)
    assert sorted(p.name for p in tmp_path.iterdir() if "merged" in p.name) == []


def _half_adapter(path: Path) -> Path:
    writer = gguf.GGUFWriter(str(path), "qwen2")
    writer.add_string(gguf.Keys.General.TYPE, gguf.GGUFType.ADAPTER)
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, 4.0)
    writer.add_tensor("blk.0.attn_q.weight.lora_a", LORA["blk.0.attn_q.weight"][0])
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_a_killed_merge_keeps_the_previous_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = write_base(tmp_path / "base.gguf")
    adapter = write_adapter(tmp_path / "adapter.gguf", LORA)
    out = tmp_path / "merged.gguf"
    out.write_bytes(b"previous")

    def killed(self: object, tensor: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(gguf.GGUFWriter, "write_tensor_data", killed)
    with pytest.raises(KeyboardInterrupt):
        merge_lora_gguf(base, adapter, out)
    assert out.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".merged")] == []
