"""A tiny random Qwen2 model twice over: as a transformers model and as the F32 GGUF
file llama.cpp loads, with the same weights, so that a LoRA adapter's scores can be
compared between PEFT and llama.cpp in seconds instead of on the 0.5B file.

The vocabulary is byte-level BPE as Qwen2's (GPT-2's byte-to-character map, the
``qwen2`` pre-tokenizer): the 256 byte tokens, a few merges that make `` yes`` and
`` no`` single tokens, and ``<|endoftext|>``. No HF tokenizer is built: texts are
tokenised by llama.cpp (``/tokenize``) and both models read those ids.

The weights are drawn larger than transformers' initialisation (std 0.02 would
make every next-token distribution nearly uniform and any comparison vacuous).
llama.cpp's qwen2 uses NeoX rope, as HF does, so Q and K are written unpermuted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gguf
import numpy as np
import torch

MERGES = ["Ġ y", "Ġy e", "Ġye s", "Ġ n", "Ġn o"]
EOS = "<|endoftext|>"
HIDDEN, INTERMEDIATE, LAYERS, HEADS, KV_HEADS = 64, 128, 2, 4, 2
ROPE_THETA = 1_000_000.0
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def byte_tokens() -> list[str]:
    """GPT-2's printable character for each byte, in byte order."""
    printable = list(range(ord("!"), ord("~") + 1))
    printable += list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    chars = {}
    extra = 0
    for b in range(256):
        if b in printable:
            chars[b] = chr(b)
        else:
            chars[b] = chr(256 + extra)
            extra += 1
    return [chars[b] for b in range(256)]


def vocabulary() -> list[str]:
    return byte_tokens() + [m.replace(" ", "") for m in MERGES] + [EOS]


def token_id(token: str) -> int:
    """Id of `` yes`` / `` no`` (written with a space) in :func:`vocabulary`."""
    return vocabulary().index(token.replace(" ", "Ġ"))


def hf_model(seed: int = 0) -> Any:
    """The random transformers model (float32, eval mode)."""
    from transformers import Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(
        vocab_size=len(vocabulary()),
        hidden_size=HIDDEN,
        intermediate_size=INTERMEDIATE,
        num_hidden_layers=LAYERS,
        num_attention_heads=HEADS,
        num_key_value_heads=KV_HEADS,
        max_position_embeddings=1024,
        rope_theta=ROPE_THETA,
        rms_norm_eps=1e-6,
        tie_word_embeddings=False,
        attn_implementation="eager",
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith("norm.weight"):
                parameter.copy_(1.0 + 0.1 * torch.randn_like(parameter))
            elif name.endswith("bias"):
                parameter.copy_(0.1 * torch.randn_like(parameter))
            else:
                parameter.copy_(torch.randn_like(parameter) / parameter.shape[-1] ** 0.5)
    return model.eval()


def _gguf_name(hf_name: str) -> str:
    names = {
        "model.embed_tokens.weight": "token_embd.weight",
        "model.norm.weight": "output_norm.weight",
        "lm_head.weight": "output.weight",
    }
    if hf_name in names:
        return names[hf_name]
    _, _, block, *rest = hf_name.split(".")
    inner = {
        "input_layernorm": "attn_norm",
        "post_attention_layernorm": "ffn_norm",
        "self_attn.q_proj": "attn_q",
        "self_attn.k_proj": "attn_k",
        "self_attn.v_proj": "attn_v",
        "self_attn.o_proj": "attn_output",
        "mlp.gate_proj": "ffn_gate",
        "mlp.up_proj": "ffn_up",
        "mlp.down_proj": "ffn_down",
    }[".".join(rest[:-1])]
    return f"blk.{block}.{inner}.{rest[-1]}"


def write_gguf(model: Any, path: Path) -> Path:
    """``model`` as an all-F32 qwen2 GGUF file llama.cpp loads."""
    config = model.config
    writer = gguf.GGUFWriter(str(path), "qwen2")
    writer.add_name("tiny-qwen2")
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_context_length(config.max_position_embeddings)
    writer.add_embedding_length(config.hidden_size)
    writer.add_block_count(config.num_hidden_layers)
    writer.add_feed_forward_length(config.intermediate_size)
    writer.add_head_count(config.num_attention_heads)
    writer.add_head_count_kv(config.num_key_value_heads)
    writer.add_rope_freq_base(ROPE_THETA)
    writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    tokens = vocabulary()
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("qwen2")
    writer.add_token_list(tokens)
    writer.add_token_types(
        [gguf.TokenType.CONTROL if t == EOS else gguf.TokenType.NORMAL for t in tokens]
    )
    writer.add_token_merges(MERGES)
    writer.add_bos_token_id(tokens.index(EOS))
    writer.add_eos_token_id(tokens.index(EOS))
    writer.add_add_bos_token(False)
    for name, tensor in model.state_dict().items():
        writer.add_tensor(_gguf_name(name), tensor.detach().float().numpy().copy())
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def random_lora(model: Any, rank: int = 4, alpha: float = 8.0, seed: int = 1) -> Any:
    """``model`` wrapped in a PEFT LoRA on every projection, A and B random (PEFT
    starts B at zero, which would change nothing)."""
    from peft import LoraConfig, get_peft_model

    peft = get_peft_model(
        model, LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=0.0, target_modules=TARGETS)
    )
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in peft.named_parameters():
            if "lora_" in name:
                noise = torch.randn(parameter.shape, generator=generator)
                parameter.copy_(noise / parameter.shape[-1] ** 0.5)
    return peft.eval()


def logit_difference(model: Any, ids: list[int], yes: int, no: int) -> float:
    """``log P(yes) − log P(no)`` at the position after ``ids``."""
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0, -1].double()
    logprobs = torch.log_softmax(logits, dim=-1)
    return float(logprobs[yes] - logprobs[no])


def as_array(values: list[float]) -> np.ndarray:
    return np.asarray(values, dtype=np.float64)
