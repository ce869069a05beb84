"""The FastAPI app: ``GET /v1/models``, ``POST /v1/chat/completions`` and the viewer.

Build it with :func:`create_app` from a :class:`thinktree.api.Runtime` (tests
pass one on the scripted engine; ``thinktree serve`` opens the real one and
closes it after the server stops: the app never owns the runtime), or from
None for the viewer alone (``thinktree view``: no model, no ``/v1`` routes).
With a store the viewer's pages (:mod:`thinktree.viewer`) are served beside
the API, behind the same key; their errors are HTML pages, the API's JSON.

Status codes: 400 bad input (malformed JSON, missing or mistyped fields, no
user message, an empty question, a budget out of range, an unknown scorer),
401 missing or wrong key, 404 unknown model or path, 405 wrong method, 413 body
too large, 429 every slot busy and the queue full, 500 a failure of the server
or engine, 503 the server is shutting down. Every one carries an OpenAI-style
error object. A streaming request that fails after its first chunk ends with a
``data: {"error": ...}`` event and ``data: [DONE]``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from thinktree.api import Runtime
from thinktree.server import responses
from thinktree.server.auth import (
    BASIC_CHALLENGE,
    MISSING_KEY,
    MISSING_KEY_PAGE,
    is_api_path,
    key_matches,
)
from thinktree.server.config import ServerConfig
from thinktree.server.errors import APIError
from thinktree.server.gate import Busy, Gate
from thinktree.server.recorder import Recorder
from thinktree.server.request import model_names, parse_body
from thinktree.server.solver import Solved, SolveJob
from thinktree.viewer import PageError, Viewer, ViewerConfig

log = logging.getLogger(__name__)

CLIENT_GONE = 499
"""Answered (to nobody) when the client left before its answer was ready."""


def create_app(runtime: Runtime | None, config: ServerConfig | None = None) -> FastAPI:
    """The app serving ``runtime``'s model with every registered strategy (None: no API),
    and the viewer over ``config.store_path`` (None: no viewer)."""
    config = config or ServerConfig()
    viewer = (
        Viewer(ViewerConfig(config.store_path, config.evolve_dir))
        if config.store_path is not None
        else None
    )
    executor = ThreadPoolExecutor(config.concurrency, thread_name_prefix="thinktree-serve")
    jobs: set[SolveJob] = set()
    recorder = (
        Recorder(config.store_path, runtime.model_id())
        if runtime is not None and config.store_path is not None
        else None
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        for job in list(jobs):
            job.stop.set()
        executor.shutdown(wait=True)
        if recorder is not None:
            recorder.close()

    async def authorize(request: Request) -> None:
        if config.api_key is None:
            return
        api = is_api_path(request.url.path)
        header = request.headers.get("authorization", "")
        if key_matches(header, config.api_key, allow_basic=not api):
            return
        if api or viewer is None:
            raise APIError(401, MISSING_KEY, code="invalid_api_key")
        raise PageError(401, MISSING_KEY_PAGE, headers=BASIC_CHALLENGE)

    app = FastAPI(
        title="thinktree",
        lifespan=lifespan,
        dependencies=[Depends(authorize)],
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    _install_error_handlers(app, viewer)
    if viewer is not None:
        app.include_router(viewer.router())
    if runtime is not None:
        _add_api(app, runtime, config, executor, jobs, recorder)
    return app


def _add_api(
    app: FastAPI,
    runtime: Runtime,
    config: ServerConfig,
    executor: ThreadPoolExecutor,
    jobs: set[SolveJob],
    recorder: Recorder | None,
) -> None:
    """``GET /v1/models`` and ``POST /v1/chat/completions`` over ``runtime``."""
    gate = Gate(config.concurrency, config.queue)
    # Readable admission state (slots running, requests waiting, solves in flight)
    # for whoever embeds the app: a health probe, or a test waiting on a condition.
    app.state.gate = gate
    app.state.jobs = jobs

    @app.get("/v1/models")
    async def list_models() -> dict[str, Any]:
        return {
            "object": "list",
            "data": [
                {"id": name, "object": "model", "created": 0, "owned_by": "thinktree"}
                for name in model_names()
            ],
        }

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Response:
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > config.max_body_bytes:
            raise APIError(
                413,
                f"the request body has {length} bytes; the limit is {config.max_body_bytes}",
                code="request_too_large",
            )
        chat = parse_body(await request.body(), config)
        try:
            if not await gate.acquire(request.is_disconnected, config.poll_seconds):
                return Response(status_code=CLIENT_GONE)
        except Busy as exc:
            raise APIError(
                429, f"the server is busy ({exc}); retry later", type="rate_limit_error",
                code="server_busy",
            ) from exc  # fmt: skip
        completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        job = SolveJob(
            chat,
            completion_id,
            runtime,
            (config.scorers[chat.scorer], config.scorer_ids.get(chat.scorer, chat.scorer)),
            recorder,
        )
        jobs.add(job)

        def done() -> None:
            jobs.discard(job)
            gate.release()

        try:
            job.start(executor, done)
        except BaseException:
            done()
            raise
        if chat.stream:
            return StreamingResponse(
                _stream(job, completion_id, request, config.poll_seconds),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache"},
            )
        async for _ in job.events(request.is_disconnected, config.poll_seconds):
            pass
        if not job.future.done():
            return Response(status_code=CLIENT_GONE)
        solved = _outcome(job)
        return JSONResponse(responses.completion(completion_id, chat.model, solved))


def _outcome(job: SolveJob) -> Solved:
    """The finished job's result, or the APIError that answers its failure."""
    try:
        solved = job.future.result()
    except Exception as exc:
        log.exception("solving %s failed", job.problem.id)
        message = " ".join(str(exc).split()) or type(exc).__name__
        raise APIError(500, f"the solve failed: {message}", type="server_error") from exc
    if solved is None:
        raise APIError(503, "the server is shutting down", type="server_error", code="shutdown")
    return solved


