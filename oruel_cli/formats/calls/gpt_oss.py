"""gpt-oss (OpenAI's harmony format): channels, with calls addressed `to=functions.NAME`.

After the generation prompt `<|start|>assistant` a reply is a run of messages, each
`<|channel|>CHANNEL[ to=functions.NAME][ <|constrain|>json]<|message|>BODY` closed by
`<|end|>`, `<|call|>` or `<|return|>`, the next opened by `<|start|>assistant`. The
`analysis` channel is the thinking, `final` (or a plain `commentary`) the answer, and
a message with a recipient is a call whose body is its JSON arguments. The recipient
may also stand before the channel (`assistant to=functions.NAME<|channel|>commentary`).
"""

from __future__ import annotations

import re

from .base import Call, Parsed, ToolFormat, json_at, skip_space
from .gbnf import GrammarBuilder, functions, literal

CHANNEL, MESSAGE, START = "<|channel|>", "<|message|>", "<|start|>assistant"
TO = " to=functions."
_CLOSE = re.compile(r"<\|end\|>|<\|call\|>|<\|return\|>|<\|start\|>")
_RECIPIENT = re.compile(r"to=functions\.([^\s<]+)")
_CHANNEL = re.compile(r"<\|channel\|>(\w+)")


class GptOss(ToolFormat):
    name = "gpt-oss"
    models = "gpt-oss 20b and 120b"
    trigger = TO
    markers = (CHANNEL,)
    splits_reasoning = True  # the channels say what is thinking: no <think> split

    def grammar(self, tools, name=None, lazy=False):
        b = GrammarBuilder()
        alts = [
            f'{literal(fn["name"])} ( {literal(CHANNEL)} "commentary" )? '
            f'( " <|constrain|>json" )? {literal(MESSAGE)} '
            f"{b.schema(fn['name'] + '-args', fn.get('parameters'))}"
            for fn in functions(tools, name)
        ]
        call = b.rule("call", f"{literal(TO)} ( {' | '.join(alts)} )")
        # Forced, the reply is the call from its first token: an analysis message first
        # (which llama.cpp allows) lets a model think until max_tokens instead.
        return b.build(call if lazy else f'"<|channel|>commentary" {call}')

    def parse(self, text: str, partial: bool = False) -> Parsed:
        """The messages of a reply; `partial`: of a reply still streaming, where a
        header or special token not yet whole shows nothing and a call not yet whole
        is no call (yet) rather than a broken one."""
        if partial:
            cut = text.rfind("<|")
            if cut >= 0 and "|>" not in text[cut + 2 :]:
                text = text[:cut]
            text = text.removesuffix("<")
        if MESSAGE not in text:
            return Parsed("" if partial and "<|" in text else text)
        reasoning, content, calls = [], [], []
        i = 0
        while i < len(text):
            head_end = text.find(MESSAGE, i)
            if head_end < 0:
                if not partial:  # words after the last message: keep them
                    content.append(text[i:])
                break
            header = text[i:head_end]
            close = _CLOSE.search(text, head_end)
            end = close.start() if close else len(text)
            body = text[head_end + len(MESSAGE) : end]
            recipient, channel = _RECIPIENT.search(header), _CHANNEL.search(header)
            if recipient:
                try:
                    args, after = json_at(body, 0)
                    if body[skip_space(body, after) :]:
                        raise ValueError("words after the arguments")
                except ValueError:
                    if partial:
                        break
                    return Parsed(text, broken=True)
                calls.append(Call(recipient.group(1), args))
            elif channel and channel.group(1) == "analysis":
                reasoning.append(body)
            else:
                content.append(body)
            i = end
            if close and text.startswith(("<|end|>", "<|call|>", "<|return|>"), end):
                i = close.end()
        return Parsed(
            "".join(content).strip(),
            calls,
            reasoning="".join(reasoning).strip() or None,
        )
