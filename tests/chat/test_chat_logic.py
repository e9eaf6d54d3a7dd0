"""The chat's pure logic, without a terminal or a model: command parsing and
suggestions, /set parsed as the flags are, parameter layers and their
sources, history trimming, the conversation's changes, /save and /load."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from oruel_cli.chat import commands
from oruel_cli.chat.state import ChatParams, ChatSession, exchanges_to_drop, reply_room
from oruel_cli.chat.transcript import apply, dumps, from_text, load, save, to_data
from oruel_cli.common.options import CommonOptions
from oruel_cli.config import Config
from oruel_cli.errors import UsageError
from oruel_cli.params.layering import make_layer


def session(**flags: object) -> ChatSession:
    return ChatSession(ChatParams(Config(), None, dict(flags)))


def message_of(fn) -> str:  # noqa: ANN001
    with pytest.raises(UsageError) as e:
        fn()
    return str(e.value)


# -- parsing and finding commands ---------------------------------------------------


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("/set temperature 0.2", ("set", "temperature 0.2")),
        ("  /HELP  ", ("help", "")),
        ("/?", ("?", "")),
        ("hello /set", None),
        ("//etc/passwd is a file", None),
        ("/ a slash and a space", None),
        ("/set x\nsecond line", None),  # a multi-line text is a message
        ("/123", None),
    ],
)
def test_parse_tells_commands_from_messages(text: str, parsed: tuple[str, str] | None) -> None:
    assert commands.parse(text) == parsed


def test_a_double_slash_sends_one() -> None:
    assert commands.as_message("//usr is a folder") == "/usr is a folder"
    assert commands.as_message("plain") == "plain"


def test_find_by_name_alias_and_unique_prefix() -> None:
    assert commands.find("set").name == "set"
    assert commands.find("quit").name == "exit"
    assert commands.find("pa").name == "params"
    assert commands.find("sa").name == "save"


def test_an_unknown_command_suggests_the_closest() -> None:
    assert "did you mean /set?" in message_of(lambda: commands.find("sett"))
    assert "did you mean /retry?" in message_of(lambda: commands.find("retyr"))
    ambiguous = message_of(lambda: commands.find("re"))
    assert "/read" in ambiguous and "/reset" in ambiguous and "/retry" in ambiguous
    assert "/help lists the commands" in message_of(lambda: commands.find("zzz"))


def test_completion_of_commands_parameters_and_presets() -> None:
    assert commands.completions("/se") == (["/set"], "/se")
    assert commands.completions("/r")[0] == ["/read", "/reset", "/retry"]
    assert commands.completions("/set top") == (["top_p", "top_k", "top_logprobs"], "top")
    assert commands.completions("/set json") == (["json", "json_schema"], "json")
    assert "qa" in commands.completions("/preset q")[0]
    assert commands.completions("/read no") == (["<file>"], "no")
    assert commands.completions("hello") is None
    assert commands.completions("/set temperature 0") is None


# -- /set parsed as the flags parse them ----------------------------------------------


def flag_message(**option: object) -> str:
    """What the command line says for the same value given as its flag."""

    def run() -> None:
        make_layer("flag", CommonOptions(**option).flag_params())

    return message_of(run)


def set_message(name: str, text: str) -> str:
    return message_of(lambda: make_layer("flag", commands.parse_set(name, text)))


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("temperature", "abc"),
        ("temperature", "5"),
        ("temperature", "nan"),
        ("top_k", "1.5"),
        ("seed", str(2**64)),
        ("max_tokens", "0"),
        ("tier", "fast"),
        ("response_format", "yaml"),
    ],
)
def test_a_bad_set_value_gets_the_flags_own_message(name: str, text: str) -> None:
    assert set_message(name, text) == flag_message(**{name: text})


def test_set_files_and_stops_read_as_the_flags_do(tmp_path: Path) -> None:
    missing = tmp_path / "none.json"
    assert set_message("tools", str(missing)) == flag_message(tools=missing)
    schema = tmp_path / "s.json"
    schema.write_text('{"type": "object"}')
    rf = commands.parse_set("json_schema", str(schema))["response_format"]
    assert rf["type"] == "json_schema" and rf["json_schema"]["schema"] == {"type": "object"}
    assert commands.parse_set("stop", r'"\n\n" User:') == {"stop": ["\n\n", "User:"]}
    assert commands.parse_set("json", "on") == {"response_format": {"type": "json_object"}}
    assert commands.parse_set("stream", "off") == {"stream": False}
    assert "allowed: true or false" in message_of(lambda: commands.parse_set("stream", "maybe"))
    assert "did you mean temperature?" in message_of(lambda: commands.parse_set("temprature", "1"))


def test_names_are_taken_as_flags_write_them() -> None:
    assert commands.canonical("--top-p") == commands.canonical("Top_P") == "top_p"
    assert commands.unset_name("json_schema") == "response_format"


# -- parameter layers -------------------------------------------------------------------


def test_set_and_unset_keep_their_sources() -> None:
    p = ChatParams(Config(params={"top_p": 0.8}), "qa", {"temperature": 0.1})
    assert p.line("temperature") == "temperature = 0.1 (flag)"
    p.set({"temperature": 0.4, "top_k": 5})
    assert p.line("temperature") == "temperature = 0.4 (flag /set)"
    assert p.line("top_k") == "top_k = 5 (flag /set)"
    assert p.unset("temperature")
    assert p.line("temperature").endswith("(preset qa)")  # the preset's value comes back
    assert not p.unset("temperature")
    p.use_preset(None)
    assert p.line("top_p") == "top_p = 0.8 (config)"


def test_a_bad_change_changes_nothing() -> None:
    p = ChatParams(Config(), None, {"temperature": 0.1})
    before = (dict(p.values), p.resolved)
    with pytest.raises(UsageError, match="invalid temperature 5"):
        p.set({"temperature": 5.0})
    with pytest.raises(UsageError, match="it needs tools"):
        p.set({"tool_choice": "required"})
    with pytest.raises(UsageError, match="unknown preset 'qq'"):
        p.use_preset("qq")
    assert (p.values, p.resolved) == before and p.preset_name is None


def test_the_system_prompt_comes_from_one_place() -> None:
    p = ChatParams(Config(), "code", {}, None)
    assert p.resolved.system and p.system_line().startswith("system prompt (preset code)")
    p.set_system("Be terse.")
    assert p.resolved.system == "Be terse." and "(/system)" in p.system_line()
    p.set_system(None)
    assert "(preset code)" in p.system_line()
    p.use_preset(None)
    assert p.resolved.system is None


def test_a_leading_system_message_becomes_the_system_prompt() -> None:
    s = ChatSession(
        ChatParams(Config()),
        messages=[{"role": "system", "content": "Rules."}, {"role": "user", "content": "hi"}],
    )
    assert s.params.resolved.system == "Rules."
    assert s.window() == [{"role": "user", "content": "hi"}]


# -- the conversation ----------------------------------------------------------------------


def test_cut_replies_are_marked_but_sent_as_plain_messages() -> None:
    s = session()
    s.add_user("tell me")
    s.add_reply("once upon", None, cut=True)
    assert s.messages[-1]["cut"] is True
    assert s.window()[-1] == {"role": "assistant", "content": "once upon"}


def test_read_files_go_with_the_next_message_only() -> None:
    s = session()
    s.attachments.append(commands.Attachment("a.txt", "file text\n"))
    s.add_user("summarize")
    s.add_user("again")
    assert [m["content"] for m in s.messages] == ["file text\n\nsummarize", "again"]


def test_undo_retry_and_reset() -> None:
    s = session()
    with pytest.raises(UsageError, match="nothing to undo"):
        s.undo()
    for i in range(3):
        s.add_user(f"q{i}")
        s.add_reply(f"a{i}", None, cut=False)
    assert s.undo() == 2 and s.messages[-1]["content"] == "a1"
    old = s.take_reply()
    assert old == [{"role": "assistant", "content": "a1"}] and s.messages[-1]["content"] == "q1"
    s.put_back(old)
    assert s.messages[-1]["content"] == "a1"
    s.reset()
    assert s.messages == [] and s.start == 0
    with pytest.raises(UsageError, match="nothing to retry"):
        s.take_reply()


# -- trimming ----------------------------------------------------------------------------------


def test_reply_room_is_max_tokens_but_at_most_a_quarter() -> None:
    assert reply_room(1000, 16) == 16
    assert reply_room(1000, 4000) == 250
    assert reply_room(1000, None) == 250


def test_nothing_is_dropped_while_the_prompt_fits() -> None:
    calls: list[int] = []
    assert exchanges_to_drop(lambda k: calls.append(k) or 90, 5, 100) == 0
    assert calls == [0]


def test_trimming_goes_down_to_half_the_budget_like_a_context_shift() -> None:
    tokens = [200, 170, 140, 110, 80, 50, 20]  # 30 tokens an exchange
    assert exchanges_to_drop(lambda k: tokens[k], 6, 150) == 5  # 80 > 75, 50 <= 75
    # the half cannot be reached: the fewest drops that fit the budget
    big = [300, 250, 160, 140]
    assert exchanges_to_drop(lambda k: big[k], 3, 150) == 3
    assert exchanges_to_drop(lambda k: [300, 140, 120][k], 2, 150) == 1
    # nothing fits (None: not even the context): all but the newest go, the caller refuses
    assert exchanges_to_drop(lambda k: None, 3, 150) == 3
    assert exchanges_to_drop(lambda k: 500, 0, 150) == 0


def test_session_trim_drops_whole_exchanges_and_keeps_the_transcript() -> None:
    s = session()
    for i in range(6):
        s.add_user(f"q{i}")
        s.add_reply(f"a{i}", None, cut=False)
    s.add_user("new")

    def count(messages: list[dict]) -> int:
        assert messages[0]["role"] == "user"  # a window starts with a message, never mid-exchange
        return 10 * len(messages)

    assert s.trim(count, 100) == 4  # 130 tokens; half the budget is 50: 5 messages
    assert [m["content"] for m in s.window()] == ["q4", "a4", "q5", "a5", "new"]
    assert len(s.messages) == 13 and "4 dropped from the context" in s.summary()
    assert s.trim(count, 100) == 0  # it fits now: nothing more goes


# -- /read, /save and /load -------------------------------------------------------------------


def test_read_refuses_what_is_not_a_text_file(tmp_path: Path) -> None:
    (tmp_path / "bin.dat").write_bytes(b"\x89PNG\r\n\x1a\n\xff")
    (tmp_path / "ok.txt").write_text("héllo", encoding="utf-8")
    for name, words in (("nope.txt", "no such file"), (".", "is a directory"),
                        ("bin.dat", "not UTF-8 text")):  # fmt: skip
        path = tmp_path / name
        msg = message_of(lambda p=path: commands.read_text_file(str(p)))
        assert words in msg and str(path.resolve() if name == "." else path) in msg
    assert commands.read_text_file(f"'{tmp_path / 'ok.txt'}'")[1] == "héllo"


def a_conversation() -> ChatSession:
    p = ChatParams(Config(), "qa", {"temperature": 0.3}, "Be brief.")
    p.set({"top_k": 5, "stop": ["\n\n"]})
    s = ChatSession(p)
    s.add_user("line one\nline two")
    s.add_reply("an answer", None, cut=False)
    s.add_user("more")
    s.add_reply("partial", None, cut=True)
    return s


@pytest.mark.parametrize("suffix", [".yaml", ".yml", ".json"])
def test_save_then_load_restores_history_and_parameters(tmp_path: Path, suffix: str) -> None:
    s = a_conversation()
    path = save(tmp_path / f"chat{suffix}", s, "m")
    if suffix == ".json":
        assert json.loads(path.read_text())["oruel_chat"] == 1
    other = session(temperature=1.5)
    other.add_user("something else")
    apply(load(path), other, "m", lambda w: pytest.fail(w))
    assert other.messages == s.messages
    assert other.params.params == s.params.params
    assert other.params.resolved.system == "Be brief." and other.params.preset_name == "qa"
    assert other.params.line("top_k") == "top_k = 5 (flag /load)"
    assert to_data(other, "m") == to_data(s, "m")


def test_load_of_another_model_only_warns(tmp_path: Path) -> None:
    path = save(tmp_path / "c.yaml", a_conversation(), "model-a")
    warnings: list[str] = []
    apply(load(path), session(), "model-b", warnings.append)
    assert "model-a" in warnings[0] and "model-b" in warnings[0]


BAD = {
    "not a mapping": ("- 1\n- 2\n", "not a chat saved by /save"),
    "no version": ("messages: []\n", "not a chat saved by /save"),
    "new version": ("oruel_chat: 2\n", "reads version 1"),
    "unknown key": ("oruel_chat: 1\nextra: 1\n", "unknown key 'extra'"),
    "typed params": ("oruel_chat: 1\nparams: {temperature: '0.5'}\n", "invalid temperature '0.5'"),
    "unknown param": ("oruel_chat: 1\nparams: {temprature: 1}\n", "did you mean temperature"),
    "bad role": ("oruel_chat: 1\nmessages: [{role: robot, content: hi}]\n", "messages[0]: role 'robot'"),
    "bad content": ("oruel_chat: 1\nmessages: [{role: user, content: 3}]\n", "content must be a string"),
    "message key": ("oruel_chat: 1\nmessages: [{role: user, content: a, x: 1}]\n", "unknown key 'x'"),
    "not yaml": ("oruel_chat: [1\n", "not valid YAML at line"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_transcript_changes_nothing_and_names_the_file(tmp_path: Path, case: str) -> None:
    text, words = BAD[case]
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    s = a_conversation()
    before = to_data(s, "m")
    msg = message_of(lambda: apply(load(path), s, "m", print))
    assert words in msg and str(path) in msg
    assert to_data(s, "m") == before


@pytest.mark.parametrize(
    ("text", "line"),
    [("bogus: [1", 1), ("bogus: [1\n", 1), ("oruel_chat: 1\nmessages: [1\n\n", 2),
     ("oruel_chat: 1\nx: : y\nz: 1\n", 2)],
)  # fmt: skip
def test_bad_yaml_names_the_line_that_holds_the_problem(tmp_path: Path, text: str, line: int):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    assert message_of(lambda: load(path)).endswith(f": not valid YAML at line {line}")


def test_a_transcript_the_session_refuses_changes_nothing(tmp_path: Path) -> None:
    """Each value valid alone, the whole not: tool_choice without tools; an unknown preset."""
    s = a_conversation()
    before = to_data(s, "m")
    for text, words in (
        ("oruel_chat: 1\nparams: {tool_choice: required}\nmessages: [{role: user, content: x}]\n",
         "it needs tools"),
        ("oruel_chat: 1\npreset: nosuch\n", "unknown preset 'nosuch'"),
    ):  # fmt: skip
        path = tmp_path / "t.yaml"
        path.write_text(text)
        msg = message_of(lambda p=path: apply(load(p), s, "m", print))
        assert words in msg and str(path) in msg
        assert to_data(s, "m") == before


def test_file_names_and_formats(tmp_path: Path) -> None:
    s = a_conversation()
    assert "name a .yaml, .yml or .json" in message_of(lambda: save(tmp_path / "c.txt", s, "m"))
    folder = tmp_path / "d.json"
    folder.mkdir()
    assert "is a directory" in message_of(lambda: load(folder))
    assert "is a directory" in message_of(lambda: save(folder, s, "m"))
    assert "no such file" in message_of(lambda: load(tmp_path / "none.yaml"))
    json_path = tmp_path / "c.json"
    json_path.write_text("{not json")
    assert "not valid JSON" in message_of(lambda: load(json_path))
    multi = dumps(to_data(s, "m"), "yaml")
    # a multi-line message reads as a block
    assert "content: |-\n    line one\n    line two" in multi
    assert from_text(multi, "yaml", Path("x.yaml")).messages == s.messages


# -- input blocks and the stats line --------------------------------------------------------


def lines(*items: str):  # noqa: ANN201 - a read(first) function over scripted lines
    it = iter(items)
    firsts: list[bool] = []

    def read(first: bool) -> str:
        firsts.append(first)
        try:
            return next(it)
        except StopIteration:
            raise EOFError from None

    read.firsts = firsts  # type: ignore[attr-defined]
    return read


def test_a_triple_quote_block_is_one_message() -> None:
    from oruel_cli.chat.repl import read_message

    assert read_message(lines("just a line", "next")) == "just a line"
    block = lines('"""', "first", "", "  indented", '"""', "after")
    assert read_message(block) == "first\n\n  indented"
    assert block.firsts == [True, False, False, False, False]  # continuation prompts
    assert read_message(lines('"""opens here', 'and closes"""')) == "opens here\nand closes"
    assert read_message(lines('"""one line"""')) == "one line"
    assert read_message(lines('"""', "the end of input", "closes it")) == (
        "the end of input\ncloses it"
    )
    with pytest.raises(EOFError):
        read_message(lines())


