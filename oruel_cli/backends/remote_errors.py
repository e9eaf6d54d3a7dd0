"""A failed remote request, as oruel acts on it: what happened, whether another
try (elsewhere) may succeed, whether the endpoint is unusable, and how long the
server asked to wait.

Retried: connection errors, timeouts, 429 and 5xx. Never retried: any other
4xx (400, 404, 422...: the request itself is refused, and the server's
message is the line's error). 401 and 403 mean the endpoint cannot be used
with this key.
"""

from __future__ import annotations

import email.utils
import json
import time
from dataclasses import dataclass
from typing import Any

from ..errors import RuntimeFailure

MAX_RETRY_AFTER = 3600.0  # seconds: a server asking for longer is taken at this


@dataclass
class RemoteError(Exception):
    url: str
    kind: str  # "connection", "timeout", "status"
    message: str
    status: int | None = None
    retry_after: float | None = None  # seconds, from the Retry-After header
    code: str | None = None  # the OpenAI error object's code, when the server gave one

    def __post_init__(self) -> None:
        super().__init__(self.describe())

    @property
    def retryable(self) -> bool:
        return self.kind != "status" or self.status == 429 or (self.status or 0) >= 500

    @property
    def endpoint_unusable(self) -> bool:
        return self.status in (401, 403)

    @property
    def context_too_long(self) -> bool:
        """A 400 saying the prompt does not fit the server's context."""
        if self.status != 400:
            return False
        text = f"{self.code or ''} {self.message}".lower()
        return "context_length" in text or "context length" in text or "maximum context" in text

    def describe(self) -> str:
        """One line: the endpoint and what happened."""
        if self.kind == "status":
            return f"{self.url}: HTTP {self.status}: {self.message}"
        return f"{self.url}: {self.message}"

    def error_code(self) -> str:
        """The `code` of a batch line's error record."""
        if self.kind != "status":
            return f"endpoint_{self.kind}"
        return self.code or f"http_{self.status}"


class RemoteFailure(RuntimeFailure):
    """Every endpoint tried failed (exit 1): one line naming each and what happened."""

    def __init__(self, errors: list[RemoteError]) -> None:
        self.errors = errors
        if len(errors) == 1:
            text = f"the endpoint failed: {errors[0].describe()}"
        else:
            text = "every endpoint failed: " + "; ".join(e.describe() for e in errors)
        if any(e.endpoint_unusable for e in errors):
            text += " (give the server's key with --api-key or the endpoint's api_key_env)"
        super().__init__(text)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds to wait: delta-seconds or an HTTP date; None if absent
    or unreadable; at least 0, at most MAX_RETRY_AFTER."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def retry_after_of(headers: Any) -> float | None:
    """From response headers: `retry-after-ms` (as OpenAI sends it), else `retry-after`."""
    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            return min(max(float(ms) / 1000.0, 0.0), MAX_RETRY_AFTER)
        except ValueError:
            pass
    return parse_retry_after(headers.get("retry-after"))


def server_message(body: Any, fallback: str) -> tuple[str, str | None]:
    """The OpenAI error object's message and code (or llama-server's, or plain text)."""
    if isinstance(body, (bytes, str)):
        try:
            body = json.loads(body)
        except (ValueError, TypeError):
            text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
            return (text.strip()[:500] or fallback), None
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict):
            msg = err.get("message") or err.get("detail") or fallback
            code = err.get("code")
            return str(msg), (str(code) if code is not None else None)
        if isinstance(err, str):
            return err, None
    return fallback, None


def from_openai(exc: BaseException, url: str) -> RemoteError:
    """An exception of the openai client (or of the transport under it) as a RemoteError."""
    import openai

    if isinstance(exc, openai.APITimeoutError):
        return RemoteError(url, "timeout", "no answer within the timeout (--timeout)")
    if isinstance(exc, openai.APIConnectionError):
        cause = exc.__cause__ or exc.__context__
        detail = _connection_detail(cause) if cause is not None else "connection error"
        return RemoteError(url, "connection", detail)
    if isinstance(exc, openai.APIStatusError):
        response = exc.response
        body: Any = exc.body
        if body is None:
            try:
                body = response.text
            except Exception:  # a streamed body not read yet
                body = None
        msg, code = server_message(body, exc.message)
        return RemoteError(
            url,
            "status",
            msg,
            status=exc.status_code,
            retry_after=retry_after_of(response.headers),
            code=code if code is not None else getattr(exc, "code", None),
        )
    if isinstance(exc, openai.APIError):
        return RemoteError(url, "connection", f"a bad answer: {exc}")
    if isinstance(exc, (OSError, EOFError)):
        return RemoteError(url, "connection", _connection_detail(exc))
    # The transport's own errors (a stream cut mid-answer) are not all OSError subclasses.
    name = type(exc).__name__
    if name.endswith(("Error", "Exception")) and "Timeout" in name:
        return RemoteError(url, "timeout", "no answer within the timeout (--timeout)")
    return RemoteError(url, "connection", _connection_detail(exc))


def _connection_detail(exc: BaseException) -> str:
    text = str(exc).strip()
    low = text.lower()
    if "refused" in low:
        return "connection refused (is the server running?)"
    if "name or service not known" in low or "nodename nor servname" in low:
        return "unknown host"
    if "reset" in low or "peer closed" in low or "incomplete" in low or "disconnect" in low:
        return "the connection was cut before the answer was whole"
    return f"connection error ({text or type(exc).__name__})"
