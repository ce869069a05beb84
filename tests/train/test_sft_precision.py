"""bfloat16 autocast only where the hardware computes it natively."""

from __future__ import annotations

from pathlib import Path

import pytest

from thinktree.train.lora import native_bf16
from thinktree.train.sft.training import SFTConfig, check_resumable, settle_precision

torch = pytest.importorskip("torch", reason="needs the train extra")


def cpu_with(monkeypatch: pytest.MonkeyPatch, avx512_bf16: bool, amx: bool) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx)


@pytest.mark.parametrize(
    ("avx512_bf16", "amx", "native"),
    [(False, False, False), (True, False, True), (False, True, True), (True, True, True)],
)
def test_a_cpu_computes_bf16_natively_with_avx512_bf16_or_amx(
    monkeypatch: pytest.MonkeyPatch, avx512_bf16: bool, amx: bool, native: bool
) -> None:
    cpu_with(monkeypatch, avx512_bf16, amx)
    assert native_bf16() is native


def test_a_gpu_answers_for_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    cpu_with(monkeypatch, avx512_bf16=True, amx=True)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert native_bf16() is False


def test_unset_follows_the_hardware(monkeypatch: pytest.MonkeyPatch) -> None:
    cpu_with(monkeypatch, avx512_bf16=False, amx=False)
    assert SFTConfig().bf16 is None
    assert settle_precision(SFTConfig(), None).bf16 is False
    assert settle_precision(SFTConfig(), {"rank": 16}).bf16 is False
    cpu_with(monkeypatch, avx512_bf16=True, amx=False)
    assert settle_precision(SFTConfig(), None).bf16 is True


def test_a_setting_given_wins_over_the_hardware(monkeypatch: pytest.MonkeyPatch) -> None:
    cpu_with(monkeypatch, avx512_bf16=False, amx=False)
    assert settle_precision(SFTConfig(bf16=True), None).bf16 is True
    assert settle_precision(SFTConfig(bf16=True), {"bf16": False}).bf16 is True
    cpu_with(monkeypatch, avx512_bf16=True, amx=True)
    assert settle_precision(SFTConfig(bf16=False), None).bf16 is False


def test_unset_resumes_with_the_first_sittings_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    """Checkpoints made under bf16 on an AVX512-BF16 machine resume on an AVX2 one."""
    cpu_with(monkeypatch, avx512_bf16=True, amx=False)
    saved = settle_precision(SFTConfig(), None).model_dump(mode="json")
    cpu_with(monkeypatch, avx512_bf16=False, amx=False)
    resumed = settle_precision(SFTConfig(), saved)
    assert resumed.bf16 is True
    check_resumable({"config": saved}, resumed, Path("sft"))


def test_a_precision_given_against_the_checkpoints_is_refused() -> None:
    saved = SFTConfig(bf16=True).model_dump(mode="json")
    with pytest.raises(ValueError, match=r"other settings \(bf16\)"):
        check_resumable({"config": saved}, settle_precision(SFTConfig(bf16=False), saved),
                        Path("round-1/sft"))  # fmt: skip
