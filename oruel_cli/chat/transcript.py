"""/save and /load: a conversation and its parameters in one file, YAML or
JSON by its extension.

    oruel_chat: 1                 # the format's version
    model: SmolLM2-135M-Instruct  # what answered (a different model only warns)
    preset: qa                    # or null
    system: Answer briefly.       # set by --system or /system; null: the preset's or the model's
    params: {temperature: 0.2}    # what flags, /set or an earlier /load set (the preset's stay in it)
    messages:                     # the whole conversation, exchanges dropped from the context included
      - {role: user, content: Hi}
      - {role: assistant, content: Hello, cut: true}   # cut: Ctrl-C stopped it

A file is checked whole before anything changes (types strict, as in every
typed input), so a bad one leaves the session as it was; every message names
the file.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..params.values import validate_params
from .files import read_text_file
from .state import ChatSession

VERSION = 1
_TOP = ("oruel_chat", "model", "preset", "system", "params", "messages")
_MESSAGE_KEYS = ("role", "content", "cut", "tool_calls", "tool_call_id", "name")
_ROLES = ("user", "assistant", "tool")


@dataclass
class Transcript:
    path: Path
    messages: list[dict[str, Any]]
    params: dict[str, Any]
    preset: str | None
    system: str | None
    model: str | None


def _kind(path: Path, command: str) -> str:
    suffix = path.suffix.lower()
    if suffix == ".json":
        return "json"
    if suffix in (".yaml", ".yml"):
        return "yaml"
    raise UsageError(f"{command} {path}: name a .yaml, .yml or .json file (the format follows it)")


def to_data(session: ChatSession, model: str) -> dict[str, Any]:
    params = session.params
    return {
        "oruel_chat": VERSION,
        "model": model,
        "preset": params.preset_name,
        "system": params.system,
        "params": params.chosen(),
        "messages": [dict(m) for m in session.messages],
    }


def dumps(data: dict[str, Any], kind: str) -> str:
    if kind == "json":
        return json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    def text(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
        # a multi-line message reads best as a block (PyYAML falls back to
        # quotes where a block cannot hold the text exactly)
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, text)
    return yaml.dump(data, Dumper=Dumper, sort_keys=False, allow_unicode=True, width=100)


def save(path: Path, session: ChatSession, model: str) -> Path:
    """Write atomically (a temporary file beside it, then a rename)."""
    text = dumps(to_data(session, model), _kind(path, "/save"))
    if path.is_dir():
        raise UsageError(f"/save {path}: is a directory")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise UsageError(f"/save {path}: cannot write: {e.strerror}") from None
    return path


def load(path: Path) -> Transcript:
    kind = _kind(path, "/load")
    path, text = read_text_file(str(path), "/load")
    return from_text(text, kind, path)


def from_text(text: str, kind: str, path: Path) -> Transcript:
    where = f"/load {path}"
    if kind == "json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise UsageError(f"{where}: not valid JSON (line {e.lineno}: {e.msg})") from None
    else:
        import yaml

        from ..config import yaml_error_at

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise UsageError(f"{where}: not valid YAML{yaml_error_at(e, text)}") from None
    return from_data(data, path)


def from_data(data: Any, path: Path) -> Transcript:
    """Check every key and value; the first problem is the message."""
    where = f"/load {path}"
    if not isinstance(data, dict) or data.get("oruel_chat") is None:
        raise UsageError(f"{where}: not a chat saved by /save (no 'oruel_chat: {VERSION}' key)")
    if data["oruel_chat"] != VERSION:
        raise UsageError(
            f"{where}: oruel_chat {data['oruel_chat']!r}: this oruel reads version {VERSION}"
        )
    for key in data:
        if key not in _TOP:
            raise UsageError(f"{where}: unknown key {key!r} (known: {', '.join(_TOP)})")
    for key in ("model", "preset", "system"):
        if data.get(key) is not None and not isinstance(data[key], str):
            raise UsageError(f"{where}: {key} must be a string or null")
    params = data.get("params") or {}
    if not isinstance(params, dict):
        raise UsageError(f"{where}: params must be a mapping of parameter names to values")
    validate_params(params, where=f"{where}: params: ")
    messages = data.get("messages") or []
    if not isinstance(messages, list):
        raise UsageError(f"{where}: messages must be a list")
    for i, m in enumerate(messages):
        _check_message(m, f"{where}: messages[{i}]")
    return Transcript(
        path=path,
        messages=[dict(m) for m in messages],
        params=dict(params),
        preset=data.get("preset"),
        system=data.get("system"),
        model=data.get("model"),
    )


def _check_message(m: Any, where: str) -> None:
    if not isinstance(m, dict):
        raise UsageError(f"{where}: must be a mapping with role and content")
    for key in m:
        if key not in _MESSAGE_KEYS:
            raise UsageError(f"{where}: unknown key {key!r} (known: {', '.join(_MESSAGE_KEYS)})")
    if m.get("role") not in _ROLES:
        raise UsageError(f"{where}: role {m.get('role')!r} (allowed: {', '.join(_ROLES)})")
    content = m.get("content")
    if not isinstance(content, str) and not (content is None and m.get("tool_calls")):
        raise UsageError(f"{where}: content must be a string")
    if not isinstance(m.get("cut", False), bool):
        raise UsageError(f"{where}: cut must be true or false")
    if not isinstance(m.get("tool_calls", []), list):
        raise UsageError(f"{where}: tool_calls must be a list")


def apply(t: Transcript, session: ChatSession, model: str, warn: Callable[[str], None]) -> None:
    """The file's parameters, preset and system prompt, then its messages,
    replace the session's; if the parameters fail, nothing has changed."""
    try:
        session.params.replace(t.params, t.preset, t.system, "/load")
    except UsageError as e:
        raise UsageError(f"/load {t.path}: {e}") from None
    session.replace(t.messages)
    if t.model and t.model != model:
        warn(f"{t.path} was saved with the model {t.model}; this chat goes on with {model}")
