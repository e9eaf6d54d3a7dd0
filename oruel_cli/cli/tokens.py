"""--ban on chat, ask and run: words turned into logit_bias once the model
(and so its vocabulary) is loaded. Explicit --logit-bias values win."""

from __future__ import annotations

from typing import Any

from ..errors import UsageError


def check_ban_local(bans: list[str] | None, remote: Any) -> None:
    """--ban needs the local vocabulary: refused with --endpoint, before anything runs."""
    if bans and remote is not None:
        raise UsageError(
            "--ban needs the local model's vocabulary; with --endpoint, ban the "
            "server's token ids with --logit-bias ID=-100"
        )


def with_bans(flags: dict[str, Any], bans: list[str] | None, backend: Any) -> dict[str, Any]:
    """The flag values with the banned words' tokens added to logit_bias."""
    if not bans:
        return flags
    from ..engine.ban import ban_bias

    bias: dict[str, Any] = ban_bias(backend.model, bans)
    bias.update(flags.get("logit_bias") or {})
    return {**flags, "logit_bias": bias}
