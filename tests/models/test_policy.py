"""Evolved policy directories: resolution by --model, checks, and their one-line errors."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from thinktree.models import ModelError, find_embedded
from thinktree.models import resolve as resolve_module
from thinktree.models.policy import Policy, read_policy, write_policy
from thinktree.models.resolve import resolve_model

FAST = find_embedded("fast")
assert FAST is not None


@pytest.fixture(autouse=True)
def no_assembly(monkeypatch, tmp_path):
    """Resolution would assemble the base GGUF; a stand-in path keeps these tests fast."""
    base = tmp_path / "base.gguf"
    base.write_bytes(b"GGUF")
    monkeypatch.setattr(resolve_module, "assemble", lambda model, progress=None: base)
    return base


def make_policy(directory: Path, adapter: bytes | None = b"adapter bytes", **fields) -> Policy:
    directory.mkdir(parents=True, exist_ok=True)
    path = None
    digest = None
    if adapter is not None:
        path = directory / "adapter.gguf"
        path.write_bytes(adapter)
        digest = hashlib.sha256(adapter).hexdigest()
    policy = Policy(
        directory=directory,
        name=directory.name,
        base=fields.pop("base", FAST.name),
        base_sha256=fields.pop("base_sha256", FAST.sha256),
        adapter=path,
        adapter_sha256=fields.pop("adapter_sha256", digest),
        prompt_style=fields.pop("prompt_style", "zero-shot"),
        provenance=fields.pop("provenance", {"round": 1}),
    )
    write_policy(policy)
    return policy


def test_round_directory_resolves_to_base_adapter_and_prompt(tmp_path, no_assembly) -> None:
    policy = make_policy(tmp_path / "evo" / "round-1")
    resolved = resolve_model(str(policy.directory))
    assert resolved.path == no_assembly
    assert resolved.adapter == policy.adapter
    assert resolved.adapter_sha256 == policy.adapter_sha256
    assert resolved.prompt_style == "zero-shot"
    assert resolved.sha256 == FAST.sha256
    assert resolved.name == "evo/round-1"
    assert read_policy(policy.directory).provenance == {"round": 1}


def test_round_zero_policy_has_no_adapter(tmp_path) -> None:
    policy = make_policy(tmp_path / "round-0", adapter=None, prompt_style="few-shot")
    resolved = resolve_model(str(policy.directory))
    assert resolved.adapter is None and resolved.prompt_style == "few-shot"
    assert resolved.name == FAST.name  # the plain model: its runs' fingerprints are shared


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: (d / "adapter.gguf").write_bytes(b"edited"), "does not match its policy.json"),
        (lambda d: (d / "adapter.gguf").unlink(), "names adapter 'adapter.gguf', which is missing"),
        (lambda d: (d / "policy.json").write_text("{"), "is not a valid policy file"),
        (
            lambda d: (d / "policy.json").write_text(json.dumps({"base": "nope"})),
            "base model 'nope' is not an embedded model",
        ),
        (
            lambda d: (d / "policy.json").write_text(
                json.dumps({"base": FAST.name, "prompt_style": "three-shot"})
            ),
            "unknown prompt_style 'three-shot'",
        ),
        (
            lambda d: (d / "policy.json").write_text(
                json.dumps({"base": FAST.name, "base_sha256": "0" * 64})
            ),
            "the adapter was trained on another file",
        ),
        (lambda d: (d / "policy.json").unlink(), "is a directory without policy.json"),
    ],
)
def test_broken_policy_directories_give_one_line_errors(tmp_path, change, message) -> None:
    policy = make_policy(tmp_path / "round-1")
    change(policy.directory)
    with pytest.raises(ModelError, match=message) as info:
        resolve_model(str(policy.directory))
    assert "\n" not in str(info.value)


def test_embedded_evolved_policy_missing_says_what_to_do(monkeypatch, tmp_path) -> None:
    from thinktree.models import policy as policy_module

    monkeypatch.setattr(resolve_module, "embedded_policy_dir", lambda: tmp_path / "absent")
    with pytest.raises(ModelError, match="ships no evolved policy yet"):
        resolve_model("evolved")
    assert policy_module.EMBEDDED_POLICY == "evolved"


def test_policy_json_is_written_atomically(tmp_path) -> None:
    policy = make_policy(tmp_path / "round-2")
    assert not list(policy.directory.glob("*.tmp"))
    data = json.loads((policy.directory / "policy.json").read_text())
    assert data["adapter"] == "adapter.gguf" and data["prompt_style"] == "zero-shot"


def make_merged(directory: Path, model: bytes = b"GGUF merged") -> Policy:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "merged-q8_0.gguf").write_bytes(model)
    policy = Policy(
        directory=directory,
        name=directory.name,
        base=FAST.name,
        base_sha256=FAST.sha256,
        adapter=None,
        adapter_sha256=None,
        prompt_style="zero-shot",
        provenance={"round": 1, "merged_from": "ab" * 32},
        model=directory / "merged-q8_0.gguf",
        model_sha256=hashlib.sha256(model).hexdigest(),
    )
    write_policy(policy)
    return policy


def test_a_merged_policy_serves_its_own_file_with_its_prompt(tmp_path, no_assembly) -> None:
    policy = make_merged(tmp_path / "evo" / "round-1-merged")
    resolved = resolve_model(str(policy.directory))
    assert resolved.path == (policy.directory / "merged-q8_0.gguf").resolve()
    assert resolved.path != no_assembly
    assert (resolved.adapter, resolved.adapter_sha256) == (None, None)
    assert resolved.sha256 == hashlib.sha256(b"GGUF merged").hexdigest()
    assert (resolved.name, resolved.prompt_style, resolved.embedded) == (
        "evo/round-1-merged",
        "zero-shot",
        False,
    )
    data = json.loads((policy.directory / "policy.json").read_text())
    assert (data["model"], data["adapter"]) == ("merged-q8_0.gguf", None)
    # An adapter policy's file gains no model keys.
    plain = json.loads((make_policy(tmp_path / "round-1").directory / "policy.json").read_text())
    assert "model" not in plain and "model_sha256" not in plain


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: (d / "merged-q8_0.gguf").write_bytes(b"GGUF other"),
         r"model .* does not match its policy.json .* run `thinktree models merge` again"),
        (lambda d: (d / "merged-q8_0.gguf").unlink(), "names model 'merged-q8_0.gguf', which is missing"),
        (lambda d: _edit(d, adapter="merged-q8_0.gguf"), "names both a model and an adapter"),
        (lambda d: _edit(d, model_sha256=None), "without its model_sha256"),
    ],
)  # fmt: skip
def test_broken_merged_policies_give_one_line_errors(tmp_path, change, message) -> None:
    policy = make_merged(tmp_path / "merged")
    change(policy.directory)
    with pytest.raises(ModelError, match=message) as info:
        resolve_model(str(policy.directory))
    assert "\n" not in str(info.value)


def _edit(directory: Path, **fields) -> None:
    path = directory / "policy.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **fields}))
