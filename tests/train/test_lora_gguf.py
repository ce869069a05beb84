"""PEFT LoRA -> llama.cpp GGUF adapter: names, refusals, atomic writes, and served parity."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
gguf = pytest.importorskip("gguf")
pytest.importorskip("peft")

from safetensors.torch import save_file  # noqa: E402

from thinktree.engines.base import CompletionRequest, EngineError  # noqa: E402
from thinktree.engines.llamacpp import LlamaCppEngine, LlamaCppOptions  # noqa: E402
from thinktree.models import resolve_model  # noqa: E402
from thinktree.train.export.hf_gguf import load_hf_from_gguf, tokenizer_cache_dir  # noqa: E402
from thinktree.train.export.lora_gguf import (  # noqa: E402
    export_lora_gguf,
    gguf_tensor_name,
    read_base_info,
)
from thinktree.train.export.parity import (  # noqa: E402
    measure_adapter_parity,
    split_text,
    teacher_forced_agreement,
)

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
# (module path, n_in, n_out) of Qwen2.5-0.5B: hidden 896, 2 KV heads of 64, MLP 4864.
QWEN05_SHAPES = {
    "self_attn.q_proj": (896, 896),
    "self_attn.k_proj": (896, 128),
    "self_attn.v_proj": (896, 128),
    "self_attn.o_proj": (896, 896),
    "mlp.gate_proj": (896, 4864),
    "mlp.up_proj": (896, 4864),
    "mlp.down_proj": (4864, 896),
}
PREFIX = "base_model.model.model.layers"


@pytest.fixture(scope="module")
def base_gguf() -> Path:
    return resolve_model("fast").path


def write_adapter(
    directory: Path,
    *,
    layers: tuple[int, ...] = (0, 23),
    rank: int = 2,
    config: dict[str, Any] | None = None,
    edit: Callable[[dict[str, Any]], None] | None = None,
) -> Path:
    """A PEFT-shaped adapter dir for the 0.5B; ``edit`` may change its tensors."""
    gen = torch.Generator().manual_seed(1)
    tensors: dict[str, Any] = {}
    for layer in layers:
        for module, (n_in, n_out) in QWEN05_SHAPES.items():
            key = f"{PREFIX}.{layer}.{module}"
            tensors[f"{key}.lora_A.weight"] = torch.randn(rank, n_in, generator=gen)
            tensors[f"{key}.lora_B.weight"] = torch.randn(n_out, rank, generator=gen)
    if edit is not None:
        edit(tensors)
    directory.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(directory / "adapter_model.safetensors"))
    settings = {
        "peft_type": "LORA",
        "r": rank,
        "lora_alpha": 4,
        "target_modules": TARGETS,
        "bias": "none",
        "use_rslora": False,
        "use_dora": False,
        "alpha_pattern": {},
        "rank_pattern": {},
        "modules_to_save": None,
    }
    settings.update(config or {})
    (directory / "adapter_config.json").write_text(json.dumps(settings))
    return directory


# -- names ----------------------------------------------------------------------------------

NAME_CASES = [
    (f"{PREFIX}.0.self_attn.q_proj.lora_A.weight", "blk.0.attn_q.weight.lora_a"),
    (f"{PREFIX}.0.self_attn.k_proj.lora_B.weight", "blk.0.attn_k.weight.lora_b"),
    (f"{PREFIX}.7.self_attn.v_proj.lora_A.weight", "blk.7.attn_v.weight.lora_a"),
    (f"{PREFIX}.12.self_attn.o_proj.lora_B.weight", "blk.12.attn_output.weight.lora_b"),
    (f"{PREFIX}.3.mlp.gate_proj.lora_A.weight", "blk.3.ffn_gate.weight.lora_a"),
    (f"{PREFIX}.3.mlp.up_proj.lora_B.weight", "blk.3.ffn_up.weight.lora_b"),
    (f"{PREFIX}.23.mlp.down_proj.lora_A.weight", "blk.23.ffn_down.weight.lora_a"),
]


@pytest.mark.parametrize(("peft_key", "gguf_name"), NAME_CASES)
def test_peft_keys_map_to_llamacpp_names(peft_key: str, gguf_name: str) -> None:
    assert gguf_tensor_name(peft_key) == gguf_name


@pytest.mark.parametrize(
    ("peft_key", "message"),
    [
        ("base_model.model.lm_head.lora_A.weight", "embedding or the output head"),
        ("base_model.model.model.embed_tokens.lora_embedding_A", "embedding or the output head"),
        (f"{PREFIX}.0.mlp.experts.lora_A.weight", "targets mlp.experts"),
        (f"{PREFIX}.0.self_attn.q_proj.lora_magnitude_vector", "not a LoRA matrix"),
        (f"{PREFIX}.0.self_attn.q_proj.lora_B.bias", "not a LoRA matrix"),
    ],
)
def test_unservable_keys_are_refused(peft_key: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        gguf_tensor_name(peft_key)


# -- export ---------------------------------------------------------------------------------


def test_export_writes_the_adapter_llamacpp_expects(tmp_path: Path, base_gguf: Path) -> None:
    adapter = write_adapter(tmp_path / "adapter")
    out = export_lora_gguf(adapter, base_gguf, tmp_path / "out" / "policy.gguf")
    assert out == tmp_path / "out" / "policy.gguf"
    assert sorted(p.name for p in out.parent.iterdir()) == ["policy.gguf"]  # no temp left
    reader = gguf.GGUFReader(out)
    fields = {k: f.contents() for k, f in reader.fields.items() if not k.startswith("GGUF.")}
    assert fields == {
        "general.architecture": "qwen2",
        "general.type": "adapter",
        "adapter.type": "lora",
        "adapter.lora.alpha": 4.0,
    }
    assert reader.fields["adapter.lora.alpha"].types == [gguf.GGUFValueType.FLOAT32]
    tensors = {t.name: t for t in reader.tensors}
    assert len(tensors) == 2 * 7 * 2
    q_a, down_b = tensors["blk.0.attn_q.weight.lora_a"], tensors["blk.23.ffn_down.weight.lora_b"]
    assert (tuple(q_a.shape), q_a.tensor_type) == ((896, 2), gguf.GGMLQuantizationType.F32)
    assert tuple(down_b.shape) == (2, 896)  # ne order: (rank, n_out)
    assert tuple(tensors["blk.23.attn_k.weight.lora_b"].data.shape) == (128, 2)
    source = json.loads((adapter / "adapter_config.json").read_text())
    assert source["lora_alpha"] == 4
    from safetensors.torch import load_file

    peft = load_file(str(adapter / "adapter_model.safetensors"))
    assert (q_a.data == peft[f"{PREFIX}.0.self_attn.q_proj.lora_A.weight"].numpy()).all()
    assert (down_b.data == peft[f"{PREFIX}.23.mlp.down_proj.lora_B.weight"].numpy()).all()


def test_base_shapes_are_read_in_ne_order(base_gguf: Path) -> None:
    info = read_base_info(base_gguf)
    assert info.architecture == "qwen2"
    for module, gguf_name in [("self_attn.k_proj", "attn_k"), ("mlp.down_proj", "ffn_down")]:
        assert info.shapes[f"blk.5.{gguf_name}.weight"] == QWEN05_SHAPES[module]


def _drop_b(tensors: dict[str, Any]) -> None:
    del tensors[f"{PREFIX}.0.mlp.up_proj.lora_B.weight"]


def _drop_a(tensors: dict[str, Any]) -> None:
    del tensors[f"{PREFIX}.0.mlp.up_proj.lora_A.weight"]


def _wrong_width(tensors: dict[str, Any]) -> None:  # a 1.5B adapter has hidden size 1536
    tensors[f"{PREFIX}.0.self_attn.q_proj.lora_A.weight"] = torch.zeros(2, 1536)


def _wrong_rank(tensors: dict[str, Any]) -> None:
    tensors[f"{PREFIX}.0.self_attn.q_proj.lora_B.weight"] = torch.zeros(896, 3)


def _embedding(tensors: dict[str, Any]) -> None:
    tensors["base_model.model.lm_head.lora_A.weight"] = torch.zeros(2, 896)


REFUSALS: list[tuple[dict[str, Any], Callable[[dict[str, Any]], None] | None, str]] = [
    ({"use_rslora": True}, None, "use_rslora is set; llama.cpp scales by alpha/rank"),
    ({"use_dora": True}, None, "use_dora is set"),
    ({"alpha_pattern": {"q_proj": 32}}, None, "alpha_pattern is set"),
    ({"modules_to_save": ["lm_head"]}, None, "modules_to_save is set"),
    ({"bias": "all"}, None, "bias='all'"),
    ({"peft_type": "IA3"}, None, "peft_type is 'IA3'"),
    ({"lora_alpha": 0}, None, "lora_alpha must be a positive number"),
    ({"target_modules": [*TARGETS, "lm_head"]}, None, r"includes \['lm_head'\]"),
    ({"target_modules": ["q_proj", "c_attn"]}, None, r"unsupported target_modules \['c_attn'\]"),
    ({}, _embedding, "embedding or the output head"),
    ({}, _drop_b, "blk.0.ffn_up.weight has lora_A but no lora_B"),
    ({}, _drop_a, "blk.0.ffn_up.weight has lora_B but no lora_A"),
    ({}, _wrong_width, r"lora_A \(2, 1536\) .* maps 896 inputs to 896 outputs; wrong base"),
    ({}, _wrong_rank, "rank 2 in A but 3 in B"),
]


@pytest.mark.parametrize(("config", "edit", "message"), REFUSALS)
def test_unservable_adapters_are_refused_and_nothing_is_written(
    tmp_path: Path,
    base_gguf: Path,
    config: dict[str, Any],
    edit: Callable[[dict[str, Any]], None] | None,
    message: str,
) -> None:
    adapter = write_adapter(tmp_path / "adapter", config=config, edit=edit)
    out_dir = tmp_path / "out"
    with pytest.raises(ValueError, match=message):
        export_lora_gguf(adapter, base_gguf, out_dir / "policy.gguf")
    assert not out_dir.exists() or list(out_dir.iterdir()) == []


def test_an_adapter_for_more_layers_than_the_base_is_refused(
    tmp_path: Path, base_gguf: Path
) -> None:
    adapter = write_adapter(tmp_path / "adapter", layers=(24,))
    with pytest.raises(ValueError, match=r"base model has no tensor blk\.24\.attn_k\.weight"):
        export_lora_gguf(adapter, base_gguf, tmp_path / "policy.gguf")


def test_missing_pieces_are_one_line_errors(tmp_path: Path, base_gguf: Path) -> None:
    with pytest.raises(ValueError, match="is not a PEFT adapter"):
        export_lora_gguf(tmp_path, base_gguf, tmp_path / "a.gguf")
    (tmp_path / "adapter_config.json").write_text("{not json")
    with pytest.raises(ValueError, match="is not valid JSON"):
        export_lora_gguf(tmp_path, base_gguf, tmp_path / "a.gguf")
    adapter = write_adapter(tmp_path / "adapter")
    (adapter / "adapter_model.safetensors").unlink()
    with pytest.raises(ValueError, match=r"has no adapter_model\.safetensors"):
        export_lora_gguf(adapter, base_gguf, tmp_path / "a.gguf")
    adapter = write_adapter(tmp_path / "adapter")
    with pytest.raises(ValueError, match="cannot be read"):
        export_lora_gguf(adapter, tmp_path / "missing.gguf", tmp_path / "a.gguf")
    bogus = tmp_path / "bogus.gguf"
    bogus.write_bytes(b"not a gguf file at all")
    with pytest.raises(ValueError, match="is not a GGUF model file"):
        export_lora_gguf(adapter, bogus, tmp_path / "a.gguf")


def test_a_failed_write_keeps_the_previous_adapter(
    tmp_path: Path, base_gguf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "policy.gguf"
    out.write_bytes(b"previous round")
    adapter = write_adapter(tmp_path / "adapter")

    def killed(self: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(gguf.GGUFWriter, "write_tensors_to_file", killed)
    with pytest.raises(KeyboardInterrupt):
        export_lora_gguf(adapter, base_gguf, out)
    assert out.read_bytes() == b"previous round"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adapter", "policy.gguf"]


# -- HF loading and parity counting ---------------------------------------------------------


def test_hf_loading_errors_and_cache_name(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        load_hf_from_gguf(tmp_path / "missing.gguf")
    model = tmp_path / "m.gguf"
    assert tokenizer_cache_dir(model, "ab" * 32) == tmp_path / f"m.gguf.hf-tokenizer-{'ab' * 8}"


class CharTokenizer:
    """One id per character."""

    def __call__(self, text: str, add_special_tokens: bool) -> dict[str, list[int]]:
        assert add_special_tokens is False  # the ids must be the text's alone
        return {"input_ids": [ord(c) for c in text]}


class NextCharModel:
    """A "model" whose argmax after each character is the next character code."""

    def __call__(self, input_ids: Any) -> Any:
        ids = input_ids[0]
        logits = torch.zeros(1, len(ids), 256)
        logits[0, torch.arange(len(ids)), ids + 1] = 1.0
        return type("Output", (), {"logits": logits})()


class ScriptedServer:
    """Agrees with NextCharModel with the adapter; at scale 0 only after even-length prefixes."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, float | None]] = []

    def greedy_next_token(self, token_ids: Any, lora_scale: float | None = None) -> int:
        self.calls.append((len(token_ids), lora_scale))
        if lora_scale is None or len(token_ids) % 2 == 0:
            return token_ids[-1] + 1
        return 0

    def tokenize(self, text: str) -> list[int]:
        return [0] if text == "cde" else [ord(c) for c in text]


