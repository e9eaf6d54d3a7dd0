"""--ban TEXT: the tokens of a vocabulary that spell a word.

A word has several tokens in a BPE vocabulary: "Paris" at the start of a text,
" Paris" after a space, and so on. Banning one of them only moves the model to
another, so every token whose text, leading whitespace aside, is the word gets
the bias -100. A word that no single token spells cannot be banned this way:
the message names the tokens it is made of, for --logit-bias.
"""

from __future__ import annotations

from ..errors import UsageError
from .llama import LoadedModel


def ban_tokens(model: LoadedModel, text: str) -> list[int]:
    """The ids of every token that spells `text` (UsageError when none does)."""
    word = text.strip().encode("utf-8")
    if not word:
        raise UsageError(f"invalid --ban {text!r}: give a word (allowed: non-blank text)")
    found = [t for t in range(model.n_vocab) if model.token_bytes(t).lstrip() == word]
    if not found:
        parts = model.tokenize(text.strip())
        shown = " + ".join(
            f"{model.token_bytes(t).decode('utf-8', 'replace')!r} ({t})" for t in parts
        )
        raise UsageError(
            f"invalid --ban {text!r}: no single token of this model spells it; it is "
            f"{len(parts)} tokens, {shown} (allowed: a word that is one token; ban the "
            "parts with --logit-bias ID=-100)"
        )
    return found


def ban_bias(model: LoadedModel, texts: list[str]) -> dict[str, int]:
    """logit_bias entries of -100 for every token of every text."""
    return {str(t): -100 for text in texts for t in ban_tokens(model, text)}
