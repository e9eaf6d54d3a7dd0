"""Which remote servers a command talks to, with what key, under which model name.

The endpoints come from `--endpoint` (repeatable), else the tier profile's
`endpoints`, else the config's. A flag's URL that a config entry also names
takes that entry's key, model and parallel. A URL with no path gets `/v1`
(the OpenAI client appends `/chat/completions` to it).

The key: `--api-key`, else the variable the entry's `api_key_env` names. No
other variable is read: an `OPENAI_API_KEY` meant for one provider is never
sent to another host.

The model name sent: the endpoint's `model`, else `--model` as given (an alias
maps to what the config's `aliases` gives, unless that is a local .gguf
file), else the tier profile's model the same way (in a batch job, each
line's own tier), else the first model the server lists (`GET /v1/models`,
asked once per endpoint). An OpenAI batch line's body.model goes first.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import urlsplit

from ..config import Config, EndpointConfig
from ..errors import UsageError

DEFAULT_TIMEOUT = (
    600.0  # seconds: a request's limit, and a batch job's wait with every endpoint down
)
RUNTIME_FLAGS = ("ctx", "threads", "gpu_layers", "repack", "flash_attn")


@dataclass(frozen=True)
class Endpoint:
    url: str  # the base URL, ending in its API root (e.g. http://gpu-1:8000/v1)
    api_key: str | None = None
    model: str | None = None  # the name this server knows the model by (from the config)
    parallel: int | None = None  # requests a batch job keeps in flight here (None: --parallel)
    api: str | None = None  # what the server speaks (fields.py); None: asked of the server


def normalize_url(url: str) -> str:
    """Strip a trailing slash; a URL with no path gets /v1. Exit 2 if it is no http(s) URL."""
    text = url.strip()
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(
            f"invalid --endpoint {url!r} (allowed: an http:// or https:// URL such as "
            "http://gpu-1:8000/v1)"
        )
    text = text.rstrip("/")
    if parts.path.strip("/") == "":
        text += "/v1"
    return text


def parse_timeout(text: str | None) -> float:
    """--timeout S: a positive number of seconds (default 600)."""
    if text is None:
        return DEFAULT_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not (0 < value <= 86_400):  # NaN fails this too
        raise UsageError(f"invalid --timeout {text!r} (allowed: seconds, a number from 0 to 86400)")
    return value


def resolve_endpoints(
    flags: list[str] | None, api_key: str | None, config: Config, tier: str = "standard"
) -> list[Endpoint]:
    """The endpoints to use, in order (empty: run locally)."""
    prof = config.tier(tier)
    configured = [*(prof.endpoints if prof else []), *config.endpoints]
    by_url: dict[str, EndpointConfig] = {}
    for entry in configured:
        by_url.setdefault(normalize_url(entry.url), entry)
    if flags:
        urls = [normalize_url(u) for u in flags]
    else:
        chosen = prof.endpoints if prof and prof.endpoints else config.endpoints
        urls = [normalize_url(e.url) for e in chosen]
    out: list[Endpoint] = []
    for url in dict.fromkeys(urls):  # each once, in order
        entry = by_url.get(url)
        out.append(
            Endpoint(
                url=url,
                api_key=api_key or _key_from_env(entry, config),
                model=entry.model if entry else None,
                parallel=entry.parallel if entry else None,
                api=entry.api if entry else None,
            )
        )
    return out


def _key_from_env(entry: EndpointConfig | None, config: Config) -> str | None:
    if entry is None or entry.api_key_env is None:
        return None
    value = os.environ.get(entry.api_key_env)
    if not value:
        where = f"config file {config.path}: " if config.path else ""
        raise UsageError(
            f"{where}endpoint {entry.url} takes its key from ${entry.api_key_env}, which is "
            "not set; set it or give --api-key"
        )
    return value


def model_flag_name(model: str | None, config: Config, tier: str = "standard") -> str | None:
    """The model name --model (else the tier profile's model) asks the servers for."""
    prof = config.tier(tier)
    spec = model or (prof.model if prof and prof.model else None)
    if spec is None:
        return None
    mapped = config.aliases.get(spec)
    if mapped is None or mapped.lower().endswith(".gguf"):
        return spec
    return mapped


def runtime_notice(runtime_flags: dict[str, object]) -> str | None:
    """The one notice for RUNTIME flags given with --endpoint: they have no effect there."""
    given = [f"--{name.replace('_', '-')}" for name in RUNTIME_FLAGS if name in runtime_flags]
    if not given:
        return None
    verb = "has" if len(given) == 1 else "have"
    return f"{', '.join(given)} {verb} no effect with --endpoint: the server runs the model"
