"""The options of the commands other than solve's and eval's, generated from their configs.

Each command's options come from the config model of the layer that owns its job,
through :func:`~thinktree.cli.options.config_options` (help: the field docstrings;
bounds and choices checked by the model, so a bad value is a one-line error):

- every command that takes a run store: ``--store`` (:class:`~thinktree.store.StoreConfig`);
- ``serve`` and ``view``: :class:`~thinktree.server.ServeConfig`,
  :class:`~thinktree.server.ViewConfig`;
- ``grade``: :class:`~thinktree.grading.GradeConfig`;
- ``exec``: the ``timeout`` of :class:`~thinktree.sandbox.SandboxConfig` (one cell, one worker);
- ``models ship``: :class:`~thinktree.train.export.ship.ShipConfig` (the package slot);
- ``ppm train``: :class:`~thinktree.train.ppm.train_config.PPMTrainConfig` (which PPM, its
  features; ``ppm_kind`` as ``--kind``), :class:`~thinktree.train.ppm.head.HeadConfig`
  (``kind`` as ``--head``), the measured-best head that evolve's rounds train too, and the
  ``context`` and ``backend`` of :class:`~thinktree.reward.features.FeatureSpec`
  (``--kind features``); every field of
  :class:`~thinktree.train.ppm.lm.config.LMPPMConfig` as ``--lm-<field>`` (``--kind lm``);
- ``evolve``: :class:`~thinktree.train.evolve.job_config.EvolveJobConfig` (``--out``,
  ``--config``, ``--set``) and the fields of
  :class:`~thinktree.train.evolve.config.EvolveConfig` that its flags override in the YAML
  file (:func:`~thinktree.cli.overrides.override_options`);
- ``bench``: :class:`~thinktree.eval.bench.config.BenchConfig`;
- ``solve``, ``eval``, ``rescore``: ``--scorer`` from
  :class:`~thinktree.reward.choice.ScorerChoice` (``solve``'s with ``--gold``,
  ``rescore``'s with ``--select``: :class:`~thinktree.eval.rescore_config.RescoreConfig`);
- ``grade``'s pairs: :class:`~thinktree.grading.config.GradeInput`;
- ``ppm pairs`` and ``ppm train``'s pairs: :mod:`thinktree.train.ppm.pairs_config`;
- ``runs export``, ``report``, ``tree``, ``models pull``:
  :class:`~thinktree.store.config.ExportConfig`, :class:`~thinktree.eval.report.ReportConfig`,
  :class:`~thinktree.search.mcts.textview.TreeTextConfig`,
  :class:`~thinktree.models.pull_config.PullConfig`;
- what only the command line does (``--json``, ``ppm score``'s input):
  :mod:`thinktree.cli.output_configs`.

Only positional arguments (a run id, a file) are plain Typer; ``tests/cli`` refuses any
other option not generated here.
"""

from __future__ import annotations

from collections.abc import Callable

from thinktree.cli.fields import fields_of
from thinktree.cli.options import Command, config_options, field_option
from thinktree.cli.output_configs import (
    ExecJsonOutput,
    GradeJsonOutput,
    JsonOutput,
    PPMScoreInput,
    RescoreJsonOutput,
    RunsJsonOutput,
    TrainJsonOutput,
)
from thinktree.cli.overrides import override_options
from thinktree.eval.bench.config import BenchConfig
from thinktree.eval.report import ReportConfig
from thinktree.eval.rescore_config import RescoreConfig
from thinktree.grading.config import GradeConfig, GradeInput
from thinktree.models.pull_config import PullConfig
from thinktree.reward.choice import GoldScorerChoice, ScorerChoice
from thinktree.reward.features import FeatureSpec
from thinktree.sandbox.config import SandboxConfig
from thinktree.search.mcts.textview import TreeTextConfig
from thinktree.server.config import ServeConfig, ViewConfig
from thinktree.store.config import ExportConfig, StoreConfig
from thinktree.train.evolve.config import EvolveConfig
from thinktree.train.evolve.job_config import EvolveJobConfig
from thinktree.train.export.ship import ShipConfig
from thinktree.train.ppm.head import HeadConfig
from thinktree.train.ppm.lm.config import LMPPMConfig
from thinktree.train.ppm.pairs_config import PairsExportConfig, PPMDataConfig
from thinktree.train.ppm.train_config import PPMTrainConfig

