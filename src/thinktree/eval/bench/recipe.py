"""A benchmark recipe: the runs behind one figure and the reports that write it.

A recipe is a YAML file (``benchmarks/recipes/*.yaml``)::

    description: Issue 4's baseline, greedy with the 1.5B.
    store: runs/baseline/runs.db          # SQLite run store (relative to the repo)
    exports: benchmarks/baseline           # runs travel in git as exports (optional)
    imports: [benchmarks/evolve/x.jsonl.gz]  # further exports to import first
    x-sc4: &sc4 {strategy: sc, samples: 4}  # x- keys: option blocks (YAML anchors)
    defaults:                              # under every run; a run sets what differs
      model: base                          # the untouched 1.5B, whatever default serves
      source: {benchmark: gsm8k, split: test, limit: 50}
    runs:
      - name: sc@4                         # the arm: runs of one name pool over seeds
        search: {<<: *sc4}
        seeds: [0, 1, 2]                   # one run a seed (search.seed)
    reports:
      - results: benchmarks/results/x.json
        analyses: [summary]                # named report functions (bench/analyses)
        slice: {benchmark: gsm8k, split: test, limit: 50}   # the problems reported
        plot: benchmarks/results/x.png

A recipe may instead (or also) name a probe, a measurement that is not a stored
run (timing the engine, the sandbox, a training step); ``store`` is then needed only
for runs, evolve, reports, imports or exports::

    probe:
      name: engine                         # a registered probe (bench/probes)
      options: {tokens: 128}               # checked by the probe's options model

A run's ``source``, ``search`` and ``engine`` are :class:`ProblemSource`,
:class:`SearchConfig` and :class:`EngineConfig` fields, and a probe's options its
options model's, checked here, before any model is loaded; a bad recipe is one line
naming the file, the field and the fix.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    model_validator,
)

from thinktree.engines.factory import EngineConfig
from thinktree.eval.rescore_config import RESCORE_RULES, RescoreRule
from thinktree.problems import ProblemSource
from thinktree.search import SearchConfig
from thinktree.search.registry import checked, resolved


class RecipeError(ValueError):
    """A recipe a user wrote wrongly, said in one line."""


class Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _first_error(exc: ValidationError, field: str, joiner: str) -> str:
    """A validation error's first complaint in one line, under ``field`` (``search.samples:
    ...`` with joiner ".", ``--set samples: ...`` with " ")."""
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    message = first["msg"].removeprefix("Value error, ")
    return f"{field}{joiner}{where}: {message}" if where else f"{field}: {message}"


@contextmanager
def _within(field: str) -> Iterator[None]:
    """A nested model's first error as one line under ``field`` (``search.samples: ...``)."""
    try:
        yield
    except ValidationError as exc:
        raise ValueError(_first_error(exc, field, ".")) from None
    except ValueError as exc:
        raise ValueError(f"{field}: {exc}") from None


class RunSpec(Strict):
    """One run of a recipe (before its seeds are spread out)."""

    name: str | None = None
    """The arm this run belongs to (runs of one name and model pool over seeds);
    default: the stored run's label, e.g. ``sc@4``."""
    model: str = "default"
    """Embedded model name or alias (base: the untouched 1.5B; default: what the package
    serves, an evolved 1.5B once one ships; fast), a .gguf path or a policy dir."""
    source: ProblemSource = ProblemSource(benchmark="gsm8k", split="test", limit=50)
    search: dict[str, Any] = Field(default_factory=dict)
    """:class:`SearchConfig` fields (strategy, samples, seed...)."""
    scorer: str = "none"
    """none, outcome or ppm:DIR, as ``thinktree eval --scorer``."""
    engine: dict[str, Any] = Field(default_factory=dict)
    """:class:`EngineConfig` fields other than the model (parallel, threads...)."""
    seeds: list[int] | None = None
    """One run for each seed (search.seed); default: the search's own seed."""
    rescore: str | None = None
    """A learned scorer (ppm:DIR) that then picks among this sampling run's samples:
    a best_of_n run made from it without generating again (``thinktree rescore``)."""
    rescore_select: list[RescoreRule] = Field(default_factory=lambda: [RESCORE_RULES[0]])
    """The selection rules ``rescore`` applies, each making its own run (``thinktree
    rescore --select``): best (the best-scored sample) or weighted (scores summed per
    answer). A report names a rescored run's arm by this run's name and the rule."""

    @model_validator(mode="after")
    def _check(self) -> RunSpec:
        if "model" in self.engine:
            raise ValueError("engine.model: name the model in the run's `model` field")
        if self.rescore is not None and not self.rescore.startswith("ppm:"):
            raise ValueError(f"rescore needs a learned scorer (ppm:DIR), not {self.rescore!r}")
        if "rescore_select" in self.model_fields_set and self.rescore is None:
            raise ValueError("rescore_select needs rescore: ppm:DIR, the scorer that picks")
        if not self.rescore_select or len(set(self.rescore_select)) < len(self.rescore_select):
            raise ValueError(
                f"rescore_select: name each rule once, at least one ({', '.join(RESCORE_RULES)})"
            )
        if self.seeds is not None and "seed" in self.search:
            raise ValueError("give either seeds or search.seed, not both")
        with _within("engine"):
            EngineConfig(**self.engine)
        with _within("search"):
            self.search_config(None)
        return self

    def search_config(self, seed: int | None) -> SearchConfig:
        """The run's search, its strategy checked and its defaults decided for its scorer."""
        from thinktree.reward.registry import spec_is_scored

        fields = dict(self.search)
        if seed is not None:
            fields["seed"] = seed
        return resolved(checked(SearchConfig(**fields)), spec_is_scored(self.scorer))

    def expanded(self) -> list[PlannedRun]:
        seeds: list[int | None] = list(self.seeds) if self.seeds is not None else [None]
        return [PlannedRun(self, self.search_config(seed)) for seed in seeds]


