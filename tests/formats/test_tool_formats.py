"""Each family's tool-call and thinking syntax, read whole and as a stream: pure text, no model.

The replies are written as the families write them (the shapes of llama.cpp's chat
tests and the models' own documentation): one call, several, nested and non-ASCII
arguments, words before a call, a broken call, thinking before a call.
"""

from __future__ import annotations

import json
import random

import pytest

from oruel_cli.errors import UsageError
from oruel_cli.formats.calls import FORMATS, format_for, format_named
from oruel_cli.formats.calls.reasoning import MISTRAL_THINK, THINK, ThinkingSplitter, thinking_for
from oruel_cli.formats.calls.stream import ReplyReader

NESTED = {"city": "Zürich", "when": {"day": "今日", "hours": [9, 17]}, "metric": True}
R1_BEGIN, R1_END = "<｜tool▁calls▁begin｜>", "<｜tool▁calls▁end｜>"
R1_CALL, R1_SEP, R1_CALL_END = "<｜tool▁call▁begin｜>", "<｜tool▁sep｜>", "<｜tool▁call▁end｜>"


def r1_call(name: str, args: dict) -> str:
    return f"{R1_CALL}function{R1_SEP}{name}\n```json\n{json.dumps(args, ensure_ascii=False)}\n```{R1_CALL_END}"


def j(v) -> str:
    return json.dumps(v, ensure_ascii=False)


# format -> (one call, two calls, nested args, words then a call, a broken call)
CASES = {
    "hermes": (
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call>',
        '<tool_call>\n{"name": "a", "arguments": {}}\n</tool_call>\n<tool_call>\n{"name": "b", "arguments": {"x": 1}}\n</tool_call>',
        f'<tool_call>{{"name": "get_weather", "arguments": {j(NESTED)}}}</tool_call>',
        'Let me look.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call>',
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"\n</tool_call>',
    ),
    "llama3": (
        '{"name": "get_weather", "parameters": {"city": "Oslo"}}',
        '<|python_tag|>{"name": "a", "parameters": {}}; {"name": "b", "parameters": {"x": 1}}',
        f'{{"type": "function", "name": "get_weather", "parameters": {j(NESTED)}}}',
        'Let me look.\n{"name": "get_weather", "parameters": {"city": "Oslo"}}',
        '{"name": "get_weather", "parameters": {"city": ',
    ),
    "mistral": (
        '[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Oslo"}, "id": "abc123def"}]',
        '[TOOL_CALLS][{"name": "a", "arguments": {}}, {"name": "b", "arguments": {"x": 1}}]',
        f'[TOOL_CALLS][{{"name": "get_weather", "arguments": {j(NESTED)}}}]',
        'Let me look.[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Oslo"}}]',
        '[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Oslo"}',
    ),
    "mistral-tekken": (
        '[TOOL_CALLS]get_weather[ARGS]{"city": "Oslo"}',
        '[TOOL_CALLS]a[ARGS]{}[TOOL_CALLS]b[CALL_ID]k3Jd81xQz[ARGS]{"x": 1}',
        f"[TOOL_CALLS]get_weather[ARGS]{j(NESTED)}",
        'Let me look.[TOOL_CALLS]get_weather[ARGS]{"city": "Oslo"}',
        '[TOOL_CALLS]get_weather{"city": "Oslo"}',
    ),
    "deepseek-r1": (
        f"{R1_BEGIN}{r1_call('get_weather', {'city': 'Oslo'})}{R1_END}",
        f"{R1_BEGIN}{r1_call('a', {})}\n{r1_call('b', {'x': 1})}{R1_END}",
        f"{R1_BEGIN}{r1_call('get_weather', NESTED)}{R1_END}",
        f"Let me look.\n{R1_BEGIN}{r1_call('get_weather', {'city': 'Oslo'})}{R1_END}",
        f'{R1_BEGIN}{R1_CALL}function{R1_SEP}get_weather\n```json\n{{"city": "Oslo"\n```',
    ),
    "granite": (
        '<|tool_call|>[{"name": "get_weather", "arguments": {"city": "Oslo"}}]',
        '<|tool_call|>[{"name": "a", "arguments": {}}, {"name": "b", "arguments": {"x": 1}}]',
        f'<|tool_call|>[{{"name": "get_weather", "arguments": {j(NESTED)}}}]',
        'Let me look.<|tool_call|>[{"name": "get_weather", "arguments": {"city": "Oslo"}}]',
        '<|tool_call|>[{"name": "get_weather", "arguments": {"city": "Oslo"}',
    ),
    "phi4": (
        'functools[{"name": "get_weather", "arguments": {"city": "Oslo"}}]',
        'functools[{"name": "a", "arguments": {}}, {"name": "b", "arguments": {"x": 1}}]',
        f'functools[{{"name": "get_weather", "arguments": {j(NESTED)}}}]',
        'Let me look. functools[{"name": "get_weather", "arguments": {"city": "Oslo"}}]',
        'functools[{"name": "get_weather", "arguments": {"city": "Oslo"',
    ),
    "gpt-oss": (
        '<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{"city": "Oslo"}<|call|>',
        "<|channel|>commentary to=functions.a <|constrain|>json<|message|>{}<|call|>"
        '<|start|>assistant<|channel|>commentary to=functions.b <|constrain|>json<|message|>{"x": 1}<|call|>',
        f"<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{j(NESTED)}<|call|>",
        "<|channel|>commentary<|message|>Let me look.<|end|><|start|>assistant"
        '<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{"city": "Oslo"}<|call|>',
        '<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{"city": "Os',
    ),
    "qwen3-coder": (
        "<tool_call>\n<function=get_weather>\n<parameter=city>\nOslo\n</parameter>\n</function>\n</tool_call>",
        "<tool_call>\n<function=a>\n</function>\n</tool_call>\n"
        "<tool_call>\n<function=b>\n<parameter=x>\n1\n</parameter>\n</function>\n</tool_call>",
        "<tool_call>\n<function=get_weather>\n<parameter=city>\nZürich\n</parameter>\n"
        f"<parameter=when>\n{j(NESTED['when'])}\n</parameter>\n<parameter=metric>\ntrue\n</parameter>\n"
        "</function>\n</tool_call>",
        "Let me look.\n<tool_call>\n<function=get_weather>\n<parameter=city>\nOslo\n</parameter>\n</function>\n</tool_call>",
        "<tool_call>\n<function=get_weather>\n<parameter=city>\nOslo\n</parameter>\n",
    ),
}
NESTED_BY_FORMAT = {"qwen3-coder": {"city": "Zürich", "when": NESTED["when"], "metric": True}}