StoreOpt, _ = field_option(StoreConfig, "path", decls=("--store",))
"""The ``--store`` option of every command that takes a run store; its default is
:data:`~thinktree.store.DEFAULT_STORE` (``StoreConfig().path``)."""

_BIND_NAMES = {"no_auth": ("--no-auth",)}
_BIND_ENV = {"api_key": "THINKTREE_API_KEY"}

serve_options = config_options(
    ServeConfig, "serving", panel="Server (ServeConfig)", names=_BIND_NAMES, envvars=_BIND_ENV
)
"""``serve``'s options: every :class:`ServeConfig` field (the key also from THINKTREE_API_KEY)."""

view_options = config_options(
    ViewConfig, "viewing", panel="Viewer (ViewConfig)", names=_BIND_NAMES, envvars=_BIND_ENV
)
"""``view``'s options: every :class:`ViewConfig` field."""

grade_options = config_options(GradeConfig, "grading", panel="Grader (GradeConfig)")
"""``grade``'s options: every :class:`GradeConfig` field."""

exec_options = config_options(
    SandboxConfig,
    "sandbox",
    panel="Sandbox (SandboxConfig)",
    exclude=set(fields_of(SandboxConfig)) - {"timeout"},
)
"""``exec``'s sandbox: its ``timeout``; the other limits keep SandboxConfig's safe defaults."""

ship_options = config_options(ShipConfig, "shipping", panel="Ship (ShipConfig)")
"""``models ship``'s options: every :class:`ShipConfig` field."""

ppm_train_options = config_options(
    PPMTrainConfig, "training", panel="Options", names={"ppm_kind": ("--kind",)}
)
"""``ppm train``'s choice of PPM and its features: every :class:`PPMTrainConfig` field, in
the command's own help panel, as before they were generated."""

head_options = config_options(
    HeadConfig, "head", panel="Head (HeadConfig)", names={"kind": ("--head",)}
)
"""``ppm train``'s head: every :class:`HeadConfig` field (``kind`` as ``--head``)."""

feature_options = config_options(
    FeatureSpec,
    "embedding",
    panel="Features (FeatureSpec)",
    exclude=set(fields_of(FeatureSpec)) - {"context", "backend"},
)
"""``ppm train``'s embedding: :class:`FeatureSpec`'s ``context`` and ``backend``. Its kinds
(``--features handcrafted+embedding``) and model (``--feature-model``, used only with
embedding features) take another form on the command line: :class:`PPMTrainConfig`'s."""

lm_ppm_options = config_options(
    LMPPMConfig, "lm", panel="LM PPM (LMPPMConfig, --kind lm)", prefix="lm_"
)
"""``ppm train --kind lm``'s settings: every :class:`LMPPMConfig` field as ``--lm-<field>``
(its ``epochs``, ``seed``... would clash with the head's)."""

EVOLVE_FLAGS = (
    "rounds",
    "policy",
    "bootstrap",
    "pool.size",
    "pool.grow",
    "pool_run",
    "reference.enabled",
    "store",
    "fanout.ray",
    "fanout.workers",
    "max_minutes",
)
"""The :class:`EvolveConfig` fields with a flag of their own; ``--set`` reaches any other."""

evolve_options = override_options(
    EvolveConfig,
    EVOLVE_FLAGS,
    "overrides",
    panel="Evolve (EvolveConfig, over --config)",
    names={
        "reference.enabled": ("--reference/--no-reference",),
        "fanout.ray": ("--ray",),
        "fanout.workers": ("--workers",),
    },
)
"""``evolve``'s flags: each overrides its field of the YAML file when given."""