def test_the_stats_line_says_what_was_decoded_and_cached() -> None:
    from oruel_cli.chat.repl import stats_line
    from oruel_cli.engine.reply import Completion

    comp = Completion(
        id="x", model="m", content="hi", finish_reason="stop", prompt_tokens=100,
        completion_tokens=21, seconds=1.2, first_token_seconds=0.2, cached_tokens=80,
    )  # fmt: skip
    assert stats_line(comp, 1000) == (
        "21 tokens · 20.0 tok/s · first token 0.20 s · prompt 20 new + 80 cached · "
        "context 12% of 1000 · finish: stop"
    )
    short = stats_line(comp, 1000, width=90)
    assert len(short) <= 90 and "prompt 20 new + 80 cached" in short and short.endswith("stop")
    tiny = stats_line(comp, 1000, width=79)  # an 80-column terminal
    assert len(tiny) <= 79 and "20 new + 80 cached" in tiny and "12%" in tiny


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("/srv/models/SmolLM2-135M-Instruct.Q4_1.gguf", "SmolLM2-135M-Instruct.Q4_1.gguf"),
        ("meta-llama/Llama-3.1-8B-Instruct", "meta-llama/Llama-3.1-8B-Instruct"),
        ("llama-4-maverick", "llama-4-maverick"),
    ],
)
def test_the_banner_names_a_gguf_path_by_its_file_name(name, shown):
    from oruel_cli.chat.repl import shown_model

    assert shown_model(name) == shown
