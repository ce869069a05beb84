"""PPM loss, head training, the training pipeline from a store, and scoring in search."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from tests.train.test_pairs import build
from thinktree.reward.base import ScoreItem
from thinktree.reward.features import HANDCRAFTED_NAMES, FeatureSpec, Featurizer, handcrafted
from thinktree.reward.ppm import PPMError, head_forward, load_ppm
from thinktree.search.mcts.tree import serialize
from thinktree.steps import Step, StepKind
from thinktree.store import ResultRow, RunStore
from thinktree.train.ppm.head import HeadConfig, pairwise_accuracy, pairwise_loss, train_head

torch = pytest.importorskip("torch", reason="needs the train extra")


def test_pairwise_loss_values() -> None:
    assert pairwise_loss(np.array([0.0]), np.array([0.0])) == pytest.approx(math.log(2))
    assert pairwise_loss(np.array([2.0]), np.array([0.0])) == pytest.approx(
        math.log1p(math.exp(-2))
    )
    assert pairwise_loss(np.array([0.0, 50.0]), np.array([50.0, 0.0])) == pytest.approx(25.0)
    assert pairwise_accuracy(np.array([1.0, 0.0, 2.0]), np.array([0.0, 0.0, 3.0])) == 0.5


def _step(good: bool, rng: np.random.Generator) -> Step:
    if good:
        return Step(text="\n```python\nx = 12\nprint(x)\n```\n", kind=StepKind.CODE,
                    code="x = 12\nprint(x)", output=str(int(rng.integers(1, 99))),
                    mean_logprob=-0.2)  # fmt: skip
    return Step(text="\n```python\nprint(y)\n```\n", kind=StepKind.ERROR, code="print(y)",
                output="NameError: name 'y' is not defined",
                error="NameError: name 'y' is not defined", mean_logprob=-0.9)  # fmt: skip


def test_tiny_training_separates_good_from_bad_steps() -> None:
    rng = np.random.default_rng(0)
    features = lambda good: np.array(  # noqa: E731
        [handcrafted("x?", [_step(good, rng)]) for _ in range(40)], dtype=np.float32
    )
    train = (features(True), features(False))
    valid = (features(True), features(False))
    config = HeadConfig(kind="linear", epochs=200, lr=0.05, hidden=128, ensemble=1)
    weights, record = train_head(train, valid, config)
    r_pos, r_neg = head_forward(weights, valid[0]), head_forward(weights, valid[1])
    assert pairwise_accuracy(r_pos, r_neg) == 1.0
    assert pairwise_loss(r_pos, r_neg) < 0.1 < math.log(2)
    assert record["best_val_loss"] == pytest.approx(pairwise_loss(r_pos, r_neg), rel=1e-4)
    assert weights["w"].shape == (len(HANDCRAFTED_NAMES), 1)
    mlp, _ = train_head(
        train, valid, HeadConfig(kind="mlp", hidden=8, epochs=100, lr=0.05, ensemble=1)
    )
    assert mlp["w1"].shape == (len(HANDCRAFTED_NAMES), 8)
    assert pairwise_accuracy(head_forward(mlp, valid[0]), head_forward(mlp, valid[1])) == 1.0


def test_checkpoint_resume_gives_the_same_head(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    data = (
        rng.normal(1, 1, (30, 4)).astype(np.float32),
        rng.normal(0, 1, (30, 4)).astype(np.float32),
    )
    config = HeadConfig(
        epochs=60, checkpoint_every=20, patience=1000, kind="linear", hidden=128, ensemble=1
    )
    full, _ = train_head(data, data, config)
    partial = HeadConfig(
        epochs=40, checkpoint_every=20, patience=1000, kind="linear", hidden=128, ensemble=1
    )
    train_head(data, data, partial, checkpoint=tmp_path / "ckpt.pt")
    # Same data and settings except the length: the fingerprint differs, so no resume.
    resumed, _ = train_head(data, data, config, checkpoint=tmp_path / "ckpt.pt")
    assert np.allclose(resumed["w"], full["w"])
    again, _ = train_head(data, data, config, checkpoint=tmp_path / "ckpt2.pt")
    train_head(data, data, config, checkpoint=tmp_path / "ckpt2.pt")  # resumes at epoch 60
    assert np.allclose(again["w"], full["w"])


def test_an_ensemble_is_its_seeds_heads_stacked_and_scores_their_mean(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    data = (
        rng.normal(1, 1, (30, 4)).astype(np.float32),
        rng.normal(0, 1, (30, 4)).astype(np.float32),
    )
    single = HeadConfig(
        kind="mlp", hidden=8, epochs=30, patience=1000, checkpoint_every=10, ensemble=1
    )
    seed0, _ = train_head(data, data, single)
    seed1, _ = train_head(data, data, HeadConfig(**{**single.to_dict(), "seed": 1}))
    seen: list[int] = []
    both, record = train_head(
        data,
        data,
        HeadConfig(**{**single.to_dict(), "ensemble": 2}),
        checkpoint=tmp_path / "ckpt.pt",
        progress=lambda epoch, loss, val: seen.append(epoch),
    )
    assert both["w1"].shape == (2, 4, 8) and both["w"].shape == (2, 8, 1)
    assert np.allclose(both["w1"][0], seed0["w1"]) and np.allclose(both["w1"][1], seed1["w1"])
    x = data[0][:5]
    mean = (head_forward(seed0, x) + head_forward(seed1, x)) / 2
    assert np.allclose(head_forward(both, x), mean)
    assert record["best_epochs"] == [29, 29]
    assert record["best_val_loss"] == pytest.approx(
        pairwise_loss(head_forward(both, data[0]), head_forward(both, data[1])))  # fmt: skip
    assert seen == list(range(1, 61))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt-0.pt", "ckpt-1.pt"]
    with pytest.raises(ValueError, match="ensemble\n  Input should be greater than or equal to 1"):
        HeadConfig(ensemble=0)


def _store_with_trees(path: Path, problems: int) -> tuple[RunStore, str]:
    store = RunStore(path)
    run = store.create_run(
        "rollouts",
        fingerprint="f",
        kind="eval",
        dataset="toy:train",
        strategy="mcts",
        model="m",
        config={},
        manifest={},
    )
    for i in range(problems):
        row = ResultRow(f"toy/{i}", i, "How many?", "6", "6", True, 10, 1, 1, 1.0, "done")
        store.add_result(run.id, row, serialize(build()))
    return store, run.id


def test_train_ppm_end_to_end_with_handcrafted_features(tmp_path: Path) -> None:
    from thinktree.train.ppm.training import train_ppm

    store, run_id = _store_with_trees(tmp_path / "runs.db", 30)
    with store:
        result = train_ppm(store, [run_id], tmp_path / "ppm",
                           features=FeatureSpec(("handcrafted",)),
                           head=HeadConfig(epochs=150, lr=0.05, kind="linear", hidden=128, ensemble=1), seed_repeats=2)  # fmt: skip
    record = result.record
    assert record["pairs"] == 30 * 5 and record["pairs_by_kind"] == {"step": 90, "final": 60}
    assert record["valid_pairs"] + record["train_pairs"] == 150
    assert record["valid_problems"] > 0 and record["train_problems"] > 0
    # Four of the five pairs per tree are separable from handcrafted features; the
    # final pair 6 vs 7 has identical features (both clean integer answers) and ties.
    # Cross-validated: every pair scored by a head that never saw its problem.
    assert record["folds"] == 5 and record["evaluated_pairs"] == 150
    assert record["pairwise_accuracy"] == pytest.approx(0.9)
    # The final pair 6 vs 7 ties (half right); the three step pairs are all right.
    assert record["pairwise_accuracy_by_kind"] == {"final": pytest.approx(0.75), "step": 1.0}
    spread = record["seed_spread"]
    assert (
        spread["seeds"] == [0, 1] and spread["pairwise_accuracy"][0] == record["pairwise_accuracy"]
    )
    assert spread["mean"] == pytest.approx(sum(spread["pairwise_accuracy"]) / 2)
    assert set(record["baselines"]) == {"error_flag", "step_length", "mean_logprob"}
    assert record["baselines"]["error_flag"]["clean"] == 0.5  # clean pairs: no error to see
    ppm = load_ppm(tmp_path / "ppm")
    good = ScoreItem(
        "How many?",
        [
            Step(
                text="\n```python\nx = 4\nprint(x)\n```\n",
                kind=StepKind.CODE,
                code="x = 4\nprint(x)",
                output="4",
            )
        ],
    )
    bad = ScoreItem("How many?", [Step(text="\nI think we are done here.", kind=StepKind.INVALID)])
    values = ppm.score([good, bad])
    assert all(-1 <= v <= 1 for v in values) and values[0] > values[1]
    assert len(ppm.identity) == 12


def test_train_ppm_refuses_runs_without_trees(tmp_path: Path) -> None:
    from thinktree.train.ppm.training import train_ppm

    with RunStore(tmp_path / "runs.db") as store:
        run = store.create_run(
            "greedy",
            fingerprint="g",
            kind="eval",
            dataset="toy",
            strategy="greedy",
            model="m",
            config={},
            manifest={},
        )
        with pytest.raises(ValueError, match="hold no preference pairs"):
            train_ppm(
                store,
                [run.id],
                tmp_path / "ppm",
                features=FeatureSpec(("handcrafted",)),
                head=HeadConfig(kind="linear", hidden=128, ensemble=1),
            )


def test_load_ppm_errors(tmp_path: Path) -> None:
    with pytest.raises(PPMError, match="is not a trained PPM"):
        load_ppm(tmp_path)
    (tmp_path / "ppm.json").write_text("{not json")
    (tmp_path / "head.npz").write_bytes(b"junk")
    with pytest.raises(PPMError, match="cannot read the PPM"):
        load_ppm(tmp_path)


@pytest.mark.model
def test_embedding_ppm_trains_loads_and_scores(tmp_path: Path) -> None:
    """Embedding features from the real fast model, end to end: train, load, score."""
    from thinktree.engines.llamacpp import LlamaCppEngine, LlamaCppOptions
    from thinktree.models import resolve_model
    from thinktree.train.ppm.training import train_ppm

    store, run_id = _store_with_trees(tmp_path / "runs.db", 12)
    spec = FeatureSpec(("embedding",), "fast", "last", backend="llamacpp")
    with LlamaCppEngine(
        resolve_model("fast").path, LlamaCppOptions(n_parallel=2, ctx_per_slot=1024, embedding=True)
    ) as emb:
        featurizer = Featurizer(spec, embedder=emb)
        with store:
            record = train_ppm(store, [run_id], tmp_path / "ppm", features=spec,
                               head=HeadConfig(epochs=100, lr=0.01, kind="linear", hidden=128, ensemble=1),
                               featurizer=featurizer).record  # fmt: skip
        assert record["features"]["kinds"] == ["embedding"]
        # 4 of the 5 pairs per tree differ in text; identical trees make them separable.
        assert record["pairwise_accuracy_train"] >= 0.8
        ppm = load_ppm(tmp_path / "ppm", embedder=emb)
        item = ScoreItem("How many?", [Step(text="\nI think we are done here.",
                                            kind=StepKind.INVALID)])  # fmt: skip
        assert len(ppm.score([item])) == 1


def _toy_pairs(problems: int, per_problem: int = 2) -> list:
    from thinktree.train.ppm.pairs import PreferencePair

    good = Step(text="\n```python\nx = 4\nprint(x)\n```\n", kind=StepKind.CODE, code="x = 4",
                output="4")  # fmt: skip
    bad = Step(text="\n```python\ny = z\n```\n", kind=StepKind.CODE, code="y = z",
               error="NameError: name 'z' is not defined")  # fmt: skip
    return [
        PreferencePair(f"toy/{i}", "How many?", (), (good,), (bad,), 1.0, -1.0, "step", j)
        for i in range(problems)
        for j in range(per_problem)
    ]


def test_fold_of_is_deterministic_balanced_and_independent_of_the_validation_split() -> None:
    from thinktree.train.ppm.pairs import fold_of, is_validation

    ids = [f"gsm8k/train/{i}" for i in range(500)]
    folds = [fold_of(i, 5) for i in ids]
    # A hash of the id alone: the same folds in every run and on every machine.
    assert folds[:12] == [1, 3, 4, 1, 4, 1, 3, 2, 3, 0, 2, 3]
    assert [folds.count(f) for f in range(5)] == [90, 94, 103, 109, 104]
    # Every fold's problems split into fitting and early-stopping sides.
    for f in range(5):
        stopping = [is_validation(i) for i, g in zip(ids, folds, strict=True) if g == f]
        assert 0 < sum(stopping) < len(stopping)


def test_cross_validation_never_scores_a_pair_with_a_head_that_saw_its_problem(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import thinktree.train.ppm.training as ppm_module
    from thinktree.train.ppm.pairs import fold_of

    pairs = _toy_pairs(40)
    x = (np.ones((80, 1), dtype=np.float32), np.zeros((80, 1), dtype=np.float32))
    ids = np.array([p.problem_id for p in pairs])
    seen: list[set[str]] = []
    real = ppm_module.train_head
    # Tag rows by problem index so the spy can tell which problems each fold fitted.
    tagged = (np.arange(80, dtype=np.float32)[:, None] + 1000, np.zeros((80, 1), np.float32))

    def recording(train, valid, head, *args, **kwargs):  # type: ignore[no-untyped-def]
        used = np.concatenate([train[0][:, 0], valid[0][:, 0]]).astype(int) - 1000
        seen.append({str(ids[i]) for i in used})
        return real(train, valid, head, *args, **kwargs)

    monkeypatch.setattr(ppm_module, "train_head", recording)
    cv = ppm_module.cross_validate(
        pairs, tagged, HeadConfig(epochs=5, kind="linear", hidden=128, ensemble=1), 5, 0.2
    )
    assert len(seen) == 5 and cv["evaluated_pairs"] == 80
    for f, fitted in enumerate(seen):
        held_out = {p.problem_id for p in pairs if fold_of(p.problem_id, 5) == f}
        assert held_out and not held_out & fitted
        assert fitted | held_out == set(ids)
    monkeypatch.setattr(ppm_module, "train_head", real)
    cv = ppm_module.cross_validate(
        pairs, x, HeadConfig(epochs=50, lr=0.05, kind="linear", hidden=128, ensemble=1), 5, 0.2
    )
    assert cv["pairwise_accuracy"] == 1.0
    # Every rejected step raised: no clean pairs; the error flag ranks all 80 right.
    assert cv["evaluated_clean_pairs"] == 0
    assert cv["baselines"]["error_flag"]["all"] == 1.0
    assert math.isnan(cv["baselines"]["error_flag"]["clean"])


def test_cross_validation_refuses_too_few_problems() -> None:
    from thinktree.train.ppm.training import cross_validate

    pairs = _toy_pairs(1, per_problem=3)
    x = (np.ones((3, 1), dtype=np.float32), np.zeros((3, 1), dtype=np.float32))
    with pytest.raises(ValueError, match="too few for 5-fold cross-validation by problem"):
        cross_validate(
            pairs, x, HeadConfig(epochs=5, kind="linear", hidden=128, ensemble=1), 5, 0.2
        )


def test_cli_ppm_train_defaults_to_the_measured_best_and_scores(tmp_path: Path) -> None:
    """`thinktree ppm train` with no feature options trains the benchmark's choice
    (handcrafted features, five MLP heads of 32) and `ppm score` reads what it wrote."""
    from typer.testing import CliRunner

    from thinktree.cli import app

    store, run_id = _store_with_trees(tmp_path / "runs.db", 30)
    store.close()
    runner = CliRunner()
    out = runner.invoke(app, ["ppm", "train", "--runs", run_id, "--out", str(tmp_path / "ppm"),
                              "--store", str(tmp_path / "runs.db"), "--epochs", "150", "--json"])  # fmt: skip
    assert out.exit_code == 0, out.output
    record = json.loads(out.stdout.splitlines()[-1])
    assert record["features"]["kinds"] == ["handcrafted"]
    head = record["head"]
    assert (head["kind"], head["hidden"], head["ensemble"]) == ("mlp", 32, 5)
    assert record["features"]["handcrafted"] == list(HANDCRAFTED_NAMES)
    assert record["pairs"] == 150
    steps = tmp_path / "steps.json"
    scores = []
    for step in ({"code": "x = 4\nprint(x)", "output": "4"},
                 {"code": "x = 4 / 0\nprint(x)", "error": "ZeroDivisionError: division by zero"}):  # fmt: skip
        steps.write_text(json.dumps([step]))
        scored = runner.invoke(app, ["ppm", "score", str(tmp_path / "ppm"), "--question",
                                     "How many?", "--steps", str(steps)])  # fmt: skip
        assert scored.exit_code == 0, scored.output
        scores.extend(json.loads(scored.stdout)["scores"])
    # Trained on trees where the step that printed 4 beat the one that raised.
    assert scores == [pytest.approx(0.992371, abs=1e-3), -1.0]


def test_cli_ppm_train_reports_the_mean_over_seed_repeats(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from thinktree.cli import app

    store, run_id = _store_with_trees(tmp_path / "runs.db", 30)
    store.close()
    out = CliRunner().invoke(app, ["ppm", "train", "--runs", run_id, "--out", str(tmp_path / "ppm"),
                                   "--store", str(tmp_path / "runs.db"), "--epochs", "50",
                                   "--ensemble", "1", "--seed-repeats", "2"])  # fmt: skip
    assert out.exit_code == 0, out.output
    record = json.loads((tmp_path / "ppm" / "ppm.json").read_text())
    assert record["seed_spread"]["seeds"] == [0, 1]
    printed = " ".join(out.stdout.split())  # Rich wraps long lines
    assert f"(mean over 2 seeds {record['seed_spread']['mean']:.1%})" in printed


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "is not a file: give --steps a JSON list of steps"),
        ("[{code: 1}", "is not JSON (Expecting property name enclosed in double quotes"),
        ("{}", "must hold a non-empty JSON list of steps"),
        ('[{"text": "x"}]', "step 1 of"),
    ],
)
def test_cli_ppm_score_rejects_a_bad_steps_file_in_one_line(
    tmp_path: Path, content: str | None, expected: str
) -> None:
    from typer.testing import CliRunner

    from thinktree.cli import app

    steps = tmp_path / "steps.json"
    if content is not None:
        steps.write_text(content)
    out = CliRunner().invoke(app, ["ppm", "score", str(tmp_path / "no-ppm"), "--question", "Q",
                                   "--steps", str(steps)])  # fmt: skip
    assert out.exit_code == 2
    assert out.output.startswith("error: ") and len(out.output.strip().splitlines()) == 1
    assert expected in out.output