def calls_of(parsed):
    return [(c.name, c.arguments) for c in parsed.calls]


def test_every_format_has_its_cases():
    assert set(CASES) == set(FORMATS)


@pytest.mark.parametrize("name", CASES)
def test_one_call(name):
    p = format_named(name).parse(CASES[name][0])
    assert calls_of(p) == [("get_weather", {"city": "Oslo"})] and p.content == "" and not p.broken


@pytest.mark.parametrize("name", CASES)
def test_several_calls(name):
    p = format_named(name).parse(CASES[name][1])
    assert calls_of(p) == [("a", {}), ("b", {"x": 1})], p


@pytest.mark.parametrize("name", CASES)
def test_nested_and_non_ascii_arguments(name):
    p = format_named(name).parse(CASES[name][2])
    assert calls_of(p) == [("get_weather", NESTED_BY_FORMAT.get(name, NESTED))]
    (item,) = [c.openai() for c in p.calls]
    assert json.loads(item["function"]["arguments"]) == NESTED_BY_FORMAT.get(name, NESTED)
    assert "Zürich" in item["function"]["arguments"]  # not \\u-escaped
    assert item["type"] == "function" and item["id"]


@pytest.mark.parametrize("name", CASES)
def test_words_then_a_call(name):
    p = format_named(name).parse(CASES[name][3])
    assert p.content == "Let me look." and calls_of(p) == [("get_weather", {"city": "Oslo"})]


@pytest.mark.parametrize("name", CASES)
def test_a_broken_call_stays_content(name):
    text = CASES[name][4]
    p = format_named(name).parse(text)
    assert p.broken and not p.calls and p.content == text


@pytest.mark.parametrize("name", CASES)
def test_plain_text_is_content(name):
    p = format_named(name).parse("The weather in Oslo is mild.")
    assert p.content == "The weather in Oslo is mild." and not p.calls and not p.broken


def test_mistral_ids_are_nine_letters_and_digits_as_their_templates_require():
    for name in ("mistral", "mistral-tekken"):
        for case in CASES[name][:3]:
            for call in format_named(name).parse(case).calls:
                assert len(call.id) == 9 and call.id.isalnum(), call
    kept = format_named("mistral").parse(CASES["mistral"][0]).calls[0].id
    assert kept == "abc123def"


