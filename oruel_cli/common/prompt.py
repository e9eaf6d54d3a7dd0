"""Reading a command's prompt: ask's and the sweep's (light: `--help` imports it)."""

import sys

from ..errors import UsageError


def read_prompt(prompt: str | None) -> str:
    """PROMPT, stdin, or stdin + a blank line + PROMPT (as `llm` does)."""
    piped = not sys.stdin.isatty() if sys.stdin else False
    if prompt in (None, "-"):
        if not piped:
            raise UsageError("give a PROMPT, or pipe one on stdin")
        text = sys.stdin.read()
        if not text.strip():
            raise UsageError("the prompt on stdin is empty")
        return text.rstrip("\n")
    if not prompt.strip():
        raise UsageError("the PROMPT is empty (give some text, or '-' to read stdin)")
    if piped:
        text = sys.stdin.read()
        if text.strip():
            return f"{text.rstrip()}\n\n{prompt}"
    return prompt
