"""The fields of a remote request, and which API a server speaks, so which
of them it takes.

llama-server, vLLM and `oruel serve` take top_k, min_p and repetition_penalty
(llama-server as repeat_penalty) beside OpenAI's fields; a plain OpenAI API
refuses any field it does not define ("Unrecognized request argument"). So
each endpoint has an `api`: its config entry's, else found from what the
server answers on its own routes:

- `GET /v1/models` whose models are `owned_by` oruel, vllm or llamacpp (what
  `oruel serve`, vLLM and llama-server write there);
- else `GET /props` (llama-server's) or `GET /version` (vLLM's) at the root;
- else `openai`.

To an `openai` endpoint only OpenAI's fields go; a request that sets one of
the others to anything but its off value is refused (exit 2), never sent
without it.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..errors import UsageError
from ..params.model import GenerationParams
from ..params.values import show_value
from .remote_errors import RemoteError

OWNED_BY = {"oruel": "oruel", "vllm": "vllm", "llamacpp": "llama.cpp"}
# OpenAI's API has no such parameters: each with the values that mean "off".
NOT_OPENAI: dict[str, tuple[Any, ...]] = {
    "top_k": (None, 0),
    "min_p": (None, 0),
    "repetition_penalty": (1,),
}


def request_fields(
    messages: list[dict[str, Any]],
    params: GenerationParams,
    system: str | None,
    template_kwargs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The create() keyword arguments for one request, model and stream aside.

    Every parameter that is set is sent; "off" is sent explicitly (top_k 0,
    min_p 0, the neutral penalties) so a server's own defaults (llama-server's
    top_k 40, min_p 0.05) do not leak in; repetition_penalty goes under both
    names (vLLM reads repetition_penalty, llama-server repeat_penalty). The
    fields OpenAI's API does not define travel in the extra body.
    """
    sent = list(messages)
    if system and not any(m.get("role") == "system" for m in sent):
        sent.insert(0, {"role": "system", "content": system})
    kw: dict[str, Any] = {
        "messages": sent,
        "temperature": params.temperature,
        "top_p": params.top_p,
        "frequency_penalty": params.frequency_penalty,
        "presence_penalty": params.presence_penalty,
    }
    if params.seed is not None:
        kw["seed"] = params.seed
    if params.max_tokens is not None:
        kw["max_tokens"] = params.max_tokens
    if params.stop:
        kw["stop"] = list(params.stop)
    if params.response_format is not None:
        kw["response_format"] = params.response_format
    if params.tools:
        kw["tools"] = params.tools
    if params.tool_choice is not None:
        kw["tool_choice"] = params.tool_choice
    if params.logprobs:
        kw["logprobs"] = True
        if params.top_logprobs is not None:
            kw["top_logprobs"] = params.top_logprobs
    if params.logit_bias:
        kw["logit_bias"] = dict(params.logit_bias)
    extra: dict[str, Any] = {
        "top_k": params.top_k if params.top_k is not None else 0,
        "min_p": params.min_p if params.min_p is not None else 0.0,
        "repetition_penalty": params.repetition_penalty,
        "repeat_penalty": params.repetition_penalty,
    }
    if params.tier != "standard":
        extra["tier"] = params.tier
    if template_kwargs:  # read by vLLM, llama-server and oruel serve
        extra["chat_template_kwargs"] = dict(template_kwargs)
    kw["extra_body"] = extra
    return kw


class ParameterRefused(UsageError):
    """The request sets a parameter this endpoint's API does not take (exit 2)."""


def not_for_openai(params: GenerationParams) -> list[str]:
    """The parameters set (to anything but off) that a plain OpenAI API lacks."""
    return [n for n, off in NOT_OPENAI.items() if getattr(params, n) not in off]


def check_fields(api: str, url: str, fields: dict[str, Any], params: GenerationParams) -> dict:
    """The request's fields as `api` takes them: an `openai` endpoint gets no
    extra body; ParameterRefused names what it cannot take."""
    if api != "openai":
        return fields
    refused = not_for_openai(params)
    if "chat_template_kwargs" in fields.get("extra_body", {}):
        raise ParameterRefused(
            f"the endpoint {url} is a plain OpenAI API (api: openai), which takes no "
            "chat_template_kwargs; leave out --template-arg for it, or give its config entry "
            "the `api:` it speaks (llama.cpp, vllm, oruel)"
        )
    if refused:
        given = ", ".join(f"{n} {show_value(getattr(params, n))}" for n in refused)
        raise ParameterRefused(
            f"the endpoint {url} is a plain OpenAI API (api: openai), which does not take "
            f"{given}; unset {' and '.join(refused)} for it, or give its config entry "
            "the `api:` it speaks (llama.cpp, vllm, oruel)"
        )
    return {k: v for k, v in fields.items() if k != "extra_body"}


def detect(url: str, api_key: str | None, timeout: float) -> str:
    """The API the server at `url` (its base, e.g. http://h:8000/v1) speaks.
    RemoteError if it cannot be reached at all (the request would fail too)."""
    models = _get_json(url, "/models", api_key, timeout)
    if isinstance(models, dict):
        for entry in models.get("data") or []:
            owner = entry.get("owned_by") if isinstance(entry, dict) else None
            if kind := OWNED_BY.get(str(owner).lower()):
                return kind
    props = _get_json(url, "/props", api_key, timeout, at_root=True)
    if isinstance(props, dict) and "default_generation_settings" in props:
        return "llama.cpp"
    version = _get_json(url, "/version", api_key, timeout, at_root=True)
    if isinstance(version, dict) and isinstance(version.get("version"), str):
        return "vllm"
    return "openai"


def _root(url: str) -> str:
    """The server's root: the base URL without its trailing /v1."""
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    path = path[: -len("/v1")] if path.endswith("/v1") else path
    return urlunsplit((parts.scheme, parts.netloc, path, "", "")).rstrip("/")


def _get_json(
    url: str, path: str, api_key: str | None, timeout: float, at_root: bool = False
) -> Any:
    """The JSON `GET path` (under the base URL, or at the server's root)
    answers with, or None for any answer but a 200 with JSON; RemoteError
    (naming the endpoint) when nothing answers: refused, unknown host, timeout."""
    headers = {"Accept": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    request = urllib.request.Request((_root(url) if at_root else url) + path, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:  # noqa: S310 - http(s) only
            return json.loads(resp.read(1_000_000))
    except urllib.error.HTTPError:
        return None
    except (ValueError, UnicodeDecodeError):
        return None
    except TimeoutError:
        raise RemoteError(url, "timeout", "no answer within the timeout (--timeout)") from None
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        text = str(reason).lower()
        if "timed out" in text:
            raise RemoteError(url, "timeout", "no answer within the timeout (--timeout)") from None
        refused = "refused" in text
        detail = (
            "connection refused (is the server running?)"
            if refused
            else f"connection error ({reason})"
        )
        raise RemoteError(url, "connection", detail) from None
