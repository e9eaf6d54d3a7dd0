"""`oruel chat` end to end: the real CLI on a pseudo-terminal (pexpect), on the
embedded model, and with a piped stdin.

The terminal's own environment: TERM=xterm-256color, no NO_COLOR, the
private config and data folders of conftest's isolation, and
PROMPT_TOOLKIT_NO_CPR=1 (pexpect does not answer prompt_toolkit's
cursor-position requests). Every chat runs with one thread: on a shared
machine of two cores, two llama.cpp threads spin against other processes
and a reply can take seconds instead of milliseconds. A wait for something
to show fails after ORUEL_CHAT_TEST_WAIT seconds (180), with the screen's tail.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from support.chat_term import (
    CTRL_C,
    CTRL_D,
    CTRL_J,
    ESC_ENTER,
    FAST,
    STATS,
    start,
)

pytestmark = pytest.mark.model


def cli_error(*args: str) -> str:
    """The one-line message of `oruel chat ARGS` refused before any model loads."""
    res = subprocess.run(
        [sys.executable, "-m", "oruel_cli", "chat", *args],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert res.returncode == 2, res.stderr
    return res.stderr.strip().removeprefix("oruel: error: ")


def test_turns_reuse_the_cache_and_set_speaks_like_the_flags(isolated_env: Path) -> None:
    t = start(*FAST)
    first = t.turn("Hi, my name is Ann.")
    second = t.turn("What is my name?")
    assert first.group(3) == "0" and first.group(5) in ("stop", "length")
    # the second prompt holds the first exchange: longer, and mostly read from the cache
    assert int(second.group(2)) + int(second.group(3)) > int(first.group(2)) + 8
    assert int(second.group(3)) > int(first.group(2))
    assert int(second.group(2)) < int(second.group(3))
    assert first.group(4) == "8192"

    t.command("/params", r"max_tokens = 8 \(flag\)[\s\S]*threads = 1 \(flag\)[\s\S]*system prompt")
    t.command("/set temperature 0.2", re.escape("temperature = 0.2 (flag /set)"))
    t.command("/set --top-k 5", re.escape("top_k = 5 (flag /set)"))
    t.command("/params", re.escape("temperature = 0.2 (flag /set)"))
    for value in ("abc", "5", "inf"):  # the flag's own message, word for word
        t.command(f"/set temperature {value}", re.escape(cli_error("--temperature", value)))
    t.command("/set top_k 1.5", re.escape(cli_error("--top-k", "1.5")))
    t.command("/set tier fast", re.escape(cli_error("--tier", "fast")))
    t.command("/set tools /no/such.json", re.escape(cli_error("--tools", "/no/such.json")))
    t.command("/set tool_choice required", re.escape(cli_error("--tool-choice", "required")))
    t.command("/set temprature 1", r"unknown parameter 'temprature' \(did you mean temperature\?\)")
    t.command("/set stop \\n\\n User:", re.escape("""stop = ["\\n\\n", "User:"] (flag /set)"""))
    t.command("/params", re.escape("temperature = 0.2 (flag /set)"))  # bad values changed nothing
    t.command("/unset temperature", re.escape("temperature = 0.7 (default)"))
    t.command("/unset max_tokens", re.escape("max_tokens = not set (default)"))
    t.command("/unset max_tokens", "was not set by a flag")
    t.command("/unset colour", "unknown parameter 'colour'")
    t.command("/set max_tokens 8", re.escape("max_tokens = 8 (flag /set)"))

    t.command("/preset qa", r"preset qa")
    t.command("/params", re.escape("top_p = 0.9 (preset qa)"))
    t.command("/preset summarise", r"unknown preset 'summarise' \(did you mean summarization\?\)")
    t.command("/preset none", "no preset")
    t.command("/system You answer in French.", re.escape("system prompt (/system): You answer"))
    t.command("/system", re.escape("system prompt (/system): You answer in French."))
    before = int(second.group(2)) + int(second.group(3))
    third = t.turn("Say hello.")  # a new system prompt: the cache is reused only up to it
    assert int(third.group(2)) > 10 and int(third.group(2)) + int(third.group(3)) > before
    t.command("/system -", re.escape("system prompt: none set"))

    t.command("/sett x", r"unknown command /sett \(did you mean /set\?\)")
    t.command("/re", r"did you mean one of /read, /reset, /retry\?")
    t.command("/help", r"/retry[\s\S]*Ctrl-D")
    t.send("/pa\t", enter=False)  # Tab completes the command
    t.wait(lambda: any("/params" in row for row in t.rows()), "Tab's completion")
    t.command("", r"every parameter|temperature = ")
    assert t.close_ok() == 0
    history = isolated_env / "xdg-data" / "oruel" / "chat_history"
    assert "What is my name?" in history.read_text()  # kept in the user data folder


def test_files_undo_retry_reset_save_and_load(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("The secret word is banana.\n" * 20)
    (tmp_path / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe")
    t = start(*FAST, "-p", "qa", cwd=tmp_path)
    short = t.turn("Hello.")
    t.command("/read nothing.txt", re.escape("/read nothing.txt: no such file"))
    t.command(f"/read {tmp_path}", re.escape(f"/read {tmp_path}: is a directory"))
    t.command("/read image.png", re.escape("/read image.png: not UTF-8 text"))
    t.command("/read notes.txt", r"read notes\.txt \(540 characters\); it goes with your next")
    with_file = t.turn("What is the secret word?")
    assert int(with_file.group(2)) > 120  # the file's 20 lines went with the message
    t.command("/undo", r"dropped the last exchange; 1 exchange left")
    t.turn("Tell me a joke.")
    retried = t.turn("/retry")
    assert int(retried.group(2)) <= 2  # only the reply is redone: the prompt is all cached
    t.command("/set top_k 3", "top_k = 3")
    t.command("/system Be brief.", "Be brief")
    t.command("/save chat.yaml", r"saved 2 exchanges and the parameters to chat\.yaml")
    saved = (tmp_path / "chat.yaml").read_text()

    t.command("/reset", "starts over")
    t.command("/undo", "nothing to undo")
    t.command("/set top_k 9", "top_k = 9")
    t.command("/preset creative", "preset creative")
    # bad files: each named, nothing changed
    (tmp_path / "bad.yaml").write_text("oruel_chat: 1\nparams: {temperature: hot}\n")
    (tmp_path / "broken.json").write_text("{")
    for name, words in (("missing.yaml", "no such file"), ("bad.yaml", "invalid temperature 'hot'"),
                        ("broken.json", "not valid JSON"), ("notes.txt", "name a .yaml")):  # fmt: skip
        t.command(f"/load {name}", re.escape(f"/load {name}: ") + ".*" + re.escape(words))
    t.command("/params", re.escape("top_k = 9 (flag /set)"))
    t.command("/load chat.yaml", r"loaded 2 exchanges and the parameters from chat\.yaml")
    t.command("/params", r"top_k = 3 \(flag /load\)[\s\S]*system prompt \(/load\): Be brief\.")
    t.command("/params", re.escape("top_p = 0.9 (preset qa)"))
    t.command("/save again.yaml", "saved 2 exchanges")
    assert (tmp_path / "again.yaml").read_text() == saved
    after = t.turn("And one more?")  # the loaded history is what is sent
    assert int(after.group(2)) + int(after.group(3)) > int(short.group(2)) + 20
    assert t.close_ok() == 0
    messages = yaml.safe_load(saved)["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant"] * 2
    assert messages[2]["content"] == "Tell me a joke."


def test_keys_multi_line_ctrl_c_and_ctrl_d(tmp_path: Path) -> None:
    t = start("--threads", "1", "--max-tokens", "4", cwd=tmp_path)
    t.send("one" + ESC_ENTER + "two" + CTRL_J + "three")
    t.expect(STATS.pattern)
    t.prompt()
    t.send("\x1b[200~pasted a\npasted b\x1b[201~")  # a bracketed paste, then Enter
    t.expect(STATS.pattern)
    t.prompt()
    t.send('"""')
    t.expect(re.escape("… "))
    t.send("in a block")
    t.send('closed"""')
    t.expect(STATS.pattern)
    t.prompt()

    t.command("/set max_tokens 3000", "max_tokens = 3000")
    t.send("Write a long essay about the history of the sea.")
    echo = t.wait(
        lambda: next((i for i, r in enumerate(t.rows()) if "essay about the history" in r), None),
        "the message on the screen",
    )
    t.wait(  # the first reply text on the screen, then Ctrl-C
        lambda: any(re.search(r"[A-Za-z]{2}", r) for r in t.rows()[int(echo) + 1 :]),
        "the reply's first words",
    )
    t.send(CTRL_C, enter=False)
    cut = t.expect(STATS.pattern, timeout=30)
    assert cut.group(5) == "cancelled" and 0 < int(cut.group(1)) < 3000
    t.expect("cut: the partial reply stays in the history")
    t.prompt()
    go_on = t.turn("Thanks.")  # the session goes on, the cut reply in its cache
    assert int(go_on.group(3)) > int(cut.group(2)) + int(cut.group(3))

    t.send("never sent", enter=False)
    t.wait(lambda: any("never sent" in r for r in t.rows()), "the typed line")
    t.send(CTRL_C, enter=False)  # at the prompt: the line is dropped
    t.prompt()
    t.command("/save keys.json", "saved 5 exchanges")
    messages = json.loads((tmp_path / "keys.json").read_text())["messages"]
    users = [m["content"] for m in messages if m["role"] == "user"]
    assert users[:3] == ["one\ntwo\nthree", "pasted a\npasted b", "in a block\nclosed"]
    assert "never sent" not in json.dumps(messages)
    cut_reply = messages[7]
    assert cut_reply["cut"] is True and cut_reply["content"].strip()
    assert t.close_ok() == 0