def test_texts_split_into_prompt_and_solution_tokens() -> None:
    assert split_text(("ab", "cd"), CharTokenizer()) == ([97, 98], [99, 100])
    assert split_text("abc", CharTokenizer()) == ([97], [98, 99])
    assert split_text("", CharTokenizer()) == ([], [])


def test_agreement_counts_teacher_forced_positions_exactly() -> None:
    server = ScriptedServer()
    texts = [("ab", "cde"), "xyz", ("q", "rs")]
    report = teacher_forced_agreement(NextCharModel(), CharTokenizer(), server, texts, 4)
    assert (report.positions, report.agree, report.base_agree) == (4, 1.0, 0.5)
    assert (report.texts, report.tokenization_mismatches) == (2, 1)
    assert server.calls == [
        (2, None), (3, None), (4, None), (2, 0.0), (3, 0.0), (4, 0.0), (1, None), (1, 0.0)
    ]  # fmt: skip


def test_agreement_needs_positions() -> None:
    server = ScriptedServer()
    with pytest.raises(ValueError, match="no text has a solution token"):
        teacher_forced_agreement(NextCharModel(), CharTokenizer(), server, [("ab", ""), "a"], 8)
    with pytest.raises(ValueError, match="max_positions must be at least 1"):
        teacher_forced_agreement(NextCharModel(), CharTokenizer(), server, ["abc"], 0)
    assert server.calls == []