async def _stream(
    job: SolveJob, completion_id: str, request: Request, poll: float
) -> AsyncIterator[str]:
    model = job.request.model
    yield responses.chunk(completion_id, model, {"role": "assistant", "content": ""})
    async for event in job.events(request.is_disconnected, poll):
        yield responses.progress_chunk(completion_id, model, event)
    if not job.future.done():
        return
    try:
        solved = _outcome(job)
    except APIError as exc:
        yield responses.sse_error(exc.body())
        yield responses.DONE
        return
    yield responses.chunk(completion_id, model, {"content": responses.answer_text(solved.result)})
    yield responses.chunk(
        completion_id,
        model,
        {},
        "stop",
        usage=responses.usage(solved.result),
        thinktree=responses.extras(solved),
    )
    yield responses.DONE


def _install_error_handlers(app: FastAPI, viewer: Viewer | None) -> None:
    """API paths answer OpenAI-style JSON errors; viewer paths (with a viewer) HTML pages."""

    def page(request: Request) -> bool:
        return viewer is not None and not is_api_path(request.url.path)

    def html(request: Request, status: int, message: str, **headers: str) -> HTMLResponse:
        assert viewer is not None
        return viewer.error(request, status, message, headers)

    @app.exception_handler(APIError)
    async def api_error(request: Request, exc: APIError) -> Response:
        if page(request):
            return html(request, exc.status, exc.message)
        return JSONResponse(exc.body(), status_code=exc.status)

    @app.exception_handler(PageError)
    async def page_error(request: Request, exc: PageError) -> Response:
        if page(request):
            return html(request, exc.status, exc.message, **exc.headers)
        error = APIError(exc.status, exc.message)
        return JSONResponse(error.body(), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if page(request):
            return html(request, exc.status_code, str(exc.detail))
        error = APIError(exc.status_code, str(exc.detail), code=_HTTP_CODES.get(exc.status_code))
        return JSONResponse(error.body(), status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        message = "; ".join(str(e.get("msg")) for e in exc.errors())
        if page(request):
            return html(request, 400, message)
        return JSONResponse(APIError(400, message).body(), status_code=400)

    @app.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error")
        message = f"internal error: {type(exc).__name__}"
        if page(request):
            return html(request, 500, message)
        error = APIError(500, message, type="server_error")
        return JSONResponse(error.body(), status_code=500)


_HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}