def test_keys_typed_ahead_are_the_next_input() -> None:
    """A line and a Ctrl-D typed while a reply streams (the terminal's line
    discipline would turn that Ctrl-D into an end of file, lost before the
    prompt reads) are read by the next prompts: the line is sent, the Ctrl-D
    ends the chat. Then Ctrl-D typed the moment /params's output shows."""
    t = start("--threads", "1", "--temperature", "0", "--max-tokens", "40")
    t.send("Write a long story about a fox.")
    t.expect("fox")  # the echo of the message
    t.expect(r"[A-Za-z]{3}")  # the reply is streaming: type ahead
    t.send("Thanks.")
    t.send(CTRL_D, enter=False)
    t.expect(STATS.pattern)
    t.expect(STATS.pattern)  # the line typed ahead was sent
    t.wait(lambda: not t.child.isalive() or None, "the typed-ahead Ctrl-D to end the chat", 60)
    t.child.close()
    assert t.child.exitstatus == 0
    t = start("--threads", "1")
    t.send("/params")
    t.expect("system prompt: ")
    t.send(CTRL_D, enter=False)
    t.wait(lambda: not t.child.isalive() or None, "Ctrl-D after /params to end the chat", 60)
    t.child.close()
    assert t.child.exitstatus == 0


def test_a_long_conversation_drops_its_oldest_exchanges() -> None:
    t = start("--threads", "1", "--temperature", "0", "--max-tokens", "16", "--ctx", "256")
    notices = 0
    for i in range(8):
        t.send(f"Question {i}: tell me one fact about the number {i}.")
        m = t.expect(r"dropped the (\d+) oldest exchanges? to fit the context \(256 tokens, 16 kept"
                     r" for the reply\)|" + STATS.pattern)  # fmt: skip
        if m.group(0).startswith("dropped"):
            notices += 1
            stats = t.expect(STATS.pattern)
            assert int(stats.group(2)) + int(stats.group(3)) <= 256 - 16
        t.prompt()
    assert notices >= 1
    t.command("word " * 400, r"message not sent: the prompt is \d+ tokens; it does not fit the"
              r" context of 256 tokens")  # fmt: skip
    t.turn("Still there?")  # the session goes on
    t.child.kill(signal.SIGTERM)  # SIGTERM ends the chat: exit 130, one line
    t.expect("oruel: interrupted", timeout=30)
    t.wait(lambda: not t.child.isalive() or None, "the end of the chat", 30)
    t.child.close()
    assert t.child.exitstatus == 130 and "Traceback" not in t.plain()


