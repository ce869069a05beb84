"""The viewer's routes: HTML pages over the run store (and an evolve directory).

Every page is rendered by Jinja2 with autoescaping on, so step code, outputs,
questions and answers (model-written, untrusted) reach the browser as text; a
Content-Security-Policy that allows only this server's own script and style is
sent with every page as a second wall. The store is opened per request (SQLite
connections belong to their thread) and never created: a missing store is shown
as such, and the page fills in once a run writes it.

Paths: ``/`` runs, ``/runs/{run}`` a run's problems (``?show=right|wrong|
unanswered&sort=tokens|time``), ``/runs/{run}/problems/{problem}`` one problem
(its tree, or its samples side by side), ``/chart`` accuracy vs. tokens,
``/evolve`` an evolve directory's rounds, ``/assets/{name}`` the page assets.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import jinja2
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from thinktree.store import ResultRow, RunRecord, RunStore, StoreError
from thinktree.viewer.chart import accuracy_tokens_svg, chart_points
from thinktree.viewer.evolve import read_evolve
from thinktree.viewer.problem import best_index, sample_views
from thinktree.viewer.runs import (
    FILTERS,
    SORTS,
    select_problems,
    summarize_run,
    summarize_runs,
    verdict,
    verdict_counts,
)
from thinktree.viewer.tree import chosen_path, layout

log = logging.getLogger(__name__)

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
ASSET_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}


@dataclass(frozen=True)
class ViewerConfig:
    store_path: Path
    evolve_dir: Path | None = None
    refresh_seconds: int = 5
    """How often a page of something still running reloads its content."""


class PageError(Exception):
    """Answered as an HTML error page with ``status``."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


def run_url(run_id: str) -> str:
    return f"/runs/{quote(run_id, safe='')}"


def problem_url(run_id: str, problem_id: str) -> str:
    return f"{run_url(run_id)}/problems/{quote(problem_id, safe='')}"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("thinktree.viewer", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        run_url=run_url,
        problem_url=problem_url,
        verdict=verdict,
        query=lambda **kw: "?" + urlencode({k: v for k, v in kw.items() if v is not None}),
    )
    env.filters["pct"] = lambda v: "n/a" if v is None else f"{100 * v:.1f}"
    env.filters["signed"] = lambda v: "–" if v is None else f"{v:+.2f}"
    return env


def _load_assets() -> dict[str, tuple[bytes, str]]:
    folder = resources.files("thinktree.viewer") / "static"
    assets = {}
    for item in folder.iterdir():
        kind = ASSET_TYPES.get(Path(item.name).suffix)
        if kind is not None:
            assets[item.name] = (item.read_bytes(), kind)
    return assets


