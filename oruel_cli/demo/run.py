"""`params explain NAME --demo PROMPT`: load the model, read what the demo needs
from the engine (raw logits through a driver call, short generations through
the backend), compute each value's picture and draw it, or print the numbers."""

from __future__ import annotations

import json
from typing import Any

from ..errors import Interrupted
from ..params.model import GenerationParams
from . import catalogue
from .catalogue import DEFAULT_VALUES, GENERATION_TOKENS, KINDS, PREFIX_TOKENS, ROWS


def run_demo(
    opts: Any, name: str, prompt: str, values: list[Any] | None, output_json: bool
) -> None:
    """Every value is resolved (and so checked) with the user's preset and
    flags before the model loads; then one model load, one picture."""
    from . import draw

    kind = KINDS[name]
    if kind == "none":
        why, commands = catalogue.no_demo(name, prompt, values)
        if output_json:
            print(json.dumps({"parameter": name, "demo": None, "why": why, "commands": commands}))
        else:
            draw.no_demo(name, why, commands)
        return

    from ..common.command import check_no_endpoint, show_params, stop_signals
    from ..config import load_config
    from ..params.layering import ParamResolver

    config = load_config()
    resolver = ParamResolver(config, opts.preset, opts.flag_params())
    base = resolver.resolve()
    # logit_bias names tokens of the model: without --values, its defaults are
    # picked from the prompt's own distribution once the model is loaded.
    if values is None and name == "logit_bias":
        variants = None
    else:
        values = list(DEFAULT_VALUES[name] if values is None else values)
        variants = [resolver.resolve(line={name: v}).params for v in values]
    runtime_flags = opts.runtime_flags()
    check_no_endpoint(opts, "--demo")

    from ..engine.loader import resolve_target

    target = resolve_target(config, opts.model, runtime_flags, base.params.tier)
    if opts.show_params:
        show_params(base.effective, target)
    with stop_signals() as stop:
        from ..backends.local import LocalBackend

        with LocalBackend.load(target, opts.verbose, size_to_first=True) as backend:
            if stop.requested:
                raise Interrupted()
            demo = _Demo(backend, prompt, base.system, base.effective.sources, stop)
            if variants is None:
                variants = [
                    resolver.resolve(line={name: v}).params for v in demo.biases(base.params)
                ]
            result = demo.run(name, kind, base.params, variants)
    result.update({"parameter": name, "prompt": prompt, "model": backend.model_name})
    if output_json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        draw.picture(result)