evolve_job_options = config_options(
    EvolveJobConfig, "job", panel="Options", names={"assignments": ("--set",)}
)
"""``evolve``'s rounds directory, config file and ``--set``: every :class:`EvolveJobConfig` field."""

bench_options = config_options(
    BenchConfig,
    "sitting",
    panel="Options",
    names={
        "dry_run": ("--dry-run",),
        "report_only": ("--report-only",),
        "no_report": ("--no-report",),
        "export_only": ("--export-only",),
        "assignments": ("--set",),
    },
)
"""``bench``'s options: every :class:`BenchConfig` field (its switches are one flag each)."""

scorer_options = config_options(ScorerChoice, "scoring", panel="Options")
"""``eval``'s ``--scorer``: :class:`ScorerChoice`."""

gold_scorer_options = config_options(GoldScorerChoice, "scoring", panel="Options")
"""``solve``'s ``--scorer`` and ``--gold``: :class:`GoldScorerChoice`."""

rescore_options = config_options(RescoreConfig, "rescoring", panel="Options")
"""``rescore``'s ``--scorer`` and ``--select``: :class:`RescoreConfig`."""

grade_input_options = config_options(GradeInput, "pairs", panel="Options")
"""``grade``'s ``--pred``, ``--gold`` and ``--file``: :class:`GradeInput`."""

pairs_export_options = config_options(PairsExportConfig, "exporting", panel="Options")
"""``ppm pairs``' options: every :class:`PairsExportConfig` field."""

ppm_data_options = config_options(PPMDataConfig, "data", panel="Options")
"""``ppm train``'s pairs and directory: every :class:`PPMDataConfig` field."""

ppm_score_options = config_options(PPMScoreInput, "scored", panel="Options")
"""``ppm score``'s ``--question`` and ``--steps``: :class:`PPMScoreInput`."""

export_options = config_options(ExportConfig, "exporting", panel="Options")
"""``runs export``'s ``--out`` and ``--trees``: :class:`ExportConfig`."""

report_options = config_options(ReportConfig, "reporting", panel="Options")
"""``report``'s ``--plot`` and ``--common``: :class:`ReportConfig`."""

tree_options = config_options(TreeTextConfig, "text", panel="Options")
"""``tree``'s ``--width``: :class:`TreeTextConfig`."""

pull_options = config_options(PullConfig, "pulling", panel="Options")
"""``models pull``'s ``--force``: :class:`PullConfig`."""


def _json(model: type) -> Callable[[Command], Command]:
    return config_options(model, "output", panel="Options", names={"json_out": ("--json",)})


json_options = _json(JsonOutput)
"""``--json`` of ``solve``, ``eval`` and ``runs regrade``, into ``output: ConfigFields``."""
runs_json_options = _json(RunsJsonOutput)
exec_json_options = _json(ExecJsonOutput)
grade_json_options = _json(GradeJsonOutput)
rescore_json_options = _json(RescoreJsonOutput)
train_json_options = _json(TrainJsonOutput)

__all__ = [
    "EVOLVE_FLAGS",
    "StoreOpt",
    "bench_options",
    "evolve_job_options",
    "evolve_options",
    "exec_json_options",
    "exec_options",
    "export_options",
    "feature_options",
    "gold_scorer_options",
    "grade_input_options",
    "grade_json_options",
    "grade_options",
    "head_options",
    "json_options",
    "lm_ppm_options",
    "pairs_export_options",
    "ppm_data_options",
    "ppm_score_options",
    "ppm_train_options",
    "pull_options",
    "report_options",
    "rescore_json_options",
    "rescore_options",
    "runs_json_options",
    "scorer_options",
    "serve_options",
    "ship_options",
    "train_json_options",
    "tree_options",
    "view_options",
]
