"""Test data several test files use: parameter edges and short prompts."""

# name -> (low edge, high edge, just below, just above), as a user types them.
EDGES: dict[str, tuple[str, str, str, str]] = {
    "temperature": ("0", "2", "-0.001", "2.001"),
    "top_p": ("0", "1", "-0.001", "1.001"),
    "top_k": ("0", "200", "-1", "201"),
    "min_p": ("0", "1", "-0.001", "1.001"),
    "seed": (str(-(2**63)), str(2**64 - 1), str(-(2**63) - 1), str(2**64)),
    "max_tokens": ("1", "131072", "0", "131073"),
    "frequency_penalty": ("-2", "2", "-2.001", "2.001"),
    "presence_penalty": ("-2", "2", "-2.001", "2.001"),
    "repetition_penalty": ("0.1", "3", "0.099", "3.001"),
}

# Short prompts the default model answers briefly.
PROMPTS = [
    "Name three fruits.",
    "What is the capital of Italy?",
    "Write a haiku about snow.",
    "Explain gravity in one sentence.",
    "What is 7 times 8?",
    "Give me a synonym for happy.",
    "Describe a cat.",
    "What color is the sky?",
    "Tell me a joke about computers.",
    "How many legs does a spider have?",
]
