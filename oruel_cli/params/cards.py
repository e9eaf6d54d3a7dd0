"""The parameter catalogue behind `oruel params list` and `oruel params explain NAME`.

Data, not code: one card per field of GenerationParams (params/model.py), in
the same order. Type, range and default are NOT repeated here: they are read
from the pydantic model when a card is rendered. `what` and `combines` are
Markdown (**bold**, `code`). A Python module rather than a YAML file so that
`params explain` starts without importing a YAML parser (~15 ms).

Keys of a card:
  summary   one line, for the table of `params list`
  what      what the parameter does on a local model (the reference page, and oruel's own meaning)
  guide     the value guide: a list of {value, meaning}
  combines  how it works together with the other parameters
  examples  flag: an `oruel` command line; preset_yaml: a preset snippet;
            openai: the same request through the official Python client
"""

from __future__ import annotations

from typing import Any


def prose(text: str) -> str:
    """A paragraph written wrapped, read as one line (words joined by single spaces)."""
    return " ".join(text.split())


CARDS: dict[str, dict[str, Any]] = {
    "temperature": {
        "summary": "Randomness of the draw: low is focused, high is varied.",
        "what": prose(
            """
            Controls the randomness of the output. The logits are divided by the temperature before
            the draw: lower values sharpen the distribution and make the model more deterministic
            and focused, higher values flatten it and make the output more creative and varied. `0`
            means greedy decoding: the most probable token (argmax) at every step, whatever the
            seed.
            """
        ),
        "guide": [
            {
                "value": "0",
                "meaning": (
                    "Deterministic: always the highest-probability token. Best for factual "
                    "retrieval and code generation."
                ),
            },
            {
                "value": "0.1 - 0.4",
                "meaning": (
                    "Low randomness: focused and consistent. Good for data extraction, "
                    "classification and structured tasks."
                ),
            },
            {
                "value": "0.5 - 0.8",
                "meaning": (
                    "Moderate randomness: balanced between creativity and coherence. Good for "
                    "general conversation and writing assistance."
                ),
            },
            {
                "value": "1.0 - 1.5",
                "meaning": (
                    "High randomness: more creative and varied. Good for brainstorming, creative "
                    "writing and diverse outputs."
                ),
            },
            {
                "value": "1.5 - 2.0",
                "meaning": (
                    "Very high randomness: outputs become increasingly unpredictable. Rarely "
                    "useful in production."
                ),
            },
        ],
        "combines": prose(
            """
            Order at each step: grammar → penalties → **temperature** → top_k → top_p → min_p →
            draw. Because temperature comes before top_p and min_p, it changes which tokens they
            keep: at a low temperature the same top_p keeps fewer tokens. Generally adjust
            temperature or top_p, not both. At `0` the cuts and the seed change nothing (the top
            token always survives them); `top_k 1` is the same greedy choice. Penalties still apply
            before the argmax.
            """
        ),
        "examples": {
            "flag": 'oruel ask --temperature 0 "What is 2 + 2?"',
            "preset_yaml": """\
params:
  temperature: 0
""",
            "openai": """\
# Deterministic: always the same answer
response = client.chat.completions.create(
    model="llama-4-maverick",
    messages=[{"role": "user", "content": "What is 2 + 2?"}],
    temperature=0,
)
""",
        },
    },
    "top_p": {
        "summary": "Nucleus sampling: keep the top tokens up to top_p of the probability.",
        "what": prose(
            """
            Nucleus sampling. Instead of considering every possible token, the model keeps only the
            smallest set of most probable tokens whose cumulative probability reaches `top_p` (≥, as
            llama.cpp counts it) and draws from that set. Lower values produce more focused output;
            `1.0` keeps every token (no filtering).
            """
        ),
        "guide": [
            {"value": "1.0", "meaning": "Consider all tokens (no filtering)."},
            {
                "value": "0.9",
                "meaning": ("Consider the tokens in the top 90% of the probability mass."),
            },
            {
                "value": "0.1",
                "meaning": (
                    "Consider only the most likely tokens, covering 10% of the probability."
                ),
            },
        ],
        "combines": prose(
            """
            Order at each step: grammar → penalties → temperature → top_k → **top_p** → min_p →
            draw. top_k is applied before top_p: when both are set, the top K tokens are taken
            first, then nucleus sampling works within that set. The probabilities it adds up are the
            ones after temperature. Generally adjust temperature or top_p, not both. With
            temperature `0` it has no effect.
            """
        ),
        "examples": {
            "flag": 'cat article.txt | oruel ask --top-p 0.9 "Summarize this article."',
            "preset_yaml": """\
params:
  top_p: 0.9
""",
            "openai": """\
response = client.chat.completions.create(
    model="llama-4-maverick",
    messages=[{"role": "user", "content": "Summarize this article."}],
    top_p=0.9,
    temperature=0.7,
)
""",
        },
    },
    "top_k": {
        "summary": "Keep only the K most probable tokens at each step.",
        "what": prose(
            """
            Limits the model to the K most probable tokens at each step: a hard cutoff by count,
            unlike top_p, which cuts by probability. `0` or not set means off (no library default
            such as llama.cpp's 40 leaks in); `1` is greedy decoding.
            """
        ),
        "guide": [
            {"value": "1", "meaning": "Greedy decoding (equivalent to temperature 0)."},
            {"value": "10", "meaning": "Only the top 10 tokens are considered."},
            {"value": "50", "meaning": "A common value that balances diversity and quality."},
            {"value": "200", "meaning": "Very permissive filtering."},
        ],
        "combines": prose(
            """
            Order at each step: grammar → penalties → temperature → **top_k** → top_p → min_p →
            draw. top_k is applied before top_p: when both are set, the model first takes the top K
            tokens, then applies nucleus sampling within that set. When structure is asked (JSON, a
            tool call), the grammar comes first, so the K tokens are chosen among legal tokens only.
            """
        ),
        "examples": {
            "flag": 'oruel ask --top-k 50 "Generate a creative poem."',
            "preset_yaml": """\
params:
  top_k: 50
""",
            "openai": """\
response = client.chat.completions.create(
    model="llama-4-maverick",
    messages=[{"role": "user", "content": "Generate a creative poem."}],
    extra_body={"top_k": 50},
)
""",
        },
    },
    "min_p": {
        "summary": "Drop tokens below min_p × the top token's probability.",
        "what": prose(
            """
            Dynamic minimum-probability filtering: tokens whose probability is less than `min_p` ×
            the probability of the most likely token are discarded. Unlike top_k (a fixed number) or
            top_p (a fixed cumulative probability), min_p adapts to the model's confidence: when one
            token has a high probability it filters aggressively; when the probabilities are spread
            it allows more diversity. Not set means off (no library default such as 0.05 leaks in).
            """
        ),
        "guide": [
            {
                "value": "0.05",
                "meaning": ("Discard tokens with less than 5% of the top token's probability."),
            },
            {"value": "0.1", "meaning": "More aggressive filtering."},
        ],
        "combines": prose(
            """
            Order at each step: grammar → penalties → temperature → top_k → top_p → **min_p** →
            draw: it is the last cut before the draw. It compares each token with the top token
            after temperature, so a higher temperature flattens the ratios and lets more tokens
            through.
            """
        ),
        "examples": {
            "flag": 'oruel ask --min-p 0.05 "Explain quantum computing."',
            "preset_yaml": """\
params:
  min_p: 0.05
""",
            "openai": """\
response = client.chat.completions.create(
    model="llama-4-maverick",
    messages=[{"role": "user", "content": "Explain quantum computing."}],
    extra_body={"min_p": 0.05},
)
""",
        },
    },
    "seed": {
        "summary": "Seed of the random draw: same seed and parameters, same output.",
        "what": prose(
            """
            Seed for the random number generator behind the draw. The same seed with the same
            parameters, the same model file and the same build (and, in a batch, the same
            `--parallel`) gives the same output, which is useful for debugging and testing.
            Reproducibility is best-effort: it depends on the model architecture and the build. Any
            64-bit integer is accepted; it is reduced to llama.cpp's 32-bit seed as seed mod (2³² −
            1), so no value turns into llama.cpp's "random seed" value. Not set: a fresh random seed
            for every request.
            """
        ),
        "guide": [
            {
                "value": "not set",
                "meaning": ("A new random seed for every request: replies vary from run to run."),
            },
            {
                "value": "42",
                "meaning": (
                    "Any integer: the same seed with the same parameters and model repeats the "
                    "same reply."
                ),
            },
        ],
        "combines": prose(
            """
            Only the draw uses it: at temperature `0` (or top_k `1`) decoding is greedy and the seed
            changes nothing. Changing any other parameter, the prompt, the model or the llama.cpp
            build can change the output even with the same seed. In a batch, a line's own `seed`
            field overrides the job's.
            """
        ),
        "examples": {
            "flag": 'oruel ask --seed 42 "Tell me a joke."',
            "preset_yaml": """\
params:
  seed: 42
""",
            "openai": """\
response = client.chat.completions.create(
    model="llama-4-maverick",
    messages=[{"role": "user", "content": "Tell me a joke."}],
    seed=42,
)
""",
        },
    },
    "max_tokens": {
        "summary": "The most tokens the reply may have.",
        "what": prose(
            """
            The maximum number of tokens the model may generate in its reply. The reply may be
            shorter if the model finishes naturally or hits a stop sequence. Not set (the
            reference's "model-dependent" default): the reply runs until the model ends it or the
            context is full. The prompt plus max_tokens cannot exceed the context window: if
            max_tokens is too high for the context left, the model generates up to the context limit
            and the reply ends with finish_reason `length`, not an error.
            """
        ),
        "guide": [
            {"value": "10", "meaning": "A label or a number (the classification preset)."},
            {"value": "50", "meaning": "A short answer."},
            {"value": "4096", "meaning": "A long answer, such as a detailed tutorial."},
        ],
        "combines": prose(
            """
            A reply cut by max_tokens ends with finish_reason `length`; one ended by a stop string
            or by the model ends with `stop`. With response_format `json_object` or `json_schema`, a
            cap that is too small cuts the JSON before it closes, so the reply no longer parses:
            leave room. The context window is set with `--ctx`.
            """
        ),
        "examples": {
            "flag": 'oruel ask --max-tokens 50 "What is Python?"',
            "preset_yaml": """\
params:
  max_tokens: 50
""",
            "openai": """\
# Short response
response = client.chat.completions.create(
    model="llama-4-maverick",
    messages=[{"role": "user", "content": "What is Python?"}],
    max_tokens=50,
)
""",
        },
    },
    "stop": {
        "summary": "Up to 4 strings that end the reply when generated.",
        "what": prose(
            """
            Stop sequences: generation stops when the model produces one of these strings. A single
            string or a list of up to 4, each up to 256 characters. The stop string is not part of
            the output, and the reply ends with finish_reason `stop`. A stop string split across
            tokens still stops, and streamed output never shows part of it.
            """
        ),
        "guide": [
            {
                "value": '["\\n4.", "\\n\\n"]',
                "meaning": (
                    "Stop at a marker: after the third item of a list, or at the first blank line."
                ),
            },
            {"value": '["```"]', "meaning": "Stop at the end of a code block."},
        ],
        "combines": prose(
            """
            Checked on the generated text whatever the sampling settings, and ends the reply before
            max_tokens would. The code preset keeps `stop: ["```"]` with a system prompt that asks
            for the code alone, without Markdown fences, so the stop ends a reply that would close
            with a fence instead of cutting the reply at an opening one. Avoid stop strings that can
            occur inside JSON output (response_format, tools): they would cut it short.
            """
        ),
        "examples": {
            "flag": "oruel ask --stop $'\\n4.' --stop $'\\n\\n' \"List 3 fruits:\"",
            "preset_yaml": """\
params:
  stop: ["\\n4.", "\\n\\n"]
""",
            "openai": """\
# Stop at a specific marker
response = client.chat.completions.create(
    model="llama-4-maverick",
    messages=[{"role": "user", "content": "List 3 fruits:"}],
    stop=["\\n4.", "\\n\\n"],
)
""",
        },
    },
    "frequency_penalty": {
        "summary": "Penalize tokens by how often they already appear in the reply.",
        "what": prose(
            """
            Penalizes tokens proportionally to how many times they have already appeared in the
            output: logit −= count × value, where count is the number of times the token appears in
            the generated output (the prompt does not count). A token that appeared 5 times is
            penalized 5 times as much as one that appeared once. Best for reducing repetitive word
            patterns.
            """
        ),
        "guide": [
            {
                "value": "0.1 to 2.0",
                "meaning": (
                    "Positive values reduce repetition by discouraging frequently used tokens."
                ),
            },
            {"value": "0", "meaning": "No penalty."},
            {"value": "-2.0 to 0", "meaning": "Negative values encourage repetition."},
        ],
        "combines": prose(
            """
            Order at each step: grammar → **penalties** → temperature → top_k → top_p → min_p →
            draw. frequency_penalty and presence_penalty are additive and add up on the same token;
            repetition_penalty is multiplicative. In most cases one penalty parameter is enough:
            start with `frequency_penalty: 0.3` for general anti-repetition (the chatbot preset;
            creative uses 0.5).
            """
        ),
        "examples": {
            "flag": 'oruel ask --frequency-penalty 0.5 "Write a long essay about space."',
            "preset_yaml": """\
params:
  frequency_penalty: 0.5
""",
            "openai": """\
response = client.chat.completions.create(
    model="llama-4-maverick",
    messages=[{"role": "user", "content": "Write a long essay about space."}],
    frequency_penalty=0.5,
)
""",
        },
    },
    "presence_penalty": {
        "summary": "Penalize every token that has appeared in the reply, once.",
        "what": prose(
            """
            Penalizes tokens that have appeared at all in the output, regardless of how many times:
            logit −= value once the token appears in the generated output (the prompt does not
            count). A token that appeared once is penalized the same as one that appeared 10 times.
            Best for encouraging topical diversity.
            """
        ),
        "guide": [
            {
                "value": "0.1 to 2.0",
                "meaning": ("Positive values encourage the model to introduce new topics."),
            },
            {"value": "0", "meaning": "No penalty."},
            {"value": "-2.0 to 0", "meaning": "Negative values encourage staying on topic."},
        ],
        "combines": prose(
            """
            Order at each step: grammar → **penalties** → temperature → top_k → top_p → min_p →
            draw. It adds to frequency_penalty on the same token (both are additive);
            repetition_penalty is multiplicative. In most cases one penalty parameter is enough. The
            brainstorming preset uses `presence_penalty: 0.8`.
            """
        ),
        "examples": {
            "flag": 'oruel ask --presence-penalty 0.8 "Brainstorm business ideas."',
            "preset_yaml": """\
params:
  presence_penalty: 0.8
""",
            "openai": """\
response = client.chat.completions.create(
    model="llama-4-maverick",
    messages=[{"role": "user", "content": "Brainstorm business ideas."}],
    presence_penalty=0.8,
)
""",
        },
    },
    "repetition_penalty": {
        "summary": "Multiplicative penalty on the logits of tokens already generated.",
        "what": prose(
            """
            A multiplicative penalty on the tokens already generated (the prompt does not count):
            their positive logits are divided by it and their negative logits multiplied by it, so
            values above 1 make repeats less likely. This is different from frequency_penalty and
            presence_penalty, which are additive. It is specific to open-source models and may not
            behave like OpenAI's penalty parameters.
            """
        ),
        "guide": [
            {"value": "1.0", "meaning": "No penalty."},
            {"value": "1.1 - 1.3", "meaning": "Mild reduction in repetition."},
            {"value": "1.5+", "meaning": "Strong reduction; may degrade coherence."},
        ],
        "combines": prose(
            """
            Order at each step: grammar → **penalties** → temperature → top_k → top_p → min_p →
            draw. It is the general anti-repetition knob for open-source models; with
            frequency_penalty or presence_penalty set too the effects stack, and in most cases one
            penalty parameter is enough. Sent to a remote server (`--endpoint`) as both
            `repetition_penalty` (vLLM) and `repeat_penalty` (llama-server).
            """
        ),
        "examples": {
            "flag": 'oruel ask --repetition-penalty 1.15 "Write a story."',
            "preset_yaml": """\
params:
  repetition_penalty: 1.15
""",
            "openai": """\
response = client.chat.completions.create(
    model="llama-4-maverick",
    messages=[{"role": "user", "content": "Write a story."}],
    extra_body={"repetition_penalty": 1.15},
)
""",
        },
    },
    "response_format": {
        "summary": "Free text, any JSON object, or JSON following a schema.",
        "what": prose(
            """
            Controls the output format. `{"type": "text"}` (the default) is free-form text.
            `{"type": "json_object"}` forces valid JSON: the output is constrained by a grammar so
            that it parses. You must also instruct the model to output JSON in your prompt; oruel
            warns when no message mentions JSON. `{"type": "json_schema", "json_schema": {"name":
            ..., "schema": {...}}}` (OpenAI's shape) constrains the output with the schema's
            grammar, then checks it with jsonschema, since a grammar cannot hold bounds, formats or
            uniqueness: a violation is a warning on stderr in ask and chat, and an `error` in a
            batch record.
            """
        ),
        "guide": [
            {"value": '{"type": "text"}', "meaning": "Default. Free-form text output."},
            {
                "value": '{"type": "json_object"}',
                "meaning": (
                    "Forces valid JSON. You must also instruct the model to output JSON in your "
                    "prompt."
                ),
            },
            {
                "value": '{"type": "json_schema", "json_schema": {"name": ..., "schema": {...}}}',
                "meaning": (
                    "JSON that follows the schema (checked with jsonschema after generation)."
                ),
            },
        ],
        "combines": prose(
            """
            Order at each step: **grammar** → penalties → temperature → top_k → top_p → min_p →
            draw. The grammar comes first, so the cuts choose among legal tokens only. Leave
            max_tokens room for the whole object, and avoid stop strings that can occur inside the
            JSON. A low temperature (the extraction preset uses 0) keeps the values faithful to the
            input. On the command line: `--json`, `--response-format text|json_object` or
            `--json-schema FILE`, one of the three.
            """
        ),
        "examples": {
            "flag": 'oruel ask --json --system "Output valid JSON." "List 3 programming languages with their year of creation."',
            "preset_yaml": """\
system: Output valid JSON.
params:
  response_format: {type: json_object}
""",
            "openai": """\
response = client.chat.completions.create(
    model="llama-4-maverick",
    messages=[
        {"role": "system", "content": "Output valid JSON."},
        {"role": "user", "content": "List 3 programming languages with their year of creation."},
    ],
    response_format={"type": "json_object"},
)
""",
        },
    },
    "stream": {
        "summary": "Show the reply token by token as it is generated.",
        "what": prose(
            """
            When true, the reply is delivered as it is generated instead of all at once at the end;
            over the API (`oruel serve`) it comes as a stream of server-sent events ending in `data:
            [DONE]`. `oruel chat` and `oruel ask` stream by default when stdout is a terminal; `ask
            --no-stream` waits for the whole reply.
            """
        ),
        "guide": [
            {
                "value": "false",
                "meaning": (
                    "The whole reply at once (the API's default; ask with --no-stream or piped)."
                ),
            },
            {
                "value": "true",
                "meaning": ("Tokens shown as they are generated (chat and ask in a terminal)."),
            },
        ],
        "combines": prose(
            """
            Changes how the reply is delivered, never which tokens are drawn: with the same seed and
            parameters the streamed reply is the same text as the whole one. Text that could be the
            start of a stop string is held back until it is sure, so no part of a stop string is
            ever shown. With `ask --output-json`, the whole `chat.completion` object is printed at
            the end.
            """
        ),
        "examples": {
            "flag": 'oruel ask --no-stream "Tell me a joke."',
            "preset_yaml": """\
params:
  stream: false
""",
            "openai": """\
stream = client.chat.completions.create(
    model="llama-4-maverick",
    messages=[{"role": "user", "content": "Tell me a joke."}],
    stream=True,
)
for chunk in stream:
    print(chunk.choices[0].delta.content or "", end="")
""",
        },
    },
    "tools": {
        "summary": "Functions the model may call (OpenAI's tools array).",
        "what": prose(
            """
            Defines functions the model can call, as OpenAI's `tools` array (at most 128). Calls
            come back in OpenAI's `tool_calls` shape (the arguments a JSON string) with
            finish_reason `tool_calls`; oruel never executes them. On a model whose chat template
            knows no tools (the default model's does not), the definitions go into the system prompt
            with an instruction to answer a call as `<tool_call>{"name": ..., "arguments":
            {...}}</tool_call>`; a template that takes `tools` gets them through the template.
            """
        ),
        "guide": [
            {"value": "not set", "meaning": "No tools: a plain reply."},
            {
                "value": '[{"type": "function", "function": {"name": ..., "parameters": {...}}}]',
                "meaning": (
                    "The model may answer or call one of these functions (tool_choice auto)."
                ),
            },
        ],
        "combines": prose(
            """
            tool_choice decides whether a call is made (`auto` when tools are given and tool_choice
            is not). `required` or a named function constrain the reply to a call from its first
            token with a grammar, which comes first in the chain (grammar → penalties → temperature
            → top_k → top_p → min_p → draw); `auto` lets the model write freely and constrains the
            rest of the reply once it opens `<tool_call>`. Arguments are checked against the
            function's `parameters` schema with jsonschema after generation. On the command line,
            `--tools FILE` reads the array from a JSON or YAML file.
            """
        ),
        "examples": {
            "flag": 'oruel ask --tools tools.json "What is the weather in Paris?"',
            "preset_yaml": """\
params:
  tools:
    - type: function
      function:
        name: get_weather
        description: Current weather in a city.
        parameters:
          type: object
          properties:
            city: {type: string}
          required: [city]
""",
            "openai": """\
response = client.chat.completions.create(
    model="llama-4-maverick",
    messages=[{"role": "user", "content": "What is the weather in Paris?"}],
    tools=[
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Current weather in a city.",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}},
                    "required": ["city"],
                },
            },
        }
    ],
)
calls = response.choices[0].message.tool_calls
""",
        },
    },
    "tool_choice": {
        "summary": "Whether the model calls a tool, and which one.",
        "what": prose(
            """
            Controls whether and which tools the model calls. `auto`: the model decides whether to
            answer or call a tool (the default when tools are given). `none`: the model will not
            call any tool. `required`: the reply is always a call. `{"type": "function", "function":
            {"name": ...}}`: the reply is always a call to that function. A forced call's arguments
            are valid against the function's schema (constrained by a grammar, then checked with
            jsonschema).
            """
        ),
        "guide": [
            {"value": "auto", "meaning": "The model decides whether to call a tool."},
            {"value": "none", "meaning": "The model will not call any tools."},
            {"value": "required", "meaning": "The model must call one of the tools."},
            {
                "value": '{"type": "function", "function": {"name": "function_name"}}',
                "meaning": ("Force a specific tool."),
            },
        ],
        "combines": prose(
            """
            Takes effect with tools: it picks among the functions `tools` defines. A forced call
            (`required` or a named function) is constrained by a grammar from its first token, first
            in the chain (grammar → penalties → temperature → ...), so the arguments parse at any
            temperature. A reply that carries calls ends with finish_reason `tool_calls`. On the
            command line, `--tool-choice NAME` stands for `{"type": "function", "function": {"name":
            "NAME"}}`.
            """
        ),
        "examples": {
            "flag": 'oruel ask --tools tools.json --tool-choice get_weather "What is the weather in Paris?"',
            "preset_yaml": """\
params:
  tool_choice: required
""",
            "openai": """\
response = client.chat.completions.create(
    model="llama-4-maverick",
    messages=[{"role": "user", "content": "What is the weather in Paris?"}],
    tools=tools,
    tool_choice={"type": "function", "function": {"name": "get_weather"}},
)
""",
        },
    },
    "tier": {
        "summary": "Routing profile: standard or turbo, from the config's tiers.",
        "what": prose(
            """
            Selects the routing tier. On the reference API, `standard` is the cost-optimized default
            and `turbo` low-latency routing at a higher price. On a local model, the tier picks the
            profile of that name under `tiers:` in the config file: its model, runtime settings,
            params and endpoints; a tier with no profile changes nothing. In a batch, `turbo` lines
            are admitted before `standard` ones.
            """
        ),
        "guide": [
            {
                "value": "standard",
                "meaning": (
                    "Default. Cost-optimized; locally, the config's tiers.standard profile."
                ),
            },
            {
                "value": "turbo",
                "meaning": (
                    "Low-latency routing, at a higher price; locally, the config's tiers.turbo "
                    "profile, and admitted first in a batch."
                ),
            },
        ],
        "combines": prose(
            """
            An explicit `--model` wins over a tier profile's model. In a batch, a line's tier
            profile may not name another model than the one the job runs: such a line gets an error
            record naming the tier and the model. Against `oruel serve`, tier travels in the extra
            body and goes through the server's config profiles.
            """
        ),
        "examples": {
            "flag": 'oruel ask --tier turbo "Hello!"',
            "preset_yaml": """\
params:
  tier: turbo
""",
            "openai": """\
response = client.chat.completions.create(
    model="llama-4-maverick",
    messages=[{"role": "user", "content": "Hello!"}],
    extra_body={"tier": "turbo"},
)
""",
        },
    },
    "logprobs": {
        "summary": "Return each token's log-probability: how sure the model was.",
        "what": prose(
            """
            Not a parameter of the reference page but OpenAI's: when true, the reply carries the
            log-probability of every token the model chose, in OpenAI's shape
            (`choices[].logprobs.content[]`: `token`, `logprob`, `bytes`, `top_logprobs`). The
            numbers are the model's own distribution: the log-softmax of the raw logits, before
            logit_bias, penalties, temperature and the cuts, as OpenAI and vLLM report them; so they
            do not change with the sampling parameters, and a token a cut removed still has its
            probability. `bytes` of all tokens join to the reply's UTF-8. In a terminal, `oruel ask
            --logprobs N` shades each token by its probability (below 10%, 10–50%, 50–90%, above
            90%) and lists the N best alternatives at the five least certain positions; chat's
            `/logprobs N` does it for each reply.
            """
        ),
        "guide": [
            {"value": "false", "meaning": "Default. No log-probabilities; nothing is computed."},
            {
                "value": "true",
                "meaning": (
                    "Each generated token with its log-probability (exp() of it is the "
                    "probability)."
                ),
            },
        ],
        "combines": prose(
            """
            `--logprobs N` sets it and **top_logprobs** N at once. It reads the distribution before
            the sampler chain (grammar → logit_bias → penalties → temperature → top_k → top_p →
            min_p → draw), so a high temperature shows as low-probability tokens being drawn, not as
            changed numbers. Streamed, each chunk carries the tokens of its text; text held back for
            a stop string is released with its tokens, and a stop string's tokens are never
            returned.
            """
        ),
        "examples": {
            "flag": 'oruel ask --logprobs 0 "Is this review positive? I loved it."',
            "preset_yaml": """\
params:
  logprobs: true
""",
            "openai": """\
response = client.chat.completions.create(
    model="llama-4-maverick",
    messages=[{"role": "user", "content": "Is this review positive? I loved it."}],
    logprobs=True,
)
for t in response.choices[0].logprobs.content:
    print(t.token, t.logprob)
""",
        },
    },
    "top_logprobs": {
        "summary": "With logprobs: the N most likely tokens at each position too.",
        "what": prose(
            """
            OpenAI's companion of logprobs: at each position, the N (0 to 20) most probable tokens
            of the raw distribution, most likely first, each with its `token`, `logprob` and
            `bytes`. At temperature 0 the token chosen is the first of them. It needs `logprobs:
            true` (as OpenAI requires).
            """
        ),
        "guide": [
            {"value": "0", "meaning": "The chosen tokens only (the default when unset)."},
            {
                "value": "1 - 5",
                "meaning": ("The runners-up: enough to see where the model hesitated."),
            },
            {"value": "20", "meaning": "The most OpenAI allows."},
        ],
        "combines": prose(
            """
            Needs **logprobs**; `--logprobs N` sets both. The alternatives are those of the raw
            distribution, so a token that top_k, top_p, min_p or a ban removed is still listed with
            its probability. Their probabilities add up to at most 1.
            """
        ),
        "examples": {
            "flag": 'oruel ask --logprobs 5 "The capital of France is"',
            "preset_yaml": """\
params:
  logprobs: true
  top_logprobs: 5
""",
            "openai": """\
response = client.chat.completions.create(
    model="llama-4-maverick",
    messages=[{"role": "user", "content": "The capital of France is"}],
    logprobs=True,
    top_logprobs=5,
)
""",
        },
    },
    "logit_bias": {
        "summary": "Push tokens up or down by id; -100 bans a token.",
        "what": prose(
            """
            OpenAI's `{token id: bias}` map: each bias, from -100 to 100, is added to that token's
            logit at every step. Small values (±1) nudge a token; large ones all but force or forbid
            it; -100 bans it: the token is never drawn. Token ids are the model's own (`params
            explain logit_bias --demo PROMPT` shows ids beside tokens); an id outside the vocabulary
            is refused. `--ban TEXT` on chat, ask and run bans every token that spells a word
            ("Paris", " Paris"); a word that no single token spells is refused with the tokens it is
            made of.
            """
        ),
        "guide": [
            {"value": "-100", "meaning": "Ban: the token is never drawn."},
            {"value": "-5 - -1", "meaning": "Make the token less likely."},
            {"value": "1 - 5", "meaning": "Make the token more likely."},
            {"value": "100", "meaning": "Force the token wherever it is allowed."},
        ],
        "combines": prose(
            """
            Order at each step: grammar → **logit_bias** → penalties → temperature → top_k → top_p →
            min_p → draw. The bias comes first after the grammar (a grammar still decides what is
            legal), as in llama.cpp's own sampler; the penalties and cuts then work on the biased
            logits. logprobs are of the raw distribution, so a bias does not change them.
            """
        ),
        "examples": {
            "flag": 'oruel ask --logit-bias 23390=-100 "Name three colors."',
            "preset_yaml": """\
params:
  logit_bias: {"23390": -100}
""",
            "openai": """\
response = client.chat.completions.create(
    model="llama-4-maverick",
    messages=[{"role": "user", "content": "Name three colors."}],
    logit_bias={"23390": -100},
)
""",
        },
    },
}
