"""`ask PROMPT --sweep NAME=V1,V2,...`: every variant in one batch on one engine.

The engine is sized as `oruel run --parallel N` sizes it (N = the number of
variants, SLOT_CTX_CAP tokens a slot unless --ctx) and the variants are
submitted in order, as run submits its lines: so each reply is the one
`oruel run` gives for the same line at the same --parallel, and N variants
decode together, costing little more than one.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from ..errors import Interrupted, RuntimeFailure, UsageError
from .plan import Variant, differing, heading, plan


def run_sweep(
    opts: Any,
    axes: list[tuple[str, list[Any]]],
    prompt: str | None,
    system: str | None,
    output_json: bool,
    carry: bool = False,
    cid: str | None = None,
) -> None:
    """Run the variants; each reply is logged as ask logs one, a conversation of
    its own (with -c or --cid: the carried messages, then this prompt and reply)."""
    from ..common.command import check_no_endpoint, show_params, stop_signals, warn
    from ..common.prompt import read_prompt
    from ..config import load_config
    from ..engine.reply import json_warning
    from ..logs.conversation import carry_on
    from ..params.layering import ParamResolver

    config = load_config()
    flags = opts.flag_params()
    conv = carry_on(carry, cid)  # a new conversation unless -c or --cid
    layer = conv.layer(preset_given=opts.preset is not None)
    resolver = ParamResolver(config, opts.preset, flags, system or conv.system, layer)
    variants = plan(resolver, axes, flags)
    runtime_flags = opts.runtime_flags()
    check_no_endpoint(opts, "--sweep")
    text = read_prompt(prompt)
    target = opts.apply_template(
        _one_target(config, conv.model(opts.model), runtime_flags, variants)
    )
    names = differing(variants)
    if opts.show_params:
        for i, v in enumerate(variants, start=1):
            print(f"# variant {i}: {heading(v, names.swept)}", file=sys.stderr)
            show_params(v.effective, target)
        print(f"parallel = {len(variants)}", file=sys.stderr)
    messages = [*conv.messages, {"role": "user", "content": text}]
    for w in {json_warning(messages, v.params, v.resolved.system) for v in variants} - {None}:
        warn(w)

    from ..backends.local import LocalBackend
    from ..engine.loader import SLOT_CTX_CAP

    with stop_signals() as stop:
        backend = LocalBackend.load(
            target, opts.verbose, n_slots=len(variants), ctx_cap=SLOT_CTX_CAP
        )
        with backend:
            if stop.requested:
                raise Interrupted()
            batch = _Batch(backend, variants, messages)
            stop.attach(batch.cancel)
            live = None
            if not output_json:
                from .draw import LiveSweep

                live = LiveSweep.start(variants, names, text, backend.model_name)
            try:
                comps = batch.run(live.update if live else None)
            finally:
                if live:
                    live.stop()
    from . import draw

    if output_json:
        out = [_record(v, c) for v, c in zip(variants, comps, strict=True)]
        print(json.dumps(out, ensure_ascii=False, indent=2))
    else:
        draw.replies(variants, names, comps)
    draw.stats(comps, batch.seconds)
    from ..logs.writer import ReplyLog

    log = ReplyLog.for_command("ask", config, opts.no_log, per_reply=True)
    for v, comp in zip(variants, comps, strict=True):  # after the replies: never costs one
        log.add(messages, v.resolved, target.path, comp)
    for comp in comps:
        for w in comp.warnings:
            warn(w)
    if any(c.finish_reason == "cancelled" for c in comps):
        raise Interrupted()
    failed = [i for i, c in enumerate(comps, start=1) if c.error is not None]
    if failed:
        raise RuntimeFailure(
            f"the generation failed for variant {', '.join(map(str, failed))}: "
            f"{comps[failed[0] - 1].error}"
        )


def _one_target(config: Any, model: str | None, runtime_flags: dict, variants: list[Variant]):  # noqa: ANN202
    """The variants run on one engine: their tiers must name one model."""
    from ..engine.loader import resolve_target

    targets = {}
    for v in variants:
        tier = v.params.tier
        if tier not in targets:
            targets[tier] = resolve_target(config, model, runtime_flags, tier)
    paths = {str(t.path) for t in targets.values()}
    if len(paths) > 1:
        shown = ", ".join(f"tier {k} runs {t.path}" for k, t in targets.items())
        raise UsageError(
            f"--sweep: {shown}; one sweep runs one model (give --model, or sweep each tier alone)"
        )
    return targets[variants[0].params.tier]


def _record(variant: Variant, comp: Any) -> dict[str, Any]:
    """A chat.completion with the variant's effective parameters (`params`) and
    what the sweep gave it (`variant`)."""
    obj = comp.to_openai()
    obj["params"] = variant.effective.set_values()
    obj["variant"] = variant.swept
    return obj


class _Batch:
    """The variants' requests, submitted in order to one driver and stepped
    until all have finished; each one's text is collected as it comes."""

    def __init__(self, backend: Any, variants: list[Variant], messages: list[dict]) -> None:
        self.backend = backend
        self.texts = ["" for _ in variants]
        self.finishes: list[Any] = [None] * len(variants)
        self.handles = []
        self.seconds = 0.0
        for i, v in enumerate(variants):
            req = backend.prepare(messages, v.params, v.resolved.system, user=i)
            self.handles.append(backend.submit(req, self._sink))

    def _sink(self, ev: Any) -> None:
        from ..engine.engine import Finish

        i = ev.request.user
        if isinstance(ev, Finish):
            self.finishes[i] = ev
        else:
            self.texts[i] += ev.text

    def cancel(self) -> None:
        for h in self.handles:
            h.cancel()

    def run(self, on_step: Any = None) -> list[Any]:
        import time

        from ..engine.completion import complete

        start = time.perf_counter()
        driver = self.backend.driver
        while any(f is None for f in self.finishes):
            driver.advance()
            if on_step:
                on_step(self.texts, self.finishes)
        self.seconds = time.perf_counter() - start
        return [complete(f, self.backend.model_name) for f in self.finishes]
