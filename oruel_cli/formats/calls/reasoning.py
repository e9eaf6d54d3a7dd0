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
        if t.open in template and t.close in template:
            return t
    return None
