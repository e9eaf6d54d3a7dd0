"""Layering of parameter sources with provenance:
default < config < preset < conversation < flag < line, each value keeping the
source it came from. A carried-on conversation's parameters sit under the flags
("conversation <id>")."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .model import PARAM_NAMES, GenerationParams
from .validate import check_logprobs, check_tool_choice, show_value, validate_params

SOURCES = ("default", "config", "preset", "conversation", "flag", "line")


@dataclass
class Layer:
    """One source's values, already checked on their own so errors name that source."""

    source: str  # one of SOURCES
    values: dict[str, Any]
    label: str = ""  # shown beside the source, e.g. the preset's name

    @property
    def tag(self) -> str:
        return f"{self.source} {self.label}".strip()


@dataclass
class Effective:
    """The merged parameters and, for each, the layer it came from."""

    params: GenerationParams
    sources: dict[str, str] = field(default_factory=dict)

    def lines(self) -> list[str]:
        """'name = value (source)', one a parameter, for --show-params and /params."""
        out = []
        for name in PARAM_NAMES:
            value = getattr(self.params, name)
            shown = "not set" if value is None else show_value(value)
            out.append(f"{name} = {shown} ({self.sources.get(name, 'default')})")
        return out

    def set_values(self) -> dict[str, Any]:
        """The parameters that differ from "not set", for records and remote calls."""
        return self.params.model_dump(exclude_none=True)


def make_layer(
    source: str, values: dict[str, Any] | None, label: str = "", where: str = ""
) -> Layer:
    """Validate one source's values alone (so the message names it) and wrap them."""
    values = dict(values or {})
    validate_params(values, where=where)
    return Layer(source, values, label)


def merge(layers: list[Layer]) -> Effective:
    """Later layers win; the result is validated again as a whole."""
    merged: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for layer in sorted(layers, key=lambda la: SOURCES.index(la.source)):
        for name, value in layer.values.items():
            merged[name] = value
            sources[name] = layer.tag
    params = validate_params(merged)
    check_tool_choice(params)
    check_logprobs(params)
    return Effective(params, sources)
