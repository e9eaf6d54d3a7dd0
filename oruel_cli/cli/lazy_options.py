"""One change to how Typer parses: an option that was not given is not coerced.

Typer (0.2x) coerces every parameter through a pydantic TypeAdapter that it
builds on first use, and it uses it even for an option left out, whose value
is None and comes back None. `params explain` carries the demo's 40 options,
so it built 40 adapters for one argument: ~10 ms of a ~0.33 s start. With
`skip_absent_coercion()` a left-out option (no value, not required, no
callback, one value) is None without its adapter; every given value is
coerced as before. A Typer without that parameter class parses as it does.
"""

from __future__ import annotations

from typing import Any

_done = False


def skip_absent_coercion() -> None:
    """Install the change (once per process)."""
    global _done
    if _done:
        return
    _done = True
    from typer import core

    cls = getattr(core, "_TyperParameter", None)
    if cls is None or not hasattr(cls, "process_value"):
        return
    coerce = cls.process_value

    def process_value(self: Any, ctx: Any, value: Any) -> Any:
        if (
            value is None
            and not self.required
            and self.callback is None
            and not self.multiple
            and self.nargs == 1
        ):
            return None
        return coerce(self, ctx, value)

    cls.process_value = process_value
