"""DeepSeek R1 and its distills: calls between `<｜tool▁calls▁begin｜>` and `<｜tool▁calls▁end｜>`.

Each call is `<｜tool▁call▁begin｜>function<｜tool▁sep｜>NAME`, a fenced JSON block of its
arguments, and `<｜tool▁call▁end｜>`. The distills of Qwen misspell the opening marker
now and then; the spellings llama.cpp accepts are accepted here.
"""

from __future__ import annotations

import re

from .base import Call, ToolFormat, expect, json_at, skip_space
from .gbnf import GrammarBuilder, functions, literal

BEGIN = "<｜tool▁calls▁begin｜>"
END = "<｜tool▁calls▁end｜>"
CALL, SEP, CALL_END = "<｜tool▁call▁begin｜>", "<｜tool▁sep｜>", "<｜tool▁call▁end｜>"
_BEGINS = (BEGIN, "<｜tool_calls_begin｜>", "<｜tool calls begin｜>", "<｜tool\\_calls\\_begin｜>",
           "<｜tool▁calls｜>")  # fmt: skip
_OPENING = re.compile("|".join(re.escape(b) for b in _BEGINS))


class DeepSeekR1(ToolFormat):
    name = "deepseek-r1"
    models = "DeepSeek R1 and its Qwen and Llama distills"
    trigger = BEGIN
    markers = (BEGIN,)
    example = (
        f"{BEGIN}{CALL}function{SEP}<function name>\n```json\n<arguments object>\n```"
        f"{CALL_END}{END}"
    )

    def grammar(self, tools, name=None, lazy=False):
        b = GrammarBuilder()
        alts = [
            f"{literal(CALL + 'function' + SEP + fn['name'] + chr(10) + '```json' + chr(10))} "
            f"{b.schema(fn['name'] + '-args', fn.get('parameters'))} "
            f"{literal(chr(10) + '```' + CALL_END)}"
            for fn in functions(tools, name)
        ]
        return b.build(f"{literal(BEGIN)} ( {' | '.join(alts)} ) {literal(END)}")

    def openers(self) -> tuple[str, ...]:
        return _BEGINS

    def find(self, text: str) -> int:
        m = _OPENING.search(text)
        return m.start() if m else -1

    def _calls(self, text: str, at: int) -> tuple[list[Call], int]:
        i = _OPENING.match(text, at).end()  # type: ignore[union-attr]
        calls = []
        while text.startswith(CALL, skip_space(text, i)):
            i = expect(text, expect(text, i, CALL), "function")
            i = expect(text, i, SEP)
            line_end = text.find("\n", i)
            if line_end < 0:
                raise ValueError("a call without arguments")
            name = text[i:line_end].strip()
            i = line_end
            fenced = text.startswith("```", skip_space(text, i))
            if fenced:
                i = expect(text, i, "```")
                if text.startswith("json", i):
                    i += 4
            args, i = json_at(text, i)
            if fenced:
                i = expect(text, i, "```")
            i = expect(text, i, CALL_END)
            calls.append(Call(name, args))
        return calls, expect(text, i, END)
