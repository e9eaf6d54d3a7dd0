"""The Jinja environment chat templates are written against: transformers'.

Model authors write and test their templates with Hugging Face transformers'
`apply_chat_template`, whose environment offers more than plain Jinja. A
template that uses one of those extras fails here or renders differently
unless this environment offers the same, so it matches transformers 5.x:

- Jinja's *immutable* sandbox (a template is untrusted input, CVE-2024-34359),
  `trim_blocks` and `lstrip_blocks`, the `loopcontrols` extension (`break`,
  `continue`) and the `{% generation %}` block (training masks: rendered as is);
- `tojson` without HTML escaping and with `ensure_ascii`, `indent`,
  `separators` and `sort_keys`;
- the globals `raise_exception`, `strftime_now`, a `dict` that only builds
  dicts, and a `namespace` that refuses underscore-prefixed names;
- the inputs rebuilt out of plain JSON types, so nothing the caller holds is
  reachable from the template or changed by it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import jinja2
import jinja2.ext
import jinja2.nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

__all__ = [
    "SecurityError", "TemplateRefusal", "check_source", "compile_template", "plain", "set_clock",
]  # fmt: skip

_clock: Callable[[], datetime] = datetime.now


def set_clock(clock: Callable[[], datetime] | None) -> None:
    """Freeze (or, with None, release) the time `strftime_now` reads."""
    global _clock
    _clock = clock or datetime.now


class TemplateRefusal(jinja2.TemplateError):
    """The template called raise_exception(): it refuses these messages."""


def _raise_exception(message: str) -> None:
    raise TemplateRefusal(message)


def _strftime_now(fmt: str) -> str:
    return _clock().strftime(fmt)


def _tojson(
    value: Any,
    ensure_ascii: bool = False,
    indent: int | str | None = None,
    separators: tuple[str, str] | None = None,
    sort_keys: bool = False,
) -> str:
    return json.dumps(
        value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys
    )


class _Dict:
    """`dict(...)` and `dict.fromkeys(...)`, and nothing else of the type."""

    def __call__(self, *args: Any, **kwargs: Any) -> dict[Any, Any]:
        return dict(*args, **kwargs)

    def fromkeys(self, *args: Any) -> dict[Any, Any]:
        return dict.fromkeys(*args)


class _Namespace(jinja2.utils.Namespace):
    """Jinja's namespace, refusing names that start with an underscore."""

    def __init__(*args: Any, **kwargs: Any) -> None:  # noqa: N805 - Jinja's own signature trick
        self, rest = args[0], args[1:]
        attrs = dict(*rest, **kwargs)
        for name in attrs:
            _Namespace._check(name)
        jinja2.utils.Namespace.__init__(self, attrs)

    def __setitem__(self, name: str, value: Any) -> None:
        _Namespace._check(name)
        jinja2.utils.Namespace.__setitem__(self, name, value)

    @staticmethod
    def _check(name: Any) -> None:
        if isinstance(name, str) and name.startswith("_"):
            raise SecurityError(f"a namespace may not hold the name {name!r}")


class _Generation(jinja2.ext.Extension):
    """`{% generation %}...{% endgeneration %}`: marks the assistant's text for
    training masks; a prompt renders its body unchanged."""

    tags = {"generation"}

    def parse(self, parser: jinja2.parser.Parser) -> jinja2.nodes.Node:
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        call = self.call_method("_body")
        return jinja2.nodes.CallBlock(call, [], [], body).set_lineno(lineno)

    def _body(self, caller: Callable[[], str]) -> str:
        return caller()


def _environment() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[_Generation, jinja2.ext.loopcontrols]
    )
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = _strftime_now
    env.globals["dict"] = _Dict()
    env.globals["namespace"] = _Namespace
    return env


_ENV: ImmutableSandboxedEnvironment | None = None


def compile_template(source: str) -> jinja2.Template:
    """Parse a template in the shared environment (TemplateSyntaxError if it cannot)."""
    global _ENV
    if _ENV is None:
        _ENV = _environment()
    return _ENV.from_string(source)


def check_source(source: str, where: str) -> None:
    """A template the user gave must parse: else a usage error naming `where`."""
    from ..errors import UsageError

    try:
        compile_template(source)
    except jinja2.TemplateError as e:
        raise UsageError(
            f"{where}: not a valid Jinja template: {' '.join(str(e).split())}"
        ) from None


def plain(value: Any) -> Any:
    """A copy made of JSON types only: what a template may see of the inputs."""
    if value is None or type(value) in (str, int, float, bool):
        return value
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int):
        return int.__int__(value)
    if isinstance(value, float):
        return float.__float__(value)
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(plain(v) for v in value)
    return f"<{type(value).__name__}>"
