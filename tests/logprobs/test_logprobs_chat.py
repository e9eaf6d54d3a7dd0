"""chat's /logprobs N|off on a real pseudo-terminal (tests/support/chat_term.py's Term)."""

from __future__ import annotations

import pytest
from support.chat_term import FAST, STATS, start

pytestmark = pytest.mark.model


def shaded_cells(term) -> int:  # noqa: ANN001 - a support.chat_term.Term
    """Characters on the screen drawn on a coloured background (the shading)."""
    return sum(
        1 for row in term.screen.buffer.values() for ch in row.values() if ch.bg != "default"
    )


def test_logprobs_draws_each_reply_until_off():
    term = start(*FAST, "--no-log")
    term.command("/logprobs 21", r"invalid --logprobs '21' \(allowed: an integer from 0 to 20\)")
    term.command("/logprobs 3", "logprobs on")
    term.send("Name three colors.")
    term.expect("probability:")
    m = term.expect(r"the (\d) least certain of (\d+) tokens")
    assert int(m.group(1)) == min(5, int(m.group(2)))
    term.expect(STATS.pattern.split(" · ")[0])
    term.prompt()
    assert shaded_cells(term) > 0
    term.command("/logprobs off", "logprobs off")
    term.send("Name three animals.")
    term.expect(STATS.pattern.split(" · ")[0])
    term.prompt()
    assert "least certain" not in term.plain()[m.end() :]
    assert term.close_ok() == 0
