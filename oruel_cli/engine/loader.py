"""The one way a command gets a model and an engine: model resolution, the
runtime layering (with the repack decision), loading, the context size."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import Config
from ..models.resolve import resolve_model
from ..runtime import RuntimeSettings, resolve_runtime

CHAT_CTX_CAP = 8192  # ask and chat: one sequence
SLOT_CTX_CAP = 4096  # run and serve: per slot


@dataclass
class Target:
    """What to load, before anything is loaded: the model file and runtime, and
    the chat template's replacement text and keywords when the user gave them."""

    path: Path
    runtime: RuntimeSettings
    chat_template: str | None = None  # --chat-template FILE's text: replaces the GGUF's
    chat_template_file: Path | None = None
    template_kwargs: dict[str, Any] = field(default_factory=dict)
    think: bool | None = None  # --think / --no-think: the template's own switch
    reasoning_effort: str | None = None  # --reasoning-effort (gpt-oss's switch)


def gpu_offload_supported() -> bool:
    from .bindings import lc

    return bool(lc.llama_supports_gpu_offload())


def resolve_target(
    config: Config,
    model_flag: str | None,
    runtime_flags: dict[str, object],
    tier: str = "standard",
) -> Target:
    """An explicit --model wins over the tier profile's model, which wins over the config's."""
    prof = config.tier(tier)
    spec = model_flag or (prof.model if prof and prof.model else None)
    path = resolve_model(spec, config, pull=True)  # a REF not yet in the cache is pulled
    runtime = resolve_runtime(
        runtime_flags,
        config.runtime.model_dump(),
        prof.runtime.model_dump() if prof else None,
        tier_name=tier,
        gpu_offload=gpu_offload_supported(),
    )
    target = Target(path, runtime)
    _config_template(target, config, spec)
    return target


def _config_template(target: Target, config: Config, spec: str | None) -> None:
    """The config's `templates` entry for this model: by the name it was asked by
    (an alias, a name, `default`), else by its file's name with or without .gguf."""
    entries = getattr(config, "templates", None) or {}
    names = [spec or config.model or "default", target.path.stem, target.path.name]
    entry = next((entries[n] for n in names if n in entries), None)
    if entry is None:
        return
    target.template_kwargs = dict(entry.args)
    if entry.chat_template:
        from ..errors import read_user_text
        from ..formats.environment import check_source

        file = Path(entry.chat_template).expanduser()
        where = f"config file {config.path}: templates: chat_template"
        target.chat_template = read_user_text(file, where, "Jinja")
        check_source(target.chat_template, f"{where} {file}")
        target.chat_template_file = file


def load_model(target: Target, verbose: bool = False, vocab_only: bool = False):  # noqa: ANN201
    """The LoadedModel; `vocab_only`: the vocabulary and template, no weights."""
    from .llama import LoadedModel

    model = LoadedModel(target.path, target.runtime, verbose=verbose, vocab_only=vocab_only)
    if target.chat_template is not None:
        model.chat_template = target.chat_template
        model.template_origin = str(target.chat_template_file or target.path)
    return model


def context_size(model, runtime: RuntimeSettings, cap: int, needed: int | None = None) -> int:  # noqa: ANN001
    """Tokens per sequence: --ctx, else the model's training context up to `cap`.

    A one-shot request whose length is capped (prompt + max_tokens) can use no
    more, so without --ctx it gets only that: llama.cpp clears the whole KV
    cache at creation, about 70 ms for 8192 tokens of the default model.
    """
    if runtime.ctx:
        return runtime.ctx
    ctx = min(model.n_ctx_train or cap, cap)
    return min(ctx, needed) if needed else ctx


def make_engine(model, target: Target, n_slots: int, ctx: int):  # noqa: ANN001, ANN201
    from .engine import Engine

    return Engine(model, n_slots=n_slots, ctx_per_slot=ctx, threads=target.runtime.threads)


def open_engine(target: Target, n_slots: int, ctx_cap: int, verbose: bool = False):  # noqa: ANN201
    """Load the model and make an engine of `n_slots` sequences."""
    model = load_model(target, verbose)
    return make_engine(model, target, n_slots, context_size(model, target.runtime, ctx_cap))
