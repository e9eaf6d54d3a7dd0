"""oruel: chat, one-shot and batch runs of local GGUF models with the Oru'el parameters."""

__version__ = "0.1.0"
