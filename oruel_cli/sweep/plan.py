"""The variants of `ask --sweep`: the grid of every combination, each resolved
(and so validated) like a batch line before any model loads.

A swept value sits where a batch line's own field sits (over the flags, the
preset and the config), and `preset=A,B` replaces the preset as a line's
`preset` does: so a variant is exactly the line `oruel run` would run.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from ..errors import UsageError
from ..params.layering import Effective, ParamResolver, Resolved
from ..params.values import show_value

MAX_VARIANTS = 16  # one batch: each variant takes a slot of the engine (and its KV cache)
SOURCE = "sweep"


@dataclass
class Variant:
    swept: dict[str, Any]  # the values this variant was given (preset by name)
    resolved: Resolved

    @property
    def params(self):  # noqa: ANN201 - GenerationParams
        return self.resolved.params

    @property
    def effective(self) -> Effective:
        return self.resolved.effective


def grid(axes: list[tuple[str, list[Any]]]) -> list[dict[str, Any]]:
    """Every combination of the axes, the first axis varying slowest."""
    names = [name for name, _ in axes]
    for name in names:
        if names.count(name) > 1:
            raise UsageError(f"--sweep {name} is given twice: put all its values in one --sweep")
    combos = [
        dict(zip(names, values, strict=True)) for values in itertools.product(*(v for _, v in axes))
    ]
    if len(combos) > MAX_VARIANTS:
        sizes = " × ".join(str(len(v)) for _, v in axes)
        raise UsageError(
            f"--sweep: {sizes} = {len(combos)} variants; at most {MAX_VARIANTS} run in one batch"
        )
    return combos


def plan(
    resolver: ParamResolver, axes: list[tuple[str, list[Any]]], flags: dict[str, Any]
) -> list[Variant]:
    """Resolve every variant. A parameter both given as a flag and swept is
    refused: which one was meant is not clear."""
    for name, _ in axes:
        if name in flags:
            raise UsageError(f"{name} is given as a flag and in --sweep; give it in one place")
    variants = []
    for combo in grid(axes):
        line = {k: v for k, v in combo.items() if k != "preset"}
        resolved = resolver.resolve(line=line, line_preset=combo.get("preset"))
        for name in line:
            resolved.effective.sources[name] = SOURCE
        variants.append(Variant(combo, resolved))
    return variants


@dataclass
class Headings:
    """What heads each reply: the swept names, then (dimmer) the parameters
    that differ without being swept (those the swept presets set apart)."""

    swept: list[str]
    implied: list[str]


def differing(variants: list[Variant]) -> Headings:
    swept = list(variants[0].swept)
    first = variants[0].params
    implied = [
        name
        for name in type(first).model_fields
        if name not in swept
        and any(getattr(v.params, name) != getattr(first, name) for v in variants)
    ]
    return Headings(swept, implied)


def heading(variant: Variant, names: list[str]) -> str:
    """'temperature 0.7 · top_p 0.9': the values of `names` for this variant."""
    parts = []
    for name in names:
        if name == "preset":
            parts.append(f"preset {variant.swept.get('preset')}")
        else:
            parts.append(f"{name} {_short(getattr(variant.params, name))}")
    return " · ".join(parts)


def _short(value: Any) -> str:
    if value is None:
        return "not set"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict):
        if "type" in value and len(value) == 1:
            return value["type"]
        if value.get("type") == "function":
            return value["function"]["name"]
    if isinstance(value, list) and all(isinstance(t, dict) for t in value):
        return ", ".join(t.get("function", {}).get("name", "?") for t in value)
    return show_value(value) if not isinstance(value, str | int) else str(value)
