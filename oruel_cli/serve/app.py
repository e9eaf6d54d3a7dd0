"""The Starlette application: routes, the API key, CORS, errors, the request log.

From the outside in: the request log (one line per request on stderr), CORS
(only with --cors-origin), the API key (only with --api-key; `/health` is
open), then the routes. Every error leaves in OpenAI's shape, the router's
own 404 and 405 included; an unforeseen exception is a 500 in that shape and
one log line, never a traceback.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .chat import chat_completions, check_open
from .errors import ApiError, json_response
from .metrics import CONTENT_TYPE
from .models import ServedModel
from .state import RequestLog, ServeState
from .template_route import apply_template

Endpoint = Callable[[Request], Awaitable[Response]]
QUIET_PATHS = ("/health", "/metrics")  # probes: logged only when they fail


def build_app(state: ServeState, cors_origins: list[str], lifespan: Any = None) -> Starlette:
    middleware = [Middleware(RequestLogger, state=state)]
    if cors_origins:
        middleware.append(
            Middleware(
                CORSMiddleware, allow_origins=cors_origins, allow_methods=["GET", "POST"],
                allow_headers=["Authorization", "Content-Type"],
            )
        )  # fmt: skip
    if state.api_key:
        middleware.append(Middleware(ApiKey, key=state.api_key))
    app = Starlette(
        routes=[
            Route("/v1/chat/completions", _api(chat_completions), methods=["POST"]),
            Route("/apply-template", _api(apply_template), methods=["POST"]),
            Route("/v1/models", _api(models), methods=["GET"]),
            Route("/v1/models/{model:path}", _api(model), methods=["GET"]),
            Route("/health", _api(health), methods=["GET"]),
            Route("/metrics", _api(metrics), methods=["GET"]),
        ],
        middleware=middleware,
        exception_handlers={HTTPException: _http_error},
        lifespan=lifespan,
    )
    app.state.oruel = state
    return app


def _api(endpoint: Endpoint) -> Endpoint:
    """ApiError -> its answer; anything unforeseen -> 500 in OpenAI's shape."""

    async def wrapped(request: Request) -> Response:
        try:
            return await endpoint(request)
        except ApiError as e:
            request.scope["oruel.log"].notes.append(e.message)
            return e.response()
        except Exception as e:  # one line in the log, never a traceback
            log: RequestLog = request.scope["oruel.log"]
            log.notes.append(f"internal error: {type(e).__name__}: {e}")
            return ApiError(500, f"internal error: {type(e).__name__}: {e}").response()

    return wrapped


async def _http_error(request: Request, exc: Exception) -> Response:
    """The router's own errors (404 unknown route, 405 wrong method)."""
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    if status == 404:
        message = f"unknown route {request.method} {request.url.path}"
    elif status == 405:
        allow = (exc.headers or {}).get("Allow", "")
        message = f"method {request.method} is not allowed on {request.url.path} (allowed: {allow})"
    else:
        message = exc.detail
    code = {404: "not_found", 405: "method_not_allowed"}.get(status)
    return ApiError(status, message, code=code, headers=dict(exc.headers or {})).response()


async def models(request: Request) -> Response:
    state: ServeState = request.app.state.oruel
    if state.draining:
        check_open(state)
    data = [_model_entry(m) for m in state.registry.models]
    return json_response({"object": "list", "data": data})


async def model(request: Request) -> Response:
    """GET /v1/models/NAME: the loaded model NAME resolves to (as a request's `model`)."""
    state: ServeState = request.app.state.oruel
    if state.draining:
        check_open(state)
    found = state.registry.find(request.path_params["model"])
    return json_response(
        _model_entry(found, state.registry.shown(request.path_params["model"], found))
    )


def _model_entry(m: ServedModel, name: str | None = None) -> dict[str, Any]:
    return {"id": name or m.id, "object": "model", "created": _mtime(m.path), "owned_by": "oruel"}


async def health(request: Request) -> Response:
    state: ServeState = request.app.state.oruel
    if state.draining:
        return json_response({"status": "draining"}, 503)
    if (why := state.failed) is not None:
        return json_response({"status": "failed", "error": why}, 503)
    status = "ok" if state.ready else "loading"
    return json_response({"status": status}, 200 if state.ready else 503)


async def metrics(request: Request) -> Response:
    state: ServeState = request.app.state.oruel
    return Response(state.metrics.render(), media_type=CONTENT_TYPE)


def _mtime(path: Any) -> int:
    try:
        return int(path.stat().st_mtime)
    except OSError:
        return 0


class RequestLogger:
    """One line per request on stderr (the probes only when they fail), and the
    count of answered chat requests by status."""

    def __init__(self, app: ASGIApp, state: ServeState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        log = RequestLog(scope["method"], scope["path"])
        scope["oruel.log"] = log
        sent: dict[str, int] = {}

        async def send_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                sent["status"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            status = log.status or sent.get("status", 500)
            if log.path == "/v1/chat/completions":
                self.state.metrics.completed.labels(status=str(status)).inc()
                self.state.metrics.duration.observe(time.perf_counter() - log.started)
            if status >= 400 or log.path not in QUIET_PATHS:
                self.state.say(log.line(status))


class ApiKey:
    """Every request but /health needs `Authorization: Bearer KEY` (constant-time compare)."""

    def __init__(self, app: ASGIApp, key: str) -> None:
        self.app = app
        self.key = key.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] == "/health":
            await self.app(scope, receive, send)
            return
        given = b""
        for name, value in scope["headers"]:
            if name == b"authorization":
                given = value
        scheme, _, token = given.partition(b" ")
        if scheme.lower() == b"bearer" and hmac.compare_digest(token.strip(), self.key):
            await self.app(scope, receive, send)
            return
        message = (
            "invalid API key" if given else "no API key: send the header Authorization: Bearer KEY"
        )
        err = ApiError(401, message, code="invalid_api_key", headers={"WWW-Authenticate": "Bearer"})
        await err.response()(scope, receive, send)
