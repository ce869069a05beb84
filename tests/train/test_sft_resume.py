"""SFT checkpoints resume only under the settings and on the data that made them."""

from __future__ import annotations

from pathlib import Path

import pytest

from thinktree.train.sft.training import SFTConfig, check_resumable, check_same_data


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


def test_a_checkpoint_of_other_data_is_refused_with_the_fix() -> None:
    checkpoint = Path("round-1/sft/checkpoints/checkpoint-40")
    with pytest.raises(ValueError) as info:
        check_same_data({"data_hash": "cd" * 32}, "ab" * 32, checkpoint, Path("round-1/sft"))
    assert str(info.value) == (
        "round-1/sft/checkpoints/checkpoint-40 was trained on other data (data hash "
        "cdcdcdcdcdcd, this data abababababab); give the same data, or delete round-1/sft "
        "to train again"
    )


def test_the_same_or_unrecorded_data_resumes() -> None:
    checkpoint = Path("sft/checkpoints/checkpoint-2")
    check_same_data({"data_hash": "ab" * 32}, "ab" * 32, checkpoint, Path("sft"))
    check_same_data(
        {"tokens": 10, "targets": 4, "seconds": 1.5}, "ab" * 32, checkpoint, Path("sft")
    )