def test_adapter_parity_refuses_before_loading(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least one text"):
        measure_adapter_parity(tmp_path / "m.gguf", tmp_path, tmp_path / "a.gguf", [], 8)
    with pytest.raises(ValueError, match=r"adapter .*a\.gguf does not exist"):
        measure_adapter_parity(tmp_path / "m.gguf", tmp_path, tmp_path / "a.gguf", ["ab"], 8)


# -- served parity (real model) -------------------------------------------------------------

TEXTS = [
    (
        "Question: Tom has 3 apples and buys 5 more. How many apples does he have?\n",
        "```python\n# Tom starts with 3 apples and buys 5.\napples = 3 + 5\nprint(apples)\n"
        "```\nOutput: 8\nAnswer: \\boxed{8}",
    ),
    (
        "Question: A shop sells pens at 3 dollars each. Ana buys 4 pens and pays with a "
        "20-dollar bill. How much change does she get?\n",
        "```python\n# Ana pays 3 dollars for each of 4 pens.\ncost = 3 * 4\nprint(cost)\n```\n"
        "Output: 12\n```python\n# Her change is 20 minus the cost.\nchange = 20 - cost\n"
        "print(change)\n```\nOutput: 8\nAnswer: \\boxed{8}",
    ),
]


@pytest.fixture(scope="module")
def peft_policy(tmp_path_factory: pytest.TempPathFactory, base_gguf: Path) -> Iterator[Any]:
    """A random (non-zero) LoRA of the 0.5B, saved by PEFT and exported: (tokenizer, dir, gguf)."""
    from peft import LoraConfig, get_peft_model

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # spinning OpenMP threads crawl when other work holds the cores
    model, tokenizer = load_hf_from_gguf(base_gguf, sha256=resolve_model("fast").sha256)
    torch.manual_seed(0)
    policy = get_peft_model(
        model, LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0, target_modules=TARGETS)
    )
    for name, parameter in policy.named_parameters():
        if "lora_B" in name:  # PEFT starts B at zero, which would change nothing
            torch.nn.init.normal_(parameter, std=0.02)
    directory = tmp_path_factory.mktemp("policy")
    policy.save_pretrained(str(directory / "peft"))
    del policy, model  # measure_adapter_parity loads its own copy from disk
    exported = export_lora_gguf(directory / "peft", base_gguf, directory / "policy.gguf")
    yield tokenizer, directory / "peft", exported
    torch.set_num_threads(threads)


