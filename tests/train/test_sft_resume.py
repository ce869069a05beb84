"""SFT checkpoints resume only under the settings that made them."""

from __future__ import annotations

from pathlib import Path

import pytest

from thinktree.train.sft.training import SFTConfig, check_resumable


def test_same_or_unrecorded_settings_resume() -> None:
    config = SFTConfig()
    check_resumable({}, config, Path("sft"))
    check_resumable({"holdout_loss_before": 0.39}, config, Path("sft"))
    check_resumable({"config": config.model_dump(mode="json")}, config, Path("sft"))


def test_other_settings_are_refused_with_what_changed() -> None:
    saved = SFTConfig(batch_size=4, grad_accumulation=2).model_dump(mode="json")
    with pytest.raises(ValueError) as info:
        check_resumable({"config": saved}, SFTConfig(), Path("round-1/sft"))
    message = str(info.value)
    assert message == (
        "round-1/sft holds SFT checkpoints made with other settings (batch_size, "
        "grad_accumulation); restore them, or delete round-1/sft to train again"
    )