def test_a_piped_script_is_a_conversation(tmp_path: Path) -> None:
    script = "\n".join(
        [
            "Hi there.",
            "/set top_k 3",
            "/nosuch",
            "/set temperature abc",
            '"""',
            "Two lines",
            "in one message.",
            '"""',
            "/save piped.json",
            "Bye.",
        ]  # fmt: skip
    )
    res = subprocess.run(
        [sys.executable, "-m", "oruel_cli", "chat", *FAST, "--show-params"],
        input=script + "\n", capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    # the script goes on past its bad lines, then says which they were: exit 2
    assert res.returncode == 2, res.stderr
    assert "error: line 3: unknown command /nosuch" in res.stderr
    assert "error: line 4: invalid temperature 'abc'" in res.stderr
    assert res.stderr.rstrip().splitlines()[-1] == (
        "oruel: error: 2 lines of the script refused: line 3 (/nosuch), "
        "line 4 (/set temperature abc)"
    )
    assert res.stderr.startswith("temperature = 0.0 (flag)")  # --show-params before anything
    stats = STATS.findall(res.stderr)
    assert len(stats) == 3 and int(stats[1][2]) > 0 and int(stats[2][2]) > int(stats[1][2])
    assert "top_k = 3 (flag /set)" in res.stderr and "unknown command /nosuch" in res.stderr
    assert res.stdout.strip() and "\x1b" not in res.stdout  # replies alone, plain
    assert "Ctrl-D: quit" not in res.stderr  # no banner without a terminal
    messages = json.loads((tmp_path / "piped.json").read_text())["messages"]
    assert messages[2]["content"] == "Two lines\nin one message."


def test_refusals_before_any_model_loads() -> None:
    assert "invalid --endpoint 'x:1'" in cli_error("--endpoint", "x:1")
    assert "invalid temperature 'hot'" in cli_error("--temperature", "hot")
    assert "unknown preset" in cli_error("-p", "nosuch")