class PlannedRun:
    """One run to find or make: its spec and its resolved search (one seed)."""

    def __init__(self, spec: RunSpec, config: SearchConfig) -> None:
        self.spec = spec
        self.config = config

    def describe(self) -> str:
        src = self.spec.source
        end = "" if src.limit is None else src.offset + src.limit
        where = f"{src.benchmark or src.data}:{src.split or ''}[{src.offset}:{end}]"
        name = self.spec.name or self.config.strategy
        return f"{self.spec.model} {name} seed {self.config.seed} on {where}"


class ReportSpec(Strict):
    results: str
    """The results JSON (relative to the repo); keys no analysis of this report
    writes are kept, and ``runs`` entries are merged by run id."""
    analyses: list[str] = Field(default_factory=lambda: ["summary"])
    """Named report functions (:data:`thinktree.eval.bench.analyses.ANALYSES`)."""
    slice: ProblemSource | None = None
    """The problems reported (:class:`ProblemSource` fields); a run is cut to those of
    them it holds, and a run holding none is left out. Default: each run's own."""
    plot: str | None = None
    """The accuracy-vs-tokens plot of the summary's arms (PNG)."""
    pairs: list[tuple[str, str]] | None = None
    """Arm pairs the summary compares (default: every pair within a model)."""
    options: dict[str, Any] = Field(default_factory=dict)
    """Options the named analyses read (each documents its own)."""

    @model_validator(mode="after")
    def _check(self, info: ValidationInfo) -> ReportSpec:
        known = (info.context or {}).get("analyses")
        unknown = [name for name in self.analyses if known is not None and name not in known]
        if unknown:
            raise ValueError(f"unknown analysis {unknown[0]!r}; known: {', '.join(sorted(known))}")
        return self


class EvolveSpec(Strict):
    """A self-evolution run (``thinktree evolve``) made resumable across machines: its
    store's runs travel as exports and its rounds' ledgers (stages done, runs adopted)
    as JSON files, restored where this machine lacks them and saved after each call."""

    config: str
    """The evolve config file (``thinktree evolve --config``)."""
    out: str
    """The rounds' directory (``--out``)."""
    ledgers: str
    """Where this run's round ledgers travel in git (round-N.json)."""
    base_ledgers: dict[str, str] = Field(default_factory=dict)
    """Rounds adopted from another run's ledgers (round name -> file), restored
    where this machine lacks them and never saved over."""
    rounds: int | None = Field(None, ge=0)
    reference: bool | None = None
    """Add converted reference solutions to SFT (``--reference``)."""
    restore_shipped: bool = True
    """Put the shipped policy over the evolved model (the ``evolved`` slot for the 0.5B,
    ``default`` for the 1.5B) back into its round (weights are not in git)."""
    checkpoints: str | None = None
    """Where the rounds' in-progress SFT and LM PPM checkpoints travel in git
    (round-N.sft.tar.gz, round-N.ppm.tar.gz), exported after each call and imported
    where this machine lacks them, so a fresh machine resumes a training instead of
    restarting it; none: they do not travel."""
    checkpoint_precision: Literal["exact", "compact"] = "compact"
    """``exact`` resumes bit for bit; ``compact`` halves the file (16-bit weights and
    Adam moments: 111 MB for the 1.5B at r16 before gzip, see
    ``thinktree.train.sft.checkpoint_export``)."""


class ProbeSpec(Strict):
    """A measurement that is not a stored run: a registered probe and its options."""

    name: str
    """A registered probe (``thinktree bench``'s registry: engine, sandbox, grader...)."""
    options: dict[str, Any] = Field(default_factory=dict)
    """The probe's options: its options model's fields (each documented there)."""

    @model_validator(mode="after")
    def _check(self, info: ValidationInfo) -> ProbeSpec:
        known: Mapping[str, type[BaseModel]] = (info.context or {}).get("probes") or {}
        if self.name not in known:
            names = ", ".join(sorted(known)) or "none"
            raise ValueError(f"unknown probe {self.name!r}; known: {names}")
        with _within("options"):
            known[self.name].model_validate(self.options)
        return self


