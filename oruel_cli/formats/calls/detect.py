"""Which format a chat template implies, found by the markers in its text.

The order matters where one family's template also holds another's marker:
gpt-oss's channels and DeepSeek's fenced calls first, Qwen3-Coder's XML before the
Hermes `<tool_call>` it is wrapped in, Mistral's tekken generation (it has `[ARGS]`)
before v0.3. A template with none of them gets oruel's own `<tool_call>`
instructions (the Hermes syntax), as the default model does.
"""

from __future__ import annotations

from ...errors import UsageError
from .base import ToolFormat
from .deepseek_r1 import DeepSeekR1
from .gpt_oss import GptOss
from .granite import Granite
from .hermes import Hermes
from .llama3 import Llama3
from .mistral import MistralNemo, MistralTekken
from .phi4 import Phi4
from .qwen3_coder import Qwen3Coder

FALLBACK = Hermes()
FORMATS: dict[str, ToolFormat] = {
    f.name: f
    for f in (
        GptOss(),
        DeepSeekR1(),
        Qwen3Coder(),
        MistralTekken(),
        MistralNemo(),
        Granite(),
        Phi4(),
        Llama3(),
        FALLBACK,
    )
}


def format_for(template: str | None) -> ToolFormat:
    """The format of the family whose markers `template` holds; Hermes when none."""
    for fmt in FORMATS.values():
        if template and fmt.detect(template):
            return fmt
    return FALLBACK


def format_named(name: str) -> ToolFormat:
    """A format by name (a model's config entry overrides the detection)."""
    try:
        return FORMATS[name]
    except KeyError:
        raise UsageError(
            f"tool-call format {name!r} is unknown; allowed: {', '.join(FORMATS)}"
        ) from None