def _engine(
    model: Path, lora: tuple[tuple[str, float], ...] = (), cache_ram_mib: int = 0
) -> LlamaCppEngine:
    options = LlamaCppOptions(
        n_parallel=1, ctx_per_slot=1024, threads=1, cache_ram_mib=cache_ram_mib, lora=lora
    )
    return LlamaCppEngine(model, options)


@pytest.mark.model
def test_llamacpp_serves_the_peft_policy(peft_policy: Any, base_gguf: Path) -> None:
    tokenizer, peft_dir, exported = peft_policy
    prompt, other = TEXTS[0][0], TEXTS[1][0]
    greedy = CompletionRequest(prompt, max_tokens=24)
    with _engine(base_gguf) as base:
        base_text = base.complete([greedy])[0][0].text
        prompt_ids, other_ids = base.tokenize(prompt), base.tokenize(other)
        first, other_first = base.greedy_next_token(prompt_ids), base.greedy_next_token(other_ids)
        assert base_text.startswith(tokenizer.decode([first]))
        assert base.greedy_next_token(prompt_ids, lora_scale=0.0) == first
        with pytest.raises(EngineError, match="needs an engine started with a LoRA adapter"):
            base.greedy_next_token(prompt_ids, lora_scale=1.0)
    adapter = ((str(exported), 1.0),)
    with _engine(base_gguf, adapter, cache_ram_mib=64) as cached:
        assert cached.greedy_next_token(other_ids, lora_scale=1.0) == cached.greedy_next_token(
            other_ids
        )
        with pytest.raises(EngineError, match=r"needs LlamaCppOptions\(cache_ram_mib=0\)"):
            cached.greedy_next_token(prompt_ids, lora_scale=0.0)
    with _engine(base_gguf, adapter) as served:
        adapted_text = served.complete([greedy])[0][0].text
        assert adapted_text != base_text
        # No KV entry computed at one scale may serve another (each of these failed once).
        served.greedy_next_token(other_ids)
        assert served.greedy_next_token(prompt_ids, lora_scale=0.0) == first
        assert served.greedy_next_token(other_ids, lora_scale=0.0) == other_first
        assert served.complete([greedy])[0][0].text == adapted_text
    report = measure_adapter_parity(base_gguf, peft_dir, exported, TEXTS, 64, threads=1)
    # Measured: agree 1.0, base_agree 0.906 over these 64 positions (1.0 / 0.922 over 116).
    assert (report.positions, report.texts, report.tokenization_mismatches) == (64, 2, 0)
    assert report.agree >= 0.95
    assert report.base_agree < report.agree - 0.05
