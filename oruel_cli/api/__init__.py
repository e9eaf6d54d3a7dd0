"""The OpenAI wire format, shared by the engine, the backends, batch and serve."""
