"""Presets: the reference's use-case table as YAML, built in and user-defined."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .config import config_dir, load_yaml_mapping
from .errors import UsageError
from .params.model import PARAM_NAMES
from .params.values import validate_params


class Preset(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)

    name: str = Field(min_length=1)
    description: str = ""
    params: dict[str, Any] = {}
    system: str | None = None
    recommended: dict[str, list[float]] = {}
    path: str = ""


def builtin_dir() -> Path:
    """The shipped presets: the source tree's presets/, or the copy inside the wheel."""
    here = Path(__file__).resolve().parent
    source = here.parent / "presets"
    if source.is_dir() and any(source.glob("*.yaml")):
        return source
    return here / "builtin_presets"


def user_dir() -> Path:
    return config_dir() / "presets"


def _files() -> dict[str, Path]:
    """Preset name -> file; user presets shadow built-ins of the same name."""
    found: dict[str, Path] = {}
    for folder in (builtin_dir(), user_dir()):
        if folder.is_dir():
            for p in sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml")):
                found[p.stem] = p
    return found


def preset_names() -> list[str]:
    return sorted(_files())


# What every preset file holds at the least (the message of an empty or nameless one).
MINIMUM = "a preset file is a YAML mapping with at least its name (name: ..., then params: ...)"


def load_preset_file(path: Path) -> Preset:
    """Read and validate one preset file; any bad key or value is exit 2 naming both.

    An empty file, or one without `name`, is refused too: taken as a preset
    with nothing in it, a mistyped or truncated file would silently change
    nothing.
    """
    data = load_yaml_mapping(path, "preset file", empty=MINIMUM)
    if "name" not in data:
        raise UsageError(f"preset file {path}: no 'name' key; {MINIMUM}")
    if "path" in data:
        raise UsageError(f"preset file {path}: unknown key 'path'")
    try:
        preset = Preset.model_validate({**data, "path": str(path)})
    except ValidationError as e:
        err = e.errors()[0]
        key = ".".join(str(p) for p in err["loc"])
        raise UsageError(f"preset file {path}: bad key {key!r}: {err['msg']}") from None
    validate_params(preset.params, where=f"preset file {path}: ")
    for name, rng in preset.recommended.items():
        if name not in PARAM_NAMES:
            raise UsageError(f"preset file {path}: recommended.{name}: unknown parameter")
        if len(rng) != 2 or rng[0] > rng[1]:
            raise UsageError(f"preset file {path}: recommended.{name} must be [low, high]")
        validate_params({name: rng[0]}, where=f"preset file {path}: recommended: ")
        validate_params({name: rng[1]}, where=f"preset file {path}: recommended: ")
        chosen = preset.params.get(name)
        if chosen is not None and not rng[0] <= chosen <= rng[1]:
            raise UsageError(
                f"preset file {path}: params.{name} = {chosen} lies outside "
                f"recommended.{name} {rng}"
            )
    return preset


def load_preset(name_or_file: str) -> Preset:
    """A preset by name, or from a .yaml file path."""
    if name_or_file.endswith((".yaml", ".yml")) or "/" in name_or_file:
        path = Path(name_or_file).expanduser()
        if not path.is_file():
            raise UsageError(f"preset file {path}: not found")
        return load_preset_file(path)
    files = _files()
    if name_or_file not in files:
        close = difflib.get_close_matches(name_or_file, files, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise UsageError(
            f"unknown preset {name_or_file!r}{hint}; known: {', '.join(sorted(files))}"
        )
    return load_preset_file(files[name_or_file])


def all_presets() -> list[Preset]:
    return [load_preset_file(p) for _, p in sorted(_files().items())]


def listable_presets() -> tuple[list[Preset], list[str]]:
    """Every preset that loads, and one problem a bad file: what `presets list`
    shows. One bad user file must not hide the others (using it by name stays
    exit 2; its problem is still said, once). A bad user file that shadows a
    built-in hides the built-in too: `-p NAME` would load the bad file."""
    good: list[Preset] = []
    problems: list[str] = []
    for _, path in sorted(_files().items()):
        try:
            good.append(load_preset_file(path))
        except UsageError as e:
            problems.append(str(e))
    return good, problems