class Viewer:
    """The pages of one server: its store, its evolve directory, its templates."""

    def __init__(self, config: ViewerConfig) -> None:
        self.config = config
        self.templates = Jinja2Templates(env=_environment())
        self.assets = _load_assets()

    # -- rendering -----------------------------------------------------------------------

    def page(
        self, request: Request, name: str, status_code: int = 200, **context: Any
    ) -> HTMLResponse:
        context.setdefault("refresh", None)
        context["evolve"] = self.config.evolve_dir is not None
        response = self.templates.TemplateResponse(request, name, context, status_code=status_code)
        response.headers.update(SECURITY_HEADERS)
        return response

    def error(
        self,
        request: Request,
        status: int,
        message: str,
        headers: dict[str, str] | None = None,
    ) -> HTMLResponse:
        """An error page; a plain escaped one if even the template fails (never raises)."""
        try:
            response = self.page(request, "error.html", status, status=status, message=message)
        except Exception:
            log.exception("rendering the error page failed")
            text = html.escape(f"{status}: {message}")
            response = HTMLResponse(f"<!doctype html><title>{status}</title><p>{text}</p>", status)
            response.headers.update(SECURITY_HEADERS)
        response.headers.update(headers or {})
        return response

    @contextmanager
    def store(self) -> Iterator[RunStore]:
        try:
            store = RunStore(self.config.store_path, create=False)
        except StoreError as exc:
            raise PageError(404, str(exc)) from exc
        with store:
            yield store

    # -- routes --------------------------------------------------------------------------

    def router(self) -> APIRouter:
        router = APIRouter()
        router.add_api_route("/", self.runs_page, methods=["GET"], include_in_schema=False)
        router.add_api_route("/runs/{run_id}", self.run_page, methods=["GET"])
        router.add_api_route(
            "/runs/{run_id}/problems/{problem_id:path}", self.problem_page, methods=["GET"]
        )
        router.add_api_route("/chart", self.chart_page, methods=["GET"])
        router.add_api_route("/chart.svg", self.chart_svg, methods=["GET"])
        router.add_api_route("/evolve", self.evolve_page, methods=["GET"])
        router.add_api_route("/assets/{name}", self.asset, methods=["GET"])
        for route in router.routes:
            route.include_in_schema = False  # type: ignore[attr-defined]
        return router

    def runs_page(self, request: Request) -> HTMLResponse:
        refresh = self.config.refresh_seconds
        if not self.config.store_path.is_file():
            return self.page(
                request, "runs.html", runs=[], store=str(self.config.store_path), refresh=refresh
            )
        with self.store() as store:
            runs = summarize_runs(store)
        return self.page(
            request, "runs.html", runs=runs, store=str(self.config.store_path), refresh=refresh
        )

    def run_page(
        self, request: Request, run_id: str, show: str = "all", sort: str = "position"
    ) -> HTMLResponse:
        with self.store() as store:
            run = self._run(store, run_id)
            rows = store.results(run.id)
            trees = set(store.tree_problem_ids(run.id))
            summary = summarize_run(store, run)
        try:
            shown = select_problems(rows, show, sort)
        except ValueError as exc:
            raise PageError(400, str(exc)) from exc
        return self.page(
            request,
            "run.html",
            summary=summary,
            rows=shown,
            counts=verdict_counts(rows),
            trees=trees,
            show=show,
            sort=sort,
            filters=FILTERS,
            sorts=SORTS,
            refresh=self.config.refresh_seconds if summary.live else None,
        )

    def problem_page(self, request: Request, run_id: str, problem_id: str) -> HTMLResponse:
        with self.store() as store:
            run = self._run(store, run_id)
            row = self._row(store, run.id, problem_id)
            stored = store.tree(run.id, problem_id)
        best = best_index(row)
        chosen_steps = row.trajectories[best]["steps"] if best is not None else []
        tree = None
        if stored is not None:
            tree = layout(stored["nodes"], chosen_path(stored["nodes"], chosen_steps))
        samples = sample_views(row)
        return self.page(
            request,
            "problem.html",
            run=run,
            row=row,
            tree=tree,
            samples=samples,
            chosen=samples[best] if best is not None else None,
        )

    def chart_page(self, request: Request) -> HTMLResponse:
        groups = {}
        if self.config.store_path.is_file():
            with self.store() as store:
                groups = chart_points(summarize_runs(store))
        return self.page(
            request,
            "chart.html",
            groups=groups,
            chart_url=lambda dataset: "/chart.svg" + "?" + urlencode({"dataset": dataset}),
            refresh=None,
        )

    def chart_svg(self, dataset: str = "") -> Response:
        with self.store() as store:
            groups = chart_points(summarize_runs(store))
        if dataset not in groups:
            known = ", ".join(groups) or "none yet"
            raise PageError(404, f"no graded runs on {dataset!r} to chart; charted: {known}")
        svg = accuracy_tokens_svg(dataset, groups[dataset])
        return Response(svg, media_type="image/svg+xml", headers=SECURITY_HEADERS)

    def evolve_page(self, request: Request) -> HTMLResponse:
        directory = self.config.evolve_dir
        if directory is None:
            raise PageError(404, "no evolve directory is shown: start the server with --evolve DIR")
        try:
            view = read_evolve(directory)
        except ValueError as exc:
            raise PageError(404, str(exc)) from exc
        known: set[str] = set()
        if self.config.store_path.is_file():
            with self.store() as store:
                known = {r.id for r in store.list_runs()}
        return self.page(
            request,
            "evolve.html",
            view=view,
            known_runs=known,
            refresh=self.config.refresh_seconds,
        )

    def asset(self, name: str) -> Response:
        if name not in self.assets:
            raise PageError(404, f"no asset {name!r}")
        body, kind = self.assets[name]
        return Response(body, media_type=kind, headers=SECURITY_HEADERS)

    # -- lookups -------------------------------------------------------------------------

    @staticmethod
    def _run(store: RunStore, run_id: str) -> RunRecord:
        try:
            return store.get_run(run_id)
        except StoreError as exc:
            raise PageError(404, str(exc)) from exc

    @staticmethod
    def _row(store: RunStore, run_id: str, problem_id: str) -> ResultRow:
        for row in store.iter_results(run_id):
            if row.problem_id == problem_id:
                return row
        raise PageError(404, f"run {run_id} has no problem {problem_id!r} (yet)")
