"""The options that compare values side by side: `params explain --demo` and
`ask --sweep`, added to their commands by decorators so the commands stay as
they are, and the parsing of each value exactly as its own flag parses it.

Every value given here is checked before any model loads, with the message the
flag gives ("invalid top_k 'abc' (allowed: an integer from 0 to 200)"): a value
means the same typed in `--values`, in `--sweep` or as a flag.
"""

from __future__ import annotations

import functools
import inspect
from typing import Annotated, Any

import typer

from ..common import complete
from ..common.options import _COMMON, CommonOptions
from ..errors import UsageError
from ..params.values import canonical_name, parse_name, parse_value

MAX_VALUES = 8  # columns of one --demo picture
_ESCAPES = {",": ",", "n": "\n", "t": "\t", "\\": "\\"}


def split_values(text: str, what: str) -> list[str]:
    """'a,b,c' -> ['a', 'b', 'c']; `\\,` is a comma inside a value, `\\n` and
    `\\t` a newline and a tab (stop strings), `\\\\` a backslash. An empty
    value is refused: it is almost always a typo."""
    values, cur, i = [], [], 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in _ESCAPES:
            cur.append(_ESCAPES[text[i + 1]])
            i += 2
            continue
        if ch == ",":
            values.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
        i += 1
    values.append("".join(cur))
    if any(v == "" for v in values):
        raise UsageError(f"{what} {text!r}: an empty value (separate values with commas)")
    return values


def _extend(fn: Any, extra: list[inspect.Parameter]) -> Any:
    """Append keyword options to the signature Typer reads from `fn`."""
    sig = inspect.signature(fn)
    params = [*sig.parameters.values(), *extra]
    fn.__signature__ = sig.replace(parameters=params)
    fn.__annotations__ = {p.name: p.annotation for p in params}
    return fn


def _kw(name: str, annotation: Any, default: Any) -> inspect.Parameter:
    return inspect.Parameter(
        name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation
    )


def demo_options(fn: Any) -> Any:
    """`params explain NAME --demo PROMPT`: adds `--values`, `--output-json` and
    the COMMON options (model, preset, the parameter flags: the stages the demo
    does not vary are the user's), and runs the demo when `--demo` is given.
    Without it the card is shown as before, with nothing heavy imported."""

    @functools.wraps(fn)
    def wrapper(**kwargs: Any) -> Any:
        values = kwargs.pop("values")
        output_json = kwargs.pop("output_json")
        opts = CommonOptions(**{k: kwargs.pop(k) for k in _COMMON})
        if kwargs.get("demo") is None:
            if values is not None or output_json:
                raise UsageError("--values and --output-json go with --demo PROMPT")
            return fn(**kwargs)
        from ..demo.run import run_demo

        name = parse_name(kwargs["name"])
        given = None
        if values is not None:
            given = [parse_value(name, v) for v in split_values(values, "--values")]
            if len(given) > MAX_VALUES:
                raise UsageError(f"--values: {len(given)} values; at most {MAX_VALUES}")
        return run_demo(opts, name, kwargs["demo"], given, output_json)

    return _extend(
        wrapper,
        [
            _kw(
                "values",
                Annotated[
                    str | None,
                    typer.Option(
                        "--values",
                        metavar="V1,V2,...",
                        help="The values to compare (with --demo); each as its flag takes it.",
                    ),
                ],
                None,
            ),
            _kw(
                "output_json",
                Annotated[
                    bool,
                    typer.Option("--output-json", help="With --demo: the numbers, as JSON."),
                ],
                False,
            ),
            *_common_params(),
        ],
    )


def sweep_option(fn: Any) -> Any:
    """`ask --sweep NAME=V1,V2,...` (repeatable: every combination): the
    variants run together in one batch and the replies are shown side by side.
    Without it, ask runs as before."""

    @functools.wraps(fn)
    def wrapper(**kwargs: Any) -> Any:
        sweeps = kwargs.pop("sweep")
        if not sweeps:
            return fn(**kwargs)
        from ..sweep.run import run_sweep

        if kwargs.get("show_prompt"):
            raise UsageError("--show-prompt shows one prompt; give it without --sweep")
        opts = CommonOptions(**{k: kwargs.pop(k) for k in _COMMON})
        axes = [parse_sweep(s) for s in sweeps]
        return run_sweep(
            opts, axes, kwargs["prompt"], kwargs["system"], kwargs["output_json"],
            kwargs["carry"], kwargs["cid"],
        )  # fmt: skip

    return _extend(
        wrapper,
        [
            _kw(
                "sweep",
                Annotated[
                    list[str] | None,
                    typer.Option(
                        "--sweep",
                        metavar="NAME=V1,V2,...",
                        autocompletion=complete.sweep,
                        help="Run the prompt under each value side by side (repeat for a "
                        "grid; preset=A,B compares presets).",
                    ),
                ],
                None,
            )
        ],
    )


def parse_sweep(text: str) -> tuple[str, list[Any]]:
    """'temperature=0,0.7' -> ('temperature', [0.0, 0.7]); 'preset=code,qa'
    keeps the preset names (they are loaded, and so checked, when the variants
    are resolved)."""
    name, sep, rest = text.partition("=")
    if not sep or not name.strip():
        raise UsageError(
            f"invalid --sweep {text!r} (allowed: NAME=V1,V2,..., e.g. temperature=0,0.7)"
        )
    if canonical_name(name) == "preset":
        return "preset", split_values(rest, f"--sweep {name.strip()}=")
    key = parse_name(name)
    return key, [parse_value(key, v) for v in split_values(rest, f"--sweep {key}=")]


def _common_params() -> list[inspect.Parameter]:
    """The COMMON options as signature parameters, as `common_options` adds them."""
    from ..common.options import common_options

    def stand_in(opts: CommonOptions) -> None:
        """Only its signature is read."""

    return list(inspect.signature(common_options(stand_in)).parameters.values())
