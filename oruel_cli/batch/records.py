"""Output records of a batch job, in the shapes oruel promises (forms 1-2, and
OpenAI's batch output for form 3).

Forms 1 and 2 (``line.form == "simple"``), and a line that is not JSON::

    {"id", "output", "finish_reason", "usage", "params", "error"}   (+ "tool_calls")
                                                          (+ "logprobs", when asked)
                                      (+ "reasoning_content", where the model thought)

Form 3 (``line.form == "openai"``), OpenAI's batch output::

    {"id": "batch_req_...", "custom_id", "response": {"status_code": 200,
     "request_id", "body": <chat.completion>}, "error"}

An error keeps the shape, with ``output`` / ``response`` (and the other
result fields) null and ``"error": {"code", "message", "line"}``.
"""

from __future__ import annotations

import uuid
from typing import Any

from .reader import FORM_OPENAI, BatchLine, LineError


def _batch_request_id() -> str:
    return f"batch_req_{uuid.uuid4().hex}"


def success_record(
    line: BatchLine, completion: dict[str, Any], params: dict[str, Any]
) -> dict[str, Any]:
    """The record of a line that ran. ``completion`` is OpenAI's chat.completion
    object; ``params`` the line's effective parameters (forms 1-2 only)."""
    if line.form == FORM_OPENAI:
        body = dict(completion)
        if line.model:
            body["model"] = line.model
        return {
            "id": _batch_request_id(),
            "custom_id": line.id,
            "response": {
                "status_code": 200,
                "request_id": completion.get("id"),
                "body": body,
            },
            "error": None,
        }
    choice = completion["choices"][0]
    message = choice.get("message") or {}
    record: dict[str, Any] = {
        "id": line.id,
        "output": message.get("content"),
        "finish_reason": choice.get("finish_reason"),
        "usage": completion.get("usage"),
        "params": params,
        "error": None,
    }
    if message.get("tool_calls"):
        record["tool_calls"] = message["tool_calls"]
    if message.get("reasoning_content") is not None:
        record["reasoning_content"] = message["reasoning_content"]
    if choice.get("logprobs") is not None:  # OpenAI's object: {"content": [...]}
        record["logprobs"] = choice["logprobs"]
    return record


def error_record(line: BatchLine, error: LineError) -> dict[str, Any]:
    """The record of a line that failed (or could not run)."""
    err = {"code": error.code, "message": error.message, "line": line.line_no}
    if line.form == FORM_OPENAI:
        return {
            "id": _batch_request_id(),
            "custom_id": line.id,
            "response": None,
            "error": err,
        }
    return {
        "id": line.id,
        "output": None,
        "finish_reason": None,
        "usage": None,
        "params": None,
        "error": err,
    }


def record_id(record: Any) -> str | None:
    """The id a record answers for: ``custom_id`` in OpenAI's shape, else ``id``."""
    if not isinstance(record, dict):
        return None
    rid = record["custom_id"] if "custom_id" in record else record.get("id")
    return rid if isinstance(rid, str) and rid else None


def record_ok(record: Any) -> bool:
    """True for a success record: ``error`` present and null (and, in OpenAI's
    shape, a response with status 200)."""
    if not isinstance(record, dict) or "error" not in record or record["error"] is not None:
        return False
    if "custom_id" in record:
        response = record.get("response")
        return isinstance(response, dict) and response.get("status_code") == 200
    return True
