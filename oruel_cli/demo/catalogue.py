"""What `params explain NAME --demo` shows for each parameter: data, light to import.

Each parameter has a kind of picture and the values compared when `--values`
is not given:

- distribution (temperature, top_k, top_p, min_p): the next-token
  distribution after generation's own stages, one column a value;
- penalty (the three penalties): how the logits of tokens already generated
  move after a short greedy prefix, with the formula's numbers;
- seed, max_tokens, stop, response_format: short generations side by side;
- distribution also for logit_bias (the raw distribution, then with the bias;
  without --values: a ban and a nudge of the prompt's most likely token, and a
  push of its third);
- none (stream, tools, tool_choice, tier, logprobs, top_logprobs): they act on the prompt, the reply
  as a whole or the routing, not on one step's distribution; the demo says
  so and gives the command that shows their effect instead.
"""

from __future__ import annotations

import shlex
from typing import Any

KINDS: dict[str, str] = {
    "temperature": "distribution",
    "top_k": "distribution",
    "top_p": "distribution",
    "min_p": "distribution",
    "frequency_penalty": "penalty",
    "presence_penalty": "penalty",
    "repetition_penalty": "penalty",
    "seed": "seed",
    "max_tokens": "max_tokens",
    "stop": "stop",
    "response_format": "response_format",
    "stream": "none",
    "tools": "none",
    "tool_choice": "none",
    "tier": "none",
    "logprobs": "none",
    "top_logprobs": "none",
    "logit_bias": "distribution",
}

DEFAULT_VALUES: dict[str, list[Any]] = {
    "temperature": [0.0, 0.5, 1.0, 1.5],
    "top_k": [1, 3, 10, 40],
    "top_p": [0.1, 0.5, 0.9, 1.0],
    "min_p": [0.02, 0.05, 0.1, 0.3],
    "frequency_penalty": [0.5, 1.0, 2.0],
    "presence_penalty": [0.5, 1.0, 2.0],
    "repetition_penalty": [1.1, 1.3, 1.5],
    "seed": [1, 2],
    "max_tokens": [4, 8, 16],
    "stop": [".", ",", "\n"],
    "response_format": [{"type": "text"}, {"type": "json_object"}],
}

# Tokens generated greedily before the penalty demo reads the logits, and the
# length of the seed, stop and response_format generations (unless max_tokens
# is set): short, so a demo costs a second or two.
PREFIX_TOKENS = 32
GENERATION_TOKENS = {"seed": 24, "stop": 48, "response_format": 96}
ROWS = 12  # tokens shown (and given in --output-json) per distribution

_WHY: dict[str, str] = {
    "stream": (
        "stream changes when you see the reply, not what it is: the same tokens "
        "come either way, each as it is generated or all at the end. There is no "
        "distribution to draw. ask streams in a terminal; --no-stream waits for "
        "the whole reply."
    ),
    "tools": (
        "tools puts function definitions into the prompt (through the chat "
        "template, or the system prompt when the template knows no tools) and "
        "lets the reply be a call: it changes what the model reads and the "
        "grammar over the whole reply, not the draw at one step."
    ),
    "tool_choice": (
        "tool_choice decides whether the reply may, must or must not be a tool "
        "call, by switching a grammar over the whole reply on or off (or on once "
        "the model opens a call): compare whole replies, not one step."
    ),
    "logprobs": (
        "logprobs report the model's distribution at every token of a reply; they do "
        "not change it. ask --logprobs N shows them: each token shaded by its "
        "probability, then the N best tokens at the least certain positions."
    ),
    "top_logprobs": (
        "top_logprobs lists the N most likely tokens at each position of a reply; "
        "it changes nothing that is drawn. ask --logprobs N shows them."
    ),
    "tier": (
        "tier picks a routing profile from your config (a model, runtime "
        "settings, parameters): its effect is whatever that profile sets. "
        "--show-params shows what each profile changes."
    ),
}


def no_demo(name: str, prompt: str, values: list[Any] | None) -> tuple[str, list[str]]:
    """Why a parameter has no distribution to draw, and the commands to run instead."""
    q = shlex.quote(prompt)
    given = ",".join(_shown(v) for v in values) if values else None
    commands = {
        "stream": [f"oruel ask {q}", f"oruel ask --no-stream {q}"],
        "tools": [
            f"oruel ask --tools tools.json {q}",
            f"oruel ask --tools tools.json --sweep tool_choice=auto,none,required {q}",
        ],
        "tool_choice": [
            f"oruel ask --tools tools.json --sweep tool_choice={given or 'auto,none,required'} {q}"
        ],
        "logprobs": [f"oruel ask --logprobs 0 {q}", f"oruel ask --logprobs 5 --output-json {q}"],
        "top_logprobs": [f"oruel ask --logprobs 5 {q}"],
        "tier": [
            f"oruel ask --show-params --tier turbo {q}",
            f"oruel ask --sweep tier={given or 'standard,turbo'} {q}",
        ],
    }[name]
    return _WHY[name], commands


def _shown(value: Any) -> str:
    if isinstance(value, dict):  # a tool_choice naming a function
        return str(value.get("function", {}).get("name", value))
    return str(value)
