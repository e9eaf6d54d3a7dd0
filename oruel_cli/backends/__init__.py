"""Backends: where a chat request runs (the local engine; later remote servers)."""
