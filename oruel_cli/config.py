"""The user config file and the XDG folders oruel reads and writes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import UsageError, read_user_text
from .params.values import validate_params


def config_path() -> Path:
    if os.environ.get("ORUEL_CONFIG"):
        return Path(os.environ["ORUEL_CONFIG"]).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base).expanduser() / "oruel" / "config.yaml"


def config_dir() -> Path:
    return config_path().parent


def data_dir() -> Path:
    if os.environ.get("ORUEL_DATA_DIR"):
        return Path(os.environ["ORUEL_DATA_DIR"]).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base).expanduser() / "oruel"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)


class RuntimeConfig(_Strict):
    ctx: int | None = Field(None, ge=16, le=1_048_576)
    threads: int | None = Field(None, ge=1, le=1024)
    gpu_layers: int | None = Field(None, ge=-1)
    repack: Literal["auto", "on", "off"] | None = None
    flash_attn: Literal["auto", "on", "off"] | None = None

    @field_validator("repack", "flash_attn", mode="before")
    @classmethod
    def _yaml_booleans(cls, v: object) -> object:
        """YAML 1.1 reads a bare `off`/`on` as a boolean: take it as the word."""
        return {True: "on", False: "off"}.get(v, v) if isinstance(v, bool) else v


class EndpointConfig(_Strict):
    """A remote OpenAI-compatible server: its base URL, the environment variable
    holding its key, the model name it knows, how many requests a batch job
    keeps in flight to it, and the API it speaks (unset: asked of the server)."""

    url: str = Field(min_length=1)
    api_key_env: str | None = Field(None, min_length=1)
    model: str | None = Field(None, min_length=1)
    parallel: int | None = Field(None, ge=1, le=256)
    api: Literal["openai", "llama.cpp", "vllm", "oruel"] | None = None

    @field_validator("url")
    @classmethod
    def _http(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return v


class TierProfile(_Strict):
    model: str | None = None
    runtime: RuntimeConfig = Field(default_factory=RuntimeConfig)
    params: dict[str, Any] = {}
    endpoints: list[EndpointConfig] = []


class ModelTemplate(_Strict):
    """A model's chat-template settings (`templates: {ALIAS: ...}`)."""

    chat_template: str | None = None  # a Jinja file that replaces the GGUF's template
    args: dict[str, Any] = {}  # keywords for the template, such as enable_thinking


class Config(_Strict):
    model: str | None = None
    preset: str | None = None
    models_dirs: list[str] = []
    aliases: dict[str, str] = {}
    templates: dict[str, ModelTemplate] = {}  # by alias, model name or file stem
    params: dict[str, Any] = {}
    runtime: RuntimeConfig = Field(default_factory=RuntimeConfig)
    tiers: dict[Literal["standard", "turbo"], TierProfile] = {}
    endpoints: list[EndpointConfig] = []
    log: bool = True  # the reply log; `oruel logs off` writes false
    path: Path | None = Field(None, exclude=True)

    def tier(self, name: str) -> TierProfile | None:
        """The profile of tier `name`, if the config has one (any string: a
        tier name comes from flags, lines and requests as a plain str)."""
        return self.tiers.get(name)  # type: ignore[call-overload]


def load_config(path: Path | None = None) -> Config:
    """Read the config (a missing file is an empty config); bad content is exit 2."""
    path = path or config_path()
    if not path.exists():
        return Config()
    data = load_yaml_mapping(path, "config file")
    try:
        cfg = Config.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        # pydantic marks a bad mapping key with a "[key]" step: 'tiers.fast', not 'tiers.fast.[key]'
        key = ".".join(str(p) for p in err["loc"] if p != "[key]")
        raise UsageError(f"config file {path}: bad key {key!r}: {err['msg']}") from None
    where = f"config file {path}: params: "
    validate_params(cfg.params, where=where)
    for tier, prof in cfg.tiers.items():
        validate_params(prof.params, where=f"config file {path}: tiers.{tier}.params: ")
    from .formats.kwargs import check_key

    for name, entry in cfg.templates.items():
        for key in entry.args:
            check_key(key, f"config file {path}: templates.{name}.args")
    cfg.path = path
    return cfg


def yaml_error_at(error: Exception, text: str) -> str:
    """' at line N' for a YAML error, N the line the user must look at.

    PyYAML marks where it noticed the problem; when that is the end of the
    file (an unclosed `[`), the mark lies past the last line, so the line
    where the unclosed construct opened is named instead (else the last line
    holding text)."""
    mark = getattr(error, "problem_mark", None)
    if mark is None:
        return ""
    line = mark.line
    filled = [i for i, row in enumerate(text.splitlines()) if row.strip()]
    last = filled[-1] if filled else 0
    if line > last:
        context = getattr(error, "context_mark", None)
        line = context.line if context is not None and context.line <= last else last
    return f" at line {line + 1}"


def load_yaml_mapping(path: Path, what: str, empty: str | None = None) -> dict[str, Any]:
    """Safe-load a YAML file that must hold a mapping; errors name the file.

    An empty file (nothing but blanks or comments) is an empty mapping, unless
    `empty` is given: then it is refused with that reason.
    """
    import yaml

    text = read_user_text(path, what, "YAML")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise UsageError(f"{what} {path}: not valid YAML{yaml_error_at(e, text)}") from None
    if data is None:
        if empty is not None:
            raise UsageError(f"{what} {path}: empty; {empty}")
        return {}
    if not isinstance(data, dict):
        raise UsageError(f"{what} {path}: must be a mapping of keys to values")
    return data
