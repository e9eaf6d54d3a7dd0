"""Tool calls and thinking in each model family's own syntax: one module per format.

`format_for(template)` finds a template's format by the markers its text holds, as
llama.cpp's chat handlers do; `FORMATS` names every format for a config override.
"""

from .base import Call, Parsed, ToolFormat
from .detect import FORMATS, format_for, format_named

__all__ = ["FORMATS", "Call", "Parsed", "ToolFormat", "format_for", "format_named"]
