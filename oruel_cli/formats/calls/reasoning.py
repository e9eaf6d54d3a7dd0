"""Thinking, split from the answer: `<think>...</think>` and each family's equivalent.

A template marks its family's thinking: `<think>` (DeepSeek R1 and its distills,
Qwen3, QwQ, SmolLM3, Granite's thinking mode), `[THINK]` (Magistral); gpt-oss says it
with its `analysis` channel, which its own format reads. Where the generation prompt
already opens the block (the R1 distills end it with `<think>\\n`), the reply starts
inside it and only the closing marker comes.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Thinking:
    """A family's thinking markers."""

    open: str
    close: str

    def opened_by(self, prompt: str) -> bool:
        """Whether the rendered prompt ends inside a thinking block."""
        tail = prompt.rstrip()
        return tail.endswith(self.open)

    def split(self, text: str, started: bool = False) -> tuple[str | None, str]:
        """(thinking, the rest) of a whole reply; thinking None when there is none.

        A block opened and never closed (max_tokens cut it) is all thinking.
        """
        if not started:
            head = len(text) - len(text.lstrip())
            if not text.startswith(self.open, head):
                return None, text
            text = text[head + len(self.open) :]
        end = text.find(self.close)
        if end < 0:
            return text.strip(), ""
        return text[:end].strip(), text[end + len(self.close) :].lstrip()


THINK = Thinking("<think>", "</think>")
MISTRAL_THINK = Thinking("[THINK]", "[/THINK]")


def thinking_for(template: str | None) -> Thinking | None:
    """The thinking markers a template uses, or None for a family that does not think."""
    if not template:
        return None
    for t in (THINK, MISTRAL_THINK):
        if t.close in template:  # R1 distills' templates name only the end (they cut there)
            return t
    return None


class ThinkingSplitter:
    """A reply's text, piece by piece, split into thinking and answer as it streams.

    The engine feeds it before stop strings are matched, so stop strings apply
    to the answer only, and counts the tokens until the block closes. `feed`
    returns (thinking, answer, raw): the thinking to show (markers removed),
    the answer text, and the raw text taken as thinking (markers included), so
    that what was shown and what was fed add up to the same bytes. A partial
    marker at the end of a piece is held until the next piece says what it is.
    """

    def __init__(self, thinking: Thinking, started: bool = False) -> None:
        self.thinking = thinking
        self.state = "inside" if started else "before"  # before | inside | after
        self.closed = False  # the closing marker was seen
        self._buf = ""
        self._answer_begun = False  # spaces right after the closing marker are dropped

    @property
    def inside(self) -> bool:
        return self.state == "inside"

    def feed(self, piece: str) -> tuple[str, str, str]:
        if self.state == "after":
            return self._answer("", piece, "")
        self._buf += piece
        t = self.thinking
        if self.state == "before":
            head = self._buf.lstrip()
            if not head or (t.open.startswith(head) and head != t.open):
                return "", "", ""  # nothing yet, or maybe the opening marker
            if not head.startswith(t.open):
                self.state, text, self._buf = "after", self._buf, ""
                return self._answer("", text, "")
            self.state = "inside"
            lead = len(self._buf) - len(head) + len(t.open)
            raw, self._buf = self._buf[:lead], self._buf[lead:]
            thought, answer, more = self._inside()
            return thought, answer, raw + more
        return self._inside()

    def flush(self) -> tuple[str, str, str]:
        """The held text at the end of the reply."""
        text, self._buf = self._buf, ""
        if self.state == "inside":
            return text, "", text
        return self._answer("", text, "")

    def _inside(self) -> tuple[str, str, str]:
        close = self.thinking.close
        end = self._buf.find(close)
        if end >= 0:
            thought, rest = self._buf[:end], self._buf[end + len(close) :]
            self.state, self.closed, self._buf = "after", True, ""
            return self._answer(thought, rest, thought + close)
        safe = hold_partial(self._buf, close)
        self._buf = self._buf[len(safe) :]
        return safe, "", safe

    def _answer(self, thought: str, text: str, raw: str) -> tuple[str, str, str]:
        """(thought, answer, raw) with the spaces that open the answer moved to raw."""
        if not self._answer_begun and self.closed:
            kept = text.lstrip()
            raw, text = raw + text[: len(text) - len(kept)], kept
        if text:
            self._answer_begun = True
        return thought, text, raw


def hold_partial(text: str, marker: str) -> str:
    """`text` without a trailing partial `marker`."""
    for k in range(min(len(marker) - 1, len(text)), 0, -1):
        if marker.startswith(text[-k:]):
            return text[:-k]
    return text
