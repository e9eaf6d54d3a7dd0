"""From what the user gave (config, preset, flags, a batch line) to one effective
request setup: parameters with provenance, the system prompt, the runtime."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .config import Config
from .params.layering import Effective, Layer, make_layer, merge
from .presets import Preset, load_preset


@dataclass
class Resolved:
    effective: Effective
    preset: Preset | None
    system: str | None  # the preset's system prompt or --system; messages may still override

    @property
    def params(self):  # noqa: ANN201 - GenerationParams
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
