"""The LM PPM served by llama.cpp: parity with PEFT, prefix reuse, bounds, loading.

Served on a tiny random Qwen2 written as an F32 GGUF (``tiny_qwen2``), with a random
LoRA exported by the project's adapter writer, so every test runs in seconds.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("gguf")
pytest.importorskip("peft")
pytest.importorskip("xllamacpp")

from tests.reward import tiny_qwen2  # noqa: E402
from thinktree.models.assemble import sha256_file  # noqa: E402
from thinktree.reward.base import ScoreItem  # noqa: E402
from thinktree.reward.lm_format import ppm_text, squash  # noqa: E402
from thinktree.reward.lm_ppm import (  # noqa: E402
    LMPPM,
    LMPPMFile,
    LMServing,
    logit_difference,
)
from thinktree.reward.ppm import (  # noqa: E402
    PPMError,
    is_trained_ppm,
    load_ppm,
    ppm_files,
    ppm_identity,
)
from thinktree.reward.registry import load_scorer  # noqa: E402
from thinktree.steps import Step, StepKind, code_step_text, final_step_text, solution_text  # noqa: E402
from thinktree.train.export.lora_gguf import export_lora_gguf  # noqa: E402

YES, NO = tiny_qwen2.token_id(" yes"), tiny_qwen2.token_id(" no")
TOLERANCE = 0.02
"""|llama.cpp − PEFT| allowed on a logit difference. Both compute in float32 over the
same F32 weights; llama.cpp keeps keys and values in F16. Measured: at most 0.003."""
QUESTION = "A shop sells pens at 3 dollars each. Ana buys 4 pens and pays 20. Change?"


def code(source: str, output: str) -> Step:
    return Step(text=code_step_text(source), kind=StepKind.CODE, code=source, output=output)


STEPS = [
    code("# Cost of the pens.\ncost = 4 * 3\nprint(cost)", "12"),
    code("# Change from 20 dollars.\nchange = 20 - cost\nprint(change)", "8"),
    Step(text=final_step_text("8"), kind=StepKind.FINAL, answer="8"),
]
ITEMS = [
    ScoreItem(QUESTION, STEPS[:1]),
    ScoreItem(QUESTION, STEPS[:2]),
    ScoreItem(QUESTION, STEPS),
    ScoreItem("What is 2 + 3?", [code("print(2 + 3)", "5")]),
    ScoreItem("What is 2 + 3?", [code("print(2 * 3)", "6")]),
    ScoreItem("Tom has 3 apples and buys 5 more. How many?", [code("print(3 - 5)", "-2")]),
]
FULL = LMServing(threads=1, slots=2, ctx_per_slot=512, cache_ram_mib=0, top_logprobs=300)
"""Every token of the tiny vocabulary (262) returned: no bound is ever used."""


def write_ppm(directory: Path, base: Path, peft: Any, **fields: Any) -> Path:
    """An LM PPM directory as the trainer writes one: PEFT adapter, GGUF adapter, ppm.json."""
    directory.mkdir(parents=True, exist_ok=True)
    peft.save_pretrained(str(directory / "peft"))
    export_lora_gguf(directory / "peft", base, directory / "adapter.gguf")
    file = LMPPMFile(
        base=str(base),
        adapter="adapter.gguf",
        yes_token_id=YES,
        no_token_id=NO,
        base_sha256=sha256_file(base),
        adapter_sha256=sha256_file(directory / "adapter.gguf"),
        lora_rank=4,
        lora_alpha=8.0,
        training={"pairs": 0},
    )
    (directory / "ppm.json").write_text(json.dumps({**file.to_json(), **fields}))
    return directory


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The tiny base (GGUF and HF), a PEFT LoRA over it, and its PPM directory."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("lm-ppm")
    model = tiny_qwen2.hf_model(seed=0)
    base = tiny_qwen2.write_gguf(model, root / "tiny-qwen2-f32.gguf")
    peft = tiny_qwen2.random_lora(model, seed=1)
    directory = write_ppm(root / "ppm", base, peft)
    yield {"root": root, "base": base, "peft": peft, "dir": directory}
    torch.set_num_threads(threads)


@pytest.fixture
def ppm_copy(tiny: dict[str, Any], tmp_path: Path) -> Path:
    """A copy of the PPM directory a test may break."""
    return Path(shutil.copytree(tiny["dir"], tmp_path / "ppm"))


def peft_difference(ppm: LMPPM, peft: Any, item: ScoreItem) -> float:
    ids = ppm.engine.tokenize(ppm_text(item.question, item.steps))
    return tiny_qwen2.logit_difference(peft, ids, YES, NO)


# -- scores ---------------------------------------------------------------------------------


def test_scores_match_the_peft_model(tiny: dict[str, Any]) -> None:
    ppm = load_ppm(tiny["dir"], serving=FULL)
    assert isinstance(ppm, LMPPM)
    try:
        served = ppm.raw(ITEMS)  # one batch over two slots
        scores = ppm.score(ITEMS)
        trained = [peft_difference(ppm, tiny["peft"], item) for item in ITEMS]
        with tiny["peft"].disable_adapter():
            base = [peft_difference(ppm, tiny["peft"], item) for item in ITEMS]
    finally:
        ppm.close()
    errors = [abs(s - t) for s, t in zip(served, trained, strict=True)]
    assert max(errors) < TOLERANCE, (served, trained)
    # Not vacuous: the texts score differently and the adapter moves every score.
    assert max(trained) - min(trained) > 0.5
    assert min(abs(t - b) for t, b in zip(trained, base, strict=True)) > 10 * TOLERANCE
    assert scores == pytest.approx([squash(d) for d in served], abs=TOLERANCE)
    assert ppm.stats.items == 2 * len(ITEMS)
    assert (ppm.stats.missing_tokens, ppm.stats.failed) == (0, 0)


def test_a_child_reuses_its_parent_prefix(tiny: dict[str, Any]) -> None:
    serving = LMServing(threads=1, slots=1, ctx_per_slot=512, cache_ram_mib=0, top_logprobs=300)
    parent, child = ITEMS[0], ITEMS[1]
    ppm = load_ppm(tiny["dir"], serving=serving)
    assert isinstance(ppm, LMPPM)
    try:
        parent_ids = ppm.engine.tokenize(ppm_text(parent.question, parent.steps))
        child_ids = ppm.engine.tokenize(ppm_text(child.question, child.steps))
        shared = ppm.engine.tokenize(solution_text(parent.question, parent.steps))
        ppm.raw([parent])
        assert (ppm.stats.prompt_tokens, ppm.stats.cached_tokens) == (len(parent_ids), 0)
        [value] = ppm.raw([child])
        assert value == pytest.approx(peft_difference(ppm, tiny["peft"], child), abs=TOLERANCE)
    finally:
        ppm.close()
    # The child's text is the parent's up to the suffix, whose first newline the
    # child's next step also starts with: everything before it comes from the cache,
    # only the child's new step and the suffix are evaluated.
    common = next(i for i, (a, b) in enumerate(zip(parent_ids, child_ids, strict=False)) if a != b)
    assert child_ids[: len(shared)] == shared and common == len(shared) + 1
    assert ppm.stats.cached_tokens == common
    assert ppm.stats.prompt_tokens == len(parent_ids) + len(child_ids) - common


def test_siblings_in_one_batch_share_their_parents_prefix(tiny: dict[str, Any]) -> None:
    """Siblings go one after another to one slot even when other slots are free
    (llama.cpp copies no prefix between slots)."""
    serving = LMServing(threads=1, slots=3, ctx_per_slot=512, cache_ram_mib=0, top_logprobs=300)
    parent = ITEMS[1]
    siblings = [ScoreItem(QUESTION, [*parent.steps, step]) for step in (STEPS[2], *ITEMS[3].steps)]
    siblings.append(ScoreItem(QUESTION, [*parent.steps, code("print(8)", "8")]))
    ppm = load_ppm(tiny["dir"], serving=serving)
    assert isinstance(ppm, LMPPM)
    try:
        shared = len(ppm.engine.tokenize(solution_text(parent.question, parent.steps)))
        ppm.raw([parent])
        before = ppm.stats.cached_tokens
        values = ppm.raw(siblings)
        expected = [peft_difference(ppm, tiny["peft"], item) for item in siblings]
    finally:
        ppm.close()
    assert ppm.stats.cached_tokens - before >= len(siblings) * shared
    assert values == pytest.approx(expected, abs=TOLERANCE)


def test_a_token_outside_the_top_k_is_bounded_and_counted(tiny: dict[str, Any]) -> None:
    narrow = LMServing(threads=1, slots=2, ctx_per_slot=512, cache_ram_mib=0, top_logprobs=2)
    full, bounded = load_ppm(tiny["dir"], serving=FULL), load_ppm(tiny["dir"], serving=narrow)
    assert isinstance(full, LMPPM) and isinstance(bounded, LMPPM)
    try:
        exact = full.raw(ITEMS)
        answers = bounded.engine.next_token_logprobs(
            [ppm_text(i.question, i.steps) for i in ITEMS], 2, pick=YES
        )
        values = bounded.raw(ITEMS)
    finally:
        full.close()
        bounded.close()
    expected_missing = sum((YES not in a.top) + (NO not in a.top) for a in answers)
    assert expected_missing > 0  # the random model ranks neither token first here
    assert bounded.stats.missing_tokens == expected_missing
    for answer, value, true in zip(answers, values, exact, strict=True):
        if YES not in answer.top and NO in answer.top:
            assert value >= true - TOLERANCE
        elif NO not in answer.top and YES in answer.top:
            assert value <= true + TOLERANCE
        elif YES not in answer.top and NO not in answer.top:
            assert value == 0.0
        else:
            assert value == pytest.approx(true, abs=TOLERANCE)


@pytest.mark.parametrize(
    ("yes", "no", "difference", "missing"),
    [
        (1, 2, 0.9, 0),   # both returned: the exact difference
        (1, 9, 1.9, 1),   # NO missing: valued at the lowest returned, -2.0
        (9, 2, -1.0, 1),  # YES missing: likewise
        (8, 9, 0.0, 2),   # neither: no signal
    ],
)  # fmt: skip
def test_logit_difference_bounds_missing_tokens(
    yes: int, no: int, difference: float, missing: int
) -> None:
    top = {1: -0.1, 2: -1.0, 3: -2.0}
    value, count = logit_difference(top, yes, no)
    assert (value, count) == (pytest.approx(difference), missing)


def test_a_text_longer_than_a_slot_is_valued_zero_and_counted(tiny: dict[str, Any]) -> None:
    short = LMServing(threads=1, slots=1, ctx_per_slot=256, cache_ram_mib=0, top_logprobs=300)
    ppm = load_ppm(tiny["dir"], serving=short)
    assert isinstance(ppm, LMPPM)
    try:
        values = ppm.score([ScoreItem("x" * 400, STEPS[:1]), ITEMS[3]])
    finally:
        ppm.close()
    assert values[0] == 0.0 and values[1] != 0.0
    assert (ppm.stats.failed, ppm.stats.items) == (1, 2)


# -- loading --------------------------------------------------------------------------------


def test_the_registry_loads_it_under_its_adapters_hash(
    tiny: dict[str, Any], tmp_path: Path
) -> None:
    adapter_sha = sha256_file(tiny["dir"] / "adapter.gguf")
    scorer, identity = load_scorer(f"ppm:{tiny['dir']}")
    try:
        assert isinstance(scorer, LMPPM)
        assert identity == f"ppm:lm-{adapter_sha[:12]}" == ppm_identity(tiny["dir"])
    finally:
        scorer.close()
    assert not hasattr(scorer, "engine")  # close() let the engine go
    scorer.close()  # twice is harmless
    other = write_ppm(
        tmp_path / "other",
        tiny["base"],
        tiny_qwen2.random_lora(tiny_qwen2.hf_model(seed=0), seed=2),
    )
    assert ppm_identity(other) != ppm_identity(tiny["dir"])
    assert is_trained_ppm(tiny["dir"])
    assert ppm_files(tiny["dir"]) == ("ppm.json", "adapter.gguf")


def one_line_error(directory: Path, match: str) -> str:
    with pytest.raises(PPMError, match=match) as caught:
        load_ppm(directory, serving=FULL)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_an_unknown_kind_is_one_line_naming_the_file(ppm_copy: Path) -> None:
    data = json.loads((ppm_copy / "ppm.json").read_text())
    (ppm_copy / "ppm.json").write_text(json.dumps({**data, "kind": "oracle"}))
    message = one_line_error(ppm_copy, "unknown PPM kind 'oracle'")
    assert str(ppm_copy / "ppm.json") in message
    with pytest.raises(PPMError, match="unknown PPM kind"):
        load_scorer(f"ppm:{ppm_copy}")


def test_a_missing_adapter_is_one_line_naming_the_file(ppm_copy: Path) -> None:
    (ppm_copy / "adapter.gguf").unlink()
    message = one_line_error(ppm_copy, "names adapter 'adapter.gguf', which is missing")
    assert str(ppm_copy / "ppm.json") in message
    assert not is_trained_ppm(ppm_copy)


def test_a_changed_adapter_is_refused(ppm_copy: Path) -> None:
    with open(ppm_copy / "adapter.gguf", "ab") as handle:
        handle.write(b"\0")
    one_line_error(ppm_copy, "does not match .*ppm.json")


def test_an_adapter_llamacpp_cannot_load_is_one_line(ppm_copy: Path) -> None:
    (ppm_copy / "adapter.gguf").write_bytes(b"GGUF but not an adapter")
    data = json.loads((ppm_copy / "ppm.json").read_text())
    (ppm_copy / "ppm.json").write_text(json.dumps({**data, "adapter_sha256": None}))
    message = one_line_error(ppm_copy, "llama.cpp could not load .* with LoRA .*adapter.gguf")
    assert str(ppm_copy / "ppm.json") in message


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        ({"yes_token_id": 1}, r"' yes' is token\(s\) \[\d+\] of .*, not 1; was the PPM trained"),
        ({"base_sha256": "0" * 64}, "trained on another file"),
        ({"base": "no-such-model"}, "base model: unknown model 'no-such-model'"),
        ({"adapter": None}, "an lm PPM needs adapter"),
        ({"yes_token_id": None, "no_token_id": None}, "needs yes_token_id, no_token_id"),
        ({"no_token_id": "no"}, "invalid literal"),
    ],
)
def test_ppm_json_that_does_not_fit_is_one_line(
    ppm_copy: Path, edit: dict[str, Any], match: str
) -> None:
    data = {**json.loads((ppm_copy / "ppm.json").read_text()), **edit}
    (ppm_copy / "ppm.json").write_text(json.dumps(data))
    one_line_error(ppm_copy, match)


def test_a_directory_without_ppm_json_is_one_line(tmp_path: Path) -> None:
    one_line_error(tmp_path, "is not a trained PPM")


# -- the real base model --------------------------------------------------------------------


@pytest.mark.model
def test_the_fast_models_answer_tokens_and_prefix_reuse(tmp_path: Path) -> None:
    """Over the real 0.5B Q4_K_M file (an adapter that changes nothing): lm_format's
    YES and NO are the ids ppm.json gives, and a child reuses its parent's prefix."""
    import gguf
    import numpy as np

    from thinktree.models import resolve_model

    writer = gguf.GGUFWriter(str(tmp_path / "adapter.gguf"), "qwen2")
    writer.add_string(gguf.Keys.General.TYPE, gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, 1.0)
    writer.add_tensor("blk.0.attn_q.weight.lora_a", np.ones((1, 896), np.float32))
    writer.add_tensor("blk.0.attn_q.weight.lora_b", np.zeros((896, 1), np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    file = LMPPMFile("fast", "adapter.gguf", 9834, 902, base_sha256=resolve_model("fast").sha256)
    (tmp_path / "ppm.json").write_text(json.dumps(file.to_json()))
    ppm = load_ppm(tmp_path, serving=LMServing(threads=1, slots=2, ctx_per_slot=1024))
    assert isinstance(ppm, LMPPM)
    try:
        ppm.score([ITEMS[0]])
        ppm.score([ITEMS[1], ITEMS[3]])
    finally:
        ppm.close()
    assert ppm.stats.cached_tokens > 20  # the child's question and first step
    assert (ppm.stats.items, ppm.stats.failed) == (3, 0)
    # Even untrained, the model ranks both answers among its top 20 after the suffix.
    assert ppm.stats.missing_tokens == 0