def test_thinking_then_a_call():
    text = "<think>\nThe user wants Oslo.\n</think>\n\n" + CASES["hermes"][0]
    p = ReplyReader(format_named("hermes"), THINK, tools=True).read(text)
    assert p.reasoning == "The user wants Oslo." and calls_of(p) == [
        ("get_weather", {"city": "Oslo"})
    ]
    oss = (
        "<|channel|>analysis<|message|>The user wants Oslo.<|end|><|start|>assistant"
        + CASES["gpt-oss"][0]
    )
    p = ReplyReader(format_named("gpt-oss"), None, tools=True).read(oss)
    assert p.reasoning == "The user wants Oslo." and calls_of(p) == [
        ("get_weather", {"city": "Oslo"})
    ]
    magistral = "[THINK]Oslo, then.[/THINK]" + CASES["mistral-tekken"][0]
    p = ReplyReader(format_named("mistral-tekken"), MISTRAL_THINK, tools=True).read(magistral)
    assert p.reasoning == "Oslo, then." and p.calls[0].name == "get_weather"


def test_thinking_opened_by_the_prompt_and_cut_by_max_tokens():
    reader = ReplyReader(format_named("deepseek-r1"), THINK, started=True)
    p = reader.read("Hmm, 2 + 2.\n</think>\n\n4")
    assert (p.reasoning, p.content) == ("Hmm, 2 + 2.", "4")
    p = ReplyReader(format_named("hermes"), THINK).read("<think>\nstill going")
    assert (p.reasoning, p.content) == ("still going", "")
    assert THINK.opened_by("<｜Assistant｜><think>\n") and not THINK.opened_by(
        "<|im_start|>assistant\n"
    )


def test_gpt_oss_final_channel_is_the_answer():
    text = "<|channel|>analysis<|message|>Say hi.<|end|><|start|>assistant<|channel|>final<|message|>Hi!"
    p = ReplyReader(format_named("gpt-oss")).read(text)
    assert (p.reasoning, p.content, p.calls) == ("Say hi.", "Hi!", [])


def _stream(reader: ReplyReader, pieces: list[str]):
    shown_r, shown_c = "", ""
    for piece in pieces:
        r, c = reader.feed(piece)
        shown_r, shown_c = shown_r + r, shown_c + c
    parsed, r, c = reader.finish()
    return parsed, shown_r + r, shown_c + c


STREAM_TEXTS = [(n, t, None, False) for n, cases in CASES.items() for t in cases] + [
    ("hermes", "<think>\nThe user wants Oslo.\n</think>\n\n" + CASES["hermes"][3], THINK, False),
    ("deepseek-r1", "Hmm.\n</think>\n\n" + CASES["deepseek-r1"][0], THINK, True),
    ("hermes", "  <b>bold</b> and <think> inside", THINK, False),
    (
        "gpt-oss",
        "<|channel|>analysis<|message|>Say hi.<|end|><|start|>assistant<|channel|>final<|message|>Hi there!",
        None,
        False,
    ),
    (
        "mistral-tekken",
        "[THINK]Oslo.[/THINK]Sure. " + CASES["mistral-tekken"][0],
        MISTRAL_THINK,
        False,
    ),
    ("llama3", 'A JSON: { "city" : 1 } and {"x": 2}', None, False),
]


@pytest.mark.parametrize("name,text,thinking,started", STREAM_TEXTS)
def test_every_split_of_a_stream_gives_the_whole(name, text, thinking, started):
    fmt = format_named(name)
    whole = ReplyReader(fmt, thinking, tools=True, started=started).read(text)
    splits = [[text[:k], text[k:]] for k in range(len(text) + 1)]
    splits.append(list(text))  # a character at a time
    rng = random.Random(len(text))
    for _ in range(20):
        cuts = sorted(rng.sample(range(len(text) + 1), 4))
        splits.append([text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)])
    for pieces in splits:
        parsed, reasoning, content = _stream(
            ReplyReader(fmt, thinking, tools=True, started=started), pieces
        )
        assert calls_of(parsed) == calls_of(whole) and parsed.broken == whole.broken
        assert content == whole.content, pieces
        assert reasoning == (whole.reasoning or ""), pieces


def test_a_stream_never_shows_a_call_as_text():
    reader = ReplyReader(format_named("hermes"), tools=True)
    shown = "".join(reader.feed(ch)[1] for ch in CASES["hermes"][3])
    assert shown == "Let me look." and "<" not in shown


