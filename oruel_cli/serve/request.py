"""A chat-completions request body -> what to run, or the 400/404 that says why not.

The body goes through the same checks as a batch job's OpenAI line
(`api.body.parse_body`: fields accepted, ignored and refused, aliases,
`n`), then its parameters through the same parameter model as the flags,
types strict (`"0.5"` or `true` is not a number), and the same layering: the
request's fields are the top layer over the config (and the tier's profile)
and the preset, as a batch line's are. A bad value is one message that names
the parameter, the value and what is allowed, with `param` set to the field.

Where the server decides:

- `model` is optional (the first model loaded answers); given, it resolves as
  `--model` does and must be a model this server loaded (else 404).
- `tier` picks its config profile: its params, and its model when it names
  one, which then answers the request (it must be loaded, else 400 naming
  it); a profile's runtime does not apply, since the engines are made at
  start-up.
- `stream` comes from the request alone (a config or preset default never
  turns a client's whole reply into events).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..api.body import BadInput, ChatBody, loads_strict, parse_body
from ..errors import UsageError
from ..params.layering import ParamResolver, Resolved
from ..params.values import validate_params
from .errors import ApiError
from .models import Registry, ServedModel

MAX_BODY = 8 * 1024 * 1024  # bytes; a larger body is 413

_CODES = {"invalid_line": "invalid_request"}  # the reader's codes, as an API names them


@dataclass
class ChatCall:
    """A request that may run: its messages, effective parameters, model and form."""

    messages: list[dict[str, Any]]
    resolved: Resolved
    model: ServedModel
    model_name: str  # the `model` the reply carries
    stream: bool
    include_usage: bool
    template_kwargs: dict[str, Any] | None = None  # the body's chat_template_kwargs

    @property
    def params(self):  # noqa: ANN201 - GenerationParams
        return self.resolved.params

    @property
    def system(self) -> str | None:
        return self.resolved.system


def parse_request(raw: bytes, registry: Registry, resolver: ParamResolver) -> ChatCall:
    """Check everything that can be checked before the prompt is tokenized."""
    body = _body(_json_object(raw))
    _check_values(body)
    include_usage = _include_usage(body.ignored.get("stream_options"))
    requested = registry.find(body.model)
    resolved = _resolve(resolver, body)
    served = _tier_model(registry, resolver, resolved.params.tier) or requested
    name = registry.shown(body.model, served) if served is requested else served.id
    return ChatCall(
        messages=body.messages,
        resolved=resolved,
        model=served,
        model_name=name,
        stream=body.params.get("stream") is True,
        include_usage=include_usage,
        template_kwargs=body.template_kwargs,
    )


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ApiError(
            400, f"the body is not UTF-8 text (byte {e.start})", code="invalid_json"
        ) from None
    try:
        obj = loads_strict(text)
    except json.JSONDecodeError as e:
        raise ApiError(
            400,
            f"the body is not valid JSON ({e.msg} at line {e.lineno} column {e.colno}); "
            "it must be one JSON object",
            code="invalid_json",
        ) from None
    except (ValueError, RecursionError) as e:
        reason = str(e) if isinstance(e, ValueError) else "nested too deeply"
        raise ApiError(
            400, f"the body is not valid JSON ({reason}); it must be one JSON object",
            code="invalid_json",
        ) from None  # fmt: skip
    if not isinstance(obj, dict):
        kind = {list: "an array", str: "a string"}.get(type(obj), "a single value")
        raise ApiError(400, f"the body is {kind}, not a JSON object", code="invalid_json")
    return obj


def _body(obj: dict[str, Any]) -> ChatBody:
    try:
        return parse_body(obj)
    except BadInput as bad:
        code = _CODES.get(bad.error.code, bad.error.code)
        raise ApiError(400, bad.error.message, param=bad.param, code=code) from None


def _check_values(body: ChatBody) -> None:
    """Each parameter alone, so the error can name the field it came in."""
    for name, value in body.params.items():
        try:
            validate_params({name: value})
        except UsageError as e:
            field = body.aliases.get(name, name)
            alias = f" ({field} is an alias of {name})" if field != name else ""
            raise ApiError(400, f"{e}{alias}", param=field, code="invalid_parameter") from None


def _include_usage(options: Any) -> bool:
    """stream_options: an object (or null); include_usage a boolean; the rest ignored."""
    if options is None:
        return False
    if not isinstance(options, dict):
        raise ApiError(
            400, "invalid stream_options: it must be an object such as {\"include_usage\": true}",
            param="stream_options", code="invalid_parameter",
        )  # fmt: skip
    value = options.get("include_usage")
    if value is not None and not isinstance(value, bool):
        raise ApiError(
            400, f"invalid stream_options.include_usage {json.dumps(value)} (allowed: true or false)",
            param="stream_options", code="invalid_parameter",
        )  # fmt: skip
    return value is True


def _resolve(resolver: ParamResolver, body: ChatBody) -> Resolved:
    if body.preset is not None:
        try:
            resolver.preset(body.preset)
        except UsageError as e:
            raise ApiError(400, str(e), param="preset", code="invalid_parameter") from None
    try:
        return resolver.resolve(body.params, body.preset, body.system)
    except UsageError as e:
        # Each value passed alone: what is left is a check across fields.
        param = next((p for p in ("tool_choice", "top_logprobs") if p in str(e)), None)
        raise ApiError(400, str(e), param=param, code="invalid_parameter") from None


def _tier_model(registry: Registry, resolver: ParamResolver, tier: str) -> ServedModel | None:
    """The model a tier's profile routes to, if it names one; 400 if not loaded here."""
    prof = resolver.config.tier(tier)
    if prof is None or not prof.model:
        return None
    found = registry.lookup(prof.model)
    if found is None:
        raise ApiError(
            400,
            f"tier {tier!r} runs model {prof.model!r} (the config's tiers.{tier}.model), "
            f"which this server has not loaded; it serves: {registry.ids()} "
            f"(start it with --model {prof.model})",
            param="tier",
            code="model_not_loaded",
        )
    return found
