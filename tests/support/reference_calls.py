"""Every `client.chat.completions.create(...)` call of the Oru'el "Inference
Parameters" page, copied unchanged (comments included), one function each.

The serve tests run them against `oruel serve` with only the client's
`base_url` and `api_key` set; "llama-4-maverick" is a config alias there.
"""

# ruff: noqa: F841, E501 - the page's code as it is
# fmt: off


def temperature_deterministic(client):
    # Deterministic — always the same answer
    response = client.chat.completions.create(
        model="llama-4-maverick",
        messages=[{"role": "user", "content": "What is 2 + 2?"}],
        temperature=0,
    )
    return response


def temperature_creative(client):
    # Creative — varied responses each time
    response = client.chat.completions.create(
        model="llama-4-maverick",
        messages=[{"role": "user", "content": "Write a creative opening line for a novel."}],
        temperature=1.2,
    )
    return response


def top_p(client):
    response = client.chat.completions.create(
        model="llama-4-maverick",
        messages=[{"role": "user", "content": "Summarize this article."}],
        top_p=0.9,
        temperature=0.7,
    )
    return response


def top_k(client):
    response = client.chat.completions.create(
        model="llama-4-maverick",
        messages=[{"role": "user", "content": "Generate a creative poem."}],
        extra_body={"top_k": 50},
    )
    return response


def min_p(client):
    response = client.chat.completions.create(
        model="llama-4-maverick",
        messages=[{"role": "user", "content": "Explain quantum computing."}],
        extra_body={"min_p": 0.05},
    )
    return response


def seed(client):
    response = client.chat.completions.create(
        model="llama-4-maverick",
        messages=[{"role": "user", "content": "Tell me a joke."}],
        seed=42,
    )
    return response


def max_tokens_short(client):
    # Short response
    response = client.chat.completions.create(
        model="llama-4-maverick",
        messages=[{"role": "user", "content": "What is Python?"}],
        max_tokens=50,
    )
    return response


def max_tokens_long(client):
    # Long response
    response = client.chat.completions.create(
        model="llama-4-maverick",
        messages=[{"role": "user", "content": "Write a detailed tutorial on Docker."}],
        max_tokens=4096,
    )
    return response


def stop_marker(client):
    # Stop at a specific marker
    response = client.chat.completions.create(
        model="llama-4-maverick",
        messages=[{"role": "user", "content": "List 3 fruits:"}],
        stop=["\n4.", "\n\n"],
    )
    return response


def stop_code_block(client):
    # Stop at code block end
    response = client.chat.completions.create(
        model="llama-4-maverick",
        messages=[{"role": "user", "content": "Write a Python function."}],
        stop=["```"],
    )
    return response


def frequency_penalty(client):
    response = client.chat.completions.create(
        model="llama-4-maverick",
        messages=[{"role": "user", "content": "Write a long essay about space."}],
        frequency_penalty=0.5,
    )
    return response


def presence_penalty(client):
    response = client.chat.completions.create(
        model="llama-4-maverick",
        messages=[{"role": "user", "content": "Brainstorm business ideas."}],
        presence_penalty=0.8,
    )
    return response


def repetition_penalty(client):
    response = client.chat.completions.create(
        model="llama-4-maverick",
        messages=[{"role": "user", "content": "Write a story."}],
        extra_body={"repetition_penalty": 1.15},
    )
    return response


def response_format(client):
    response = client.chat.completions.create(
        model="llama-4-maverick",
        messages=[
            {"role": "system", "content": "Output valid JSON."},
            {"role": "user", "content": "List 3 programming languages with their year of creation."},
        ],
        response_format={"type": "json_object"},
    )
    return response


def tier(client):
    response = client.chat.completions.create(
        model="llama-4-maverick",
        messages=[{"role": "user", "content": "Hello!"}],
        extra_body={"tier": "turbo"},
    )
    return response


CALLS = [
    temperature_deterministic, temperature_creative, top_p, top_k, min_p, seed,
    max_tokens_short, max_tokens_long, stop_marker, stop_code_block, frequency_penalty,
    presence_penalty, repetition_penalty, response_format, tier,
]  # fmt: skip
# fmt: on