DETECTED = {
    "{%- if message.channel %}<|channel|>{{ message.channel }}": "gpt-oss",
    "{{'<｜tool▁calls▁begin｜>'}}": "deepseek-r1",
    "<tool_call>\n<function={{ tool_call.name }}>\n<parameter={{ k }}>": "qwen3-coder",
    "[TOOL_CALLS]{{ tool.name }}[ARGS]{{ args }}": "mistral-tekken",
    "[AVAILABLE_TOOLS]{{ tools }}[/AVAILABLE_TOOLS] [TOOL_CALLS]": "mistral",
    "<|start_of_role|>assistant<|end_of_role|><|tool_call|>": "granite",
    "<|system|>{{ content }}<|tool|>{{ tools }}<|/tool|><|end|>": "phi4",
    "<|start_header_id|>ipython<|end_header_id|>": "llama3",
    "<|im_start|>assistant\n<tool_call>\n{{ call | tojson }}": "hermes",
    "{{ '<|im_start|>' + message['role'] }}": "hermes",  # no markers: oruel's <tool_call>
}


@pytest.mark.parametrize("template,name", DETECTED.items())
def test_the_format_is_found_from_the_template(template, name):
    assert format_for(template).name == name


def test_thinking_markers_from_the_template_and_an_unknown_format_name():
    assert thinking_for("{% if enable_thinking %}<think>\n\n</think>{% endif %}") == THINK
    assert thinking_for("[THINK]{{ t }}[/THINK]") == MISTRAL_THINK
    assert thinking_for("{{ '<|im_start|>' }}") is None
    # DeepSeek R1 distills' templates name only the end: they cut the content there
    assert thinking_for("{% set content = content.split('</think>')[-1] %}") == THINK
    with pytest.raises(UsageError, match="allowed: gpt-oss, deepseek-r1"):
        format_named("json")


SPLITTER_TEXTS = [
    ("<think>\nLet me add.\n</think>\n\nIt is 4.", False, "Let me add.", "It is 4."),
    ("Let me add.</think>  It is 4. </think>", True, "Let me add.", "It is 4. </think>"),
    (
        "  No thinking, <think> later stays text",
        False,
        "",
        "  No thinking, <think> later stays text",
    ),
    ("<think>cut by max_tokens </thi", False, "cut by max_tokens </thi", ""),
    ("[THINK]Oslo.[/THINK]Sure.", False, "Oslo.", "Sure."),
]


@pytest.mark.parametrize("text,started,thought,answer", SPLITTER_TEXTS)
def test_the_engine_splitter_gives_the_same_at_every_split(text, started, thought, answer):
    """What the engine shows as thinking and as answer does not depend on how
    the tokens cut the text, and thinking, markers and answer add up to every
    byte fed (the logprobs of a stream are released by those bytes)."""
    markers = MISTRAL_THINK if text.startswith("[THINK]") else THINK
    splits = [[text[:k], text[k:]] for k in range(len(text) + 1)] + [list(text)]
    for pieces in splits:
        splitter = ThinkingSplitter(markers, started)
        outs = [splitter.feed(p) for p in pieces] + [splitter.flush()]
        shown_thought = "".join(o[0] for o in outs)
        shown_answer = "".join(o[1] for o in outs)
        raw = "".join(o[2] for o in outs)
        assert shown_thought.strip() == thought and shown_answer == answer, pieces
        assert len(raw) + len(shown_answer) == len(text), pieces


def test_think_flags_set_the_templates_own_switch_or_are_refused():
    from oruel_cli.formats.kwargs import check_effort, thinking_kwargs

    assert thinking_kwargs(False, None, ("enable_thinking",), "m") == {"enable_thinking": False}
    assert thinking_kwargs(True, None, ("thinking",), "m") == {"thinking": True}
    assert thinking_kwargs(None, "low", ("reasoning_effort",), "m") == {"reasoning_effort": "low"}
    # a remote server's template is not known here: the common names are sent
    assert thinking_kwargs(False, "high", None, "the server") == {
        "enable_thinking": False,
        "reasoning_effort": "high",
    }
    with pytest.raises(UsageError, match="--no-think: the chat template of m has no thinking"):
        thinking_kwargs(False, None, (), "m")
    with pytest.raises(UsageError, match="try --reasoning-effort low"):
        thinking_kwargs(True, None, ("reasoning_effort",), "m")
    with pytest.raises(UsageError, match="does not read reasoning_effort"):
        thinking_kwargs(None, "low", ("enable_thinking",), "m")
    assert check_effort("HIGH") == "high"
    with pytest.raises(UsageError, match="allowed: low, medium, high"):
        check_effort("max")
