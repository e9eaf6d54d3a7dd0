"""Errors in OpenAI's shape: `{"error": {"message", "type", "param", "code"}}`.

Every answer that is not a success has this body, the framework's own 404 and
405 included, so an OpenAI client raises its usual exception (BadRequestError,
NotFoundError, RateLimitError, ...) with the message and param it carries.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import Response

# OpenAI's error `type` for each status oruel answers with.
_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
    500: "server_error",
    503: "server_error",
}


class ApiError(Exception):
    """An HTTP error answer; raised anywhere while handling a request."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return error_body(self.status, self.message, self.param, self.code)

    def response(self) -> Response:
        return json_response(self.body(), self.status, self.headers)


def error_body(
    status: int, message: str, param: str | None = None, code: str | None = None
) -> dict[str, Any]:
    kind = _TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """JSON as OpenAI writes it (UTF-8, not ASCII-escaped); NaN never appears."""
    data = json.dumps(body, ensure_ascii=False, allow_nan=False).encode()
    return Response(data, status, headers, media_type="application/json")
