"""Shell completion: the values a person would otherwise look up (preset names,
parameter names, model names and aliases, the choices of a choice option).

The shell runs `oruel` on every TAB press, so each callback imports only light
modules (the config, the preset folders, the model folders' file names: never
llama_cpp or the engine) and never fails: with a bad config it offers nothing
rather than print an error into the command line. A value that looks like a
path offers nothing too, and the shell completes file names instead (Typer's
bash script has `complete -o default`, its zsh script falls back to `_files`).
Typer keeps the candidates that start with what is typed.
"""

import os
from collections.abc import Callable


def _looks_like_path(incomplete: str) -> bool:
    return incomplete.startswith(("~", ".")) or os.sep in incomplete or "/" in incomplete


def presets(incomplete: str) -> list[tuple[str, str]]:
    """Preset names, built-in and the user's, each with its description."""
    if _looks_like_path(incomplete):
        return []
    try:
        from ..presets import load_preset, preset_names

        out = []
        for name in preset_names():
            if name.startswith(incomplete):
                try:
                    out.append((name, load_preset(name).description))
                except Exception:  # a broken user preset is still a name to complete
                    out.append((name, ""))
        return out
    except Exception:
        return []


def params(incomplete: str) -> list[tuple[str, str]]:
    """The parameter names, each with its one-line meaning."""
    try:
        from ..params.model import GenerationParams

        return [(n, f.description or "") for n, f in GenerationParams.model_fields.items()]
    except Exception:
        return []


def sweep(incomplete: str) -> list[tuple[str, str]]:
    """--sweep NAME=...: the parameter names (and `preset`), each with its `=`,
    until the `=` is typed; the values are the user's."""
    if "=" in incomplete:
        return []
    return [(f"{n}=", meaning) for n, meaning in params("")] + [
        ("preset=", "compare presets side by side")
    ]


def models(incomplete: str) -> list[tuple[str, str]]:
    """Model names (`default`, the config's aliases, the models folders' files),
    each with the file it names; aliases of remote models too. A config that
    does not load leaves the embedded model and the folders."""
    if _looks_like_path(incomplete):
        return []
    try:
        from ..config import load_config
        from ..models.resolve import list_models

        try:
            config = load_config()
        except Exception:  # a bad config: still the embedded model and the folders
            config = None
        found = [(name, str(path)) for name, path in list_models(config)]
        known = {name for name, _ in found}
        aliases = config.aliases.items() if config is not None else ()
        return found + [(a, t) for a, t in aliases if a not in known]
    except Exception:
        return []


def choices(*values: str) -> Callable[[str], list[str]]:
    """A callback offering fixed choices (those of a text option parsed by oruel)."""

    def complete(incomplete: str) -> list[str]:
        return list(values)

    return complete
