"""`oruel ask --show-prompt`: the exact text a model would be given, as
`llama-cli --verbose-prompt` and llama-server's /apply-template show it.

Only the vocabulary and the template are loaded (llama.cpp's `vocab_only`),
so it takes a moment even for a large model, and nothing is generated."""

from __future__ import annotations

import json
import sys
from typing import Any


def print_prompt(
    target: Any, messages: list[dict[str, Any]], resolved: Any, verbose: bool, as_json: bool
) -> None:
    """The prompt on stdout (or {"prompt", "tokens"}), its token count on stderr."""
    from ..backends.local import Prompter
    from ..engine.loader import load_model

    with load_model(target, verbose, vocab_only=True) as model:
        prompter = Prompter(model, target.template_kwargs, target.think, target.reasoning_effort)
        prompt = prompter.prompt(messages, resolved.params, resolved.system)
        tokens = len(model.tokenize_prompt(prompt))
    if as_json:
        print(json.dumps({"prompt": prompt, "tokens": tokens}, ensure_ascii=False))
    else:
        sys.stdout.write(prompt)
        if sys.stdout.isatty() and not prompt.endswith("\n"):
            sys.stdout.write("\n")  # a terminal's next prompt on a line of its own
        sys.stdout.flush()
    print(f"{tokens} prompt tokens", file=sys.stderr)