class _Demo:
    """One prompt on one loaded model: logits and short generations for the demo."""

    def __init__(
        self, backend: Any, prompt: str, system: str | None, sources: dict[str, str], stop: Any
    ) -> None:
        self.backend = backend
        self.sources = sources
        self.model = backend.model
        self.messages = [{"role": "user", "content": prompt}]
        self.system = system
        self.stop = stop

    def text(self, token: int) -> str:
        """A token as the vocabulary spells it (special tokens by name; a byte
        of a split character as \\xNN)."""
        return self.model.token_bytes(token, special=True).decode("utf-8", "backslashreplace")

    def request(self, params: GenerationParams) -> Any:
        return self.backend.prepare(self.messages, params, self.system)

    def logits(self, tokens: list[int]) -> list[float]:
        """The raw next-token logits, read on the idle engine (a driver call)."""
        return self.backend.driver.call(lambda engine: engine.next_token_logits(tokens))

    def generate(self, params: GenerationParams) -> Any:
        """One generation through the backend: the engine's Finish (tokens, text)."""
        handle = self.backend.submit(self.request(params))
        self.stop.attach(handle.cancel)
        finish = handle.wait()
        if self.stop.requested:
            raise Interrupted()
        return finish

    def run(
        self, name: str, kind: str, base: GenerationParams, variants: list[GenerationParams]
    ) -> dict[str, Any]:
        """The numbers of one picture; what each kind adds is in its own method."""
        out: dict[str, Any] = {"kind": kind, "values": [getattr(v, name) for v in variants]}
        getattr(self, f"_{kind}")(out, name, base, variants)
        return out

    def biases(self, base: GenerationParams) -> list[dict[str, int]]:
        """logit_bias's default values: ban and lower the most likely next token,
        push the third."""
        logits = self.logits(self.request(base.model_copy(update={"max_tokens": 1})).tokens)
        first, _, third = sorted(range(len(logits)), key=lambda i: -logits[i])[:3]
        return [{str(first): -100}, {str(first): -2}, {str(third): 3}]

    def _distribution(
        self, out: dict, name: str, base: GenerationParams, variants: list[GenerationParams]
    ) -> None:
        from .compute import cut_params, distribution

        req = self.request(base.model_copy(update={"max_tokens": 1}))
        logits = self.logits(req.tokens)
        also: tuple[int, ...] = ()
        if name == "logit_bias":  # the raw distribution, then the bias: no cut
            also = tuple(int(k) for v in variants for k in v.logit_bias or {})
        elif name != "temperature":
            variants = [cut_params(v) for v in variants]
            out["cut_after_temperature"] = variants[0].temperature
            source = self.sources.get("temperature", "default")
            out["temperature"] = {"value": base.temperature, "source": source}
        out["prompt_tokens"] = len(req.tokens)
        out["pictures"] = [
            distribution(logits, name, v, self.text, ROWS, also).to_json() for v in variants
        ]

    def _penalty(
        self, out: dict, name: str, base: GenerationParams, variants: list[GenerationParams]
    ) -> None:
        """A greedy prefix without penalties, then the logits after it under each value."""
        from .compute import penalties

        finish = self.generate(GenerationParams(temperature=0, max_tokens=PREFIX_TOKENS))
        prefix = [t for t in finish.tokens if not self.model.is_eog(t)]
        logits = self.logits(finish.request.tokens + prefix)
        out["prefix"] = {"tokens": prefix, "text": finish.text}
        out["pictures"] = []
        for v in variants:
            pic = penalties(logits, prefix, v, self.text).to_json()
            pic["value"] = getattr(v, name)
            out["pictures"].append(pic)

    def _seed(
        self, out: dict, name: str, base: GenerationParams, variants: list[GenerationParams]
    ) -> None:
        """Each seed twice; at temperature 0 the seed would change nothing, so 1.0 then."""
        from .compute import CUT_TEMPERATURE

        temp = base.temperature or CUT_TEMPERATURE
        n = base.max_tokens or GENERATION_TOKENS["seed"]
        out["temperature"] = temp
        out["generations"] = []
        for v in variants:
            p = v.model_copy(update={"temperature": temp, "max_tokens": n})
            for run in (1, 2):
                out["generations"].append(
                    {"seed": v.seed, "run": run, "text": self.generate(p).text}
                )

    def _max_tokens(
        self, out: dict, name: str, base: GenerationParams, variants: list[GenerationParams]
    ) -> None:
        """One generation as long as the largest value: each value cuts it after its
        own count of tokens (max_tokens changes no sampler, only where it ends)."""
        longest = max(v.max_tokens for v in variants)
        finish = self.generate(base.model_copy(update={"max_tokens": longest}))
        pieces = [self.model.piece(t).decode("utf-8", "replace") for t in finish.tokens]
        out["generation"] = {
            "text": finish.text,
            "tokens": finish.tokens,
            "pieces": pieces,
            "finish_reason": finish.finish_reason,
        }

    def _stop(
        self, out: dict, name: str, base: GenerationParams, variants: list[GenerationParams]
    ) -> None:
        """One generation without stop strings: each value's reply ends where its
        string first appears (across tokens too), the string itself left out."""
        n = base.max_tokens or GENERATION_TOKENS["stop"]
        finish = self.generate(base.model_copy(update={"stop": None, "max_tokens": n}))
        text = finish.text
        out["generation"] = {"text": text, "finish_reason": finish.finish_reason}
        out["cuts"] = []
        for v in variants:
            s = v.stops()[0]
            at = text.find(s)
            found = at >= 0
            out["cuts"].append({
                "stop": s,
                "at": at if found else None,
                "text": text[:at] if found else text,
                "finish_reason": "stop" if found else finish.finish_reason,
            })  # fmt: skip

    def _response_format(
        self, out: dict, name: str, base: GenerationParams, variants: list[GenerationParams]
    ) -> None:
        from ..common.command import warn
        from ..engine.completion import complete
        from ..engine.reply import json_warning

        n = base.max_tokens or GENERATION_TOKENS["response_format"]
        out["generations"] = []
        for v in variants:
            comp = complete(
                self.generate(v.model_copy(update={"max_tokens": n})), self.backend.model_name
            )
            out["generations"].append({
                "response_format": v.response_format,
                "text": comp.content,
                "finish_reason": comp.finish_reason,
                "parses": _parses(comp.content),
                "warnings": comp.warnings,
            })  # fmt: skip
        for w in {json_warning(self.messages, v, self.system) for v in variants} - {None}:
            warn(w)


def _parses(text: str | None) -> bool:
    try:
        json.loads(text or "")
    except json.JSONDecodeError:
        return False
    return True
