"""From what the user gave (config, preset, flags, a batch line) to one effective
request setup: parameter sources layered with provenance,
default < config < preset < conversation < flag < line, each value keeping the
source it came from (a carried-on conversation's parameters sit under the flags,
"conversation <id>"), plus the system prompt. One module, so a parameter walks
from a command to its effective value through this file and the checks it calls."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..config import Config
from ..presets import Preset, load_preset
from .model import PARAM_NAMES, GenerationParams
from .values import check_logprobs, check_tool_choice, show_value, validate_params

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


@dataclass
class Resolved:
    effective: Effective
    preset: Preset | None
    system: str | None  # the preset's system prompt or --system; messages may still override

    @property
    def params(self) -> GenerationParams:
        return self.effective.params


class ParamResolver:
    """Holds the job-wide layers (config, preset, flags) and resolves each request.

    Presets are loaded once per name, so a batch of a million lines naming the
    same preset reads its file once.
    """

    def __init__(
        self,
        config: Config,
        preset_name: str | None,
        flags: dict[str, Any],
        system_flag: str | None = None,
        carried: Layer | None = None,
    ) -> None:
        self.config = config
        self.carried = carried  # a logged conversation's parameters, under the flags
        self.preset_name = preset_name or config.preset
        self.flag_layer = make_layer("flag", flags)
        self.system_flag = system_flag
        self._presets: dict[str, Preset] = {}
        self._config_layers: dict[str, list[Layer]] = {}
        if self.preset_name:
            self.preset(self.preset_name)  # a bad preset fails before any model loads

    def preset(self, name: str) -> Preset:
        if name not in self._presets:
            self._presets[name] = load_preset(name)
        return self._presets[name]

    def _config_layer(self, tier: str) -> list[Layer]:
        """The config's params, then the tier profile's params over them: two
        layers of the "config" source, so each value keeps its own label."""
        if tier not in self._config_layers:
            layers = [Layer("config", dict(self.config.params))]
            prof = self.config.tier(tier)
            if prof and prof.params:
                layers.append(Layer("config", dict(prof.params), f"tier {tier}"))
            self._config_layers[tier] = layers
        return self._config_layers[tier]

    def resolve(
        self,
        line: dict[str, Any] | None = None,
        line_preset: str | None = None,
        line_system: str | None = None,
        flag_layers: list[Layer] | None = None,
    ) -> Resolved:
        """Layer default < config (+ tier) < preset < conversation < flag < line.

        `flag_layers` stands in for the command line's flag layer: several
        layers of the "flag" source, later ones winning, each with its own
        label (chat: the command line's flags, then the values of /set)."""
        preset = (
            self.preset(line_preset)
            if line_preset
            else (self.preset(self.preset_name) if self.preset_name else None)
        )
        upper = [
            *(flag_layers if flag_layers is not None else [self.flag_layer]),
            *([self.carried] if self.carried else []),
        ]
        if preset is not None:
            upper.append(Layer("preset", preset.params, preset.name))
        if line:
            upper.append(make_layer("line", line))
        tier = merge([*self._config_layer("standard"), *upper]).params.tier
        effective = merge([*self._config_layer(tier), *upper])
        system = line_system or self.system_flag or (preset.system if preset else None)
        return Resolved(effective, preset, system)