class Recipe(Strict):
    description: str = ""
    store: str | None = None
    """The SQLite run store (relative to the repository); needed by runs, evolve,
    reports, imports and exports."""
    exports: str | None = None
    imports: list[str] = Field(default_factory=list)
    runs: list[RunSpec] = Field(default_factory=list)
    evolve: EvolveSpec | None = None
    """A self-evolution run instead of (or after) the eval runs."""
    probe: ProbeSpec | None = None
    """A measurement run after the runs and evolve (``bench/probes``)."""
    reports: list[ReportSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> Recipe:
        parts = {"runs": self.runs, "evolve": self.evolve, "reports": self.reports,
                 "imports": self.imports, "exports": self.exports}  # fmt: skip
        needing = [name for name, given in parts.items() if given]
        if self.store is None and needing:
            raise ValueError(
                f"store: a recipe with {needing[0]} needs a run store (store: runs/NAME/runs.db)"
            )
        if not (self.runs or self.evolve or self.probe or self.reports):
            raise ValueError("nothing to do: give runs, evolve, a probe or reports")
        return self

    def planned(self) -> list[PlannedRun]:
        return [run for spec in self.runs for run in spec.expanded()]

    def with_probe_options(
        self, overrides: Mapping[str, Any], probes: Mapping[str, type[BaseModel]]
    ) -> Recipe:
        """The recipe with ``overrides`` (``--set KEY=VALUE``) over its probe's options,
        checked by the probe's options model (RecipeError, one line, if they do not fit)."""
        if not overrides:
            return self
        if self.probe is None:
            raise RecipeError("--set sets a probe's options; this recipe has no probe")
        options = {**self.probe.options, **overrides}
        try:
            probes[self.probe.name].model_validate(options)
        except ValidationError as exc:
            raise RecipeError(_first_error(exc, "--set", " ")) from None
        probe = self.probe.model_copy(update={"options": options})
        return self.model_copy(update={"probe": probe})


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` on top of ``base``, dictionaries merged key by key."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _where(error: dict[str, Any], raw: dict[str, Any]) -> str:
    """A pydantic error's location, a run named by its index and name."""
    loc = [part for part in error["loc"] if not str(part).startswith("function-")]
    if len(loc) >= 2 and loc[0] in ("runs", "reports") and isinstance(loc[1], int):
        items = raw.get(loc[0]) or []
        item = items[loc[1]] if loc[1] < len(items) else {}
        name = item.get("name") if loc[0] == "runs" and isinstance(item, dict) else None
        label = f"{loc[0]}[{loc[1]}]" + (f" ({name})" if name else "")
        loc = [label, *loc[2:]]
    return ".".join(str(part) for part in loc)


def parse_recipe(
    raw: object,
    origin: str,
    analyses: Collection[str],
    probes: Mapping[str, type[BaseModel]] | None = None,
) -> Recipe:
    """A recipe from its YAML data, ``defaults`` merged under every run, its reports
    naming only ``analyses`` and its probe only ``probes`` (name -> options model);
    RecipeError (one line: the origin, the field, what is wrong) if it is not valid.
    (The registries are passed in, not imported: analyses and probes read recipes.)"""
    if not isinstance(raw, dict):
        raise RecipeError(
            f"{origin}: a recipe is a mapping of fields (store, runs, probe, reports)"
        )
    # Keys starting with x- hold YAML anchors (option blocks the runs merge in).
    data = {key: value for key, value in raw.items() if not str(key).startswith("x-")}
    defaults = data.pop("defaults", None) or {}
    if not isinstance(defaults, dict):
        raise RecipeError(f"{origin}: defaults must be a mapping of run fields")
    runs = data.get("runs") or []
    if not isinstance(runs, list) or not all(isinstance(r, dict) for r in runs):
        raise RecipeError(f"{origin}: runs must be a list of mappings")
    data["runs"] = [_merge(defaults, run) for run in runs]
    try:
        context = {"analyses": analyses, "probes": probes or {}}
        return Recipe.model_validate(data, context=context)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = _where(first, data)
        message = first["msg"].removeprefix("Value error, ")
        more = len(exc.errors()) - 1
        tail = f" (and {more} more)" if more else ""
        at = f"{where}: " if where else ""
        raise RecipeError(f"{origin}: {at}{message}{tail}") from None


def load_recipe(
    path: str | Path,
    analyses: Collection[str],
    probes: Mapping[str, type[BaseModel]] | None = None,
) -> Recipe:
    """Read and check a recipe file (RecipeError, in one line, if it cannot be used)."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise RecipeError(f"cannot read recipe {path}: {exc.strerror or exc}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise RecipeError(f"{path}: not valid YAML{at}") from None
    return parse_recipe(raw, str(path), analyses, probes)
