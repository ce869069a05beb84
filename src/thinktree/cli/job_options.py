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
- ``evolve``: the fields of :class:`~thinktree.train.evolve.config.EvolveConfig` that its
  flags override in the YAML file (:func:`~thinktree.cli.overrides.override_options`).

What a command takes that is not a config (a run id, a file, ``--json``) is plain Typer.
"""

from __future__ import annotations

from thinktree.cli.fields import fields_of
from thinktree.cli.options import config_options, field_option
from thinktree.cli.overrides import override_options
from thinktree.grading.config import GradeConfig
from thinktree.reward.features import FeatureSpec
from thinktree.sandbox.config import SandboxConfig
from thinktree.server.config import ServeConfig, ViewConfig
from thinktree.store.config import StoreConfig
from thinktree.train.evolve.config import EvolveConfig
from thinktree.train.export.ship import ShipConfig
from thinktree.train.ppm.head import HeadConfig
from thinktree.train.ppm.lm.config import LMPPMConfig
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

__all__ = [
    "EVOLVE_FLAGS",
    "StoreOpt",
    "evolve_options",
    "exec_options",
    "feature_options",
    "grade_options",
    "head_options",
    "lm_ppm_options",
    "ppm_train_options",
    "serve_options",
    "ship_options",
    "view_options",
]
