"""The one engine every mode runs on: llama.cpp through its low-level API."""
