"""chat and the reply log on the real model: every reply of a (piped) chat is a
row with its parameters and sources, and `chat -c` / `--cid` carry a logged
conversation on with its messages in the model's context."""

from __future__ import annotations

import json
import subprocess

import pytest
from support.cli_proc import oruel as run_oruel

from oruel_cli.logs.store import LogStore

pytestmark = pytest.mark.model

# One thread: chat tests share two cores with whatever else runs.
GREEDY = ["--threads", "1", "--temperature", "0", "--max-tokens", "30"]
REMEMBER = "My name is Zorbo. Please remember it."
QUESTION = "What is my name?"


def oruel(*args: str, script: str | None = None) -> subprocess.CompletedProcess[str]:
    return run_oruel(*args, stdin=script, env={"NO_COLOR": "1"})


def chat(*args: str, lines: list[str]) -> subprocess.CompletedProcess[str]:
    res = oruel("chat", *args, script="\n".join(lines) + "\n")
    assert res.returncode == 0, res.stderr
    assert "Traceback" not in res.stderr
    return res


def logged(*args: str) -> list[dict]:
    """The log's replies, oldest first."""
    res = oruel("logs", "-n", "0", "--json", *args)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)[::-1]


def test_every_chat_reply_is_logged_and_reset_starts_a_new_conversation():
    chat(*GREEDY, "-p", "qa", lines=["Name a fruit.", "/set top_k 5", "Name another.",
                                     "/reset", "Name a color."])  # fmt: skip
    first, second, third = logged()
    assert [r["command"] for r in (first, second, third)] == ["chat"] * 3
    assert first["conversation_id"] == second["conversation_id"] != third["conversation_id"]
    assert second["messages"] == [
        {"role": "user", "content": "Name a fruit."},
        {"role": "assistant", "content": first["reply"]},
        {"role": "user", "content": "Name another."},
    ]
    assert third["messages"] == [{"role": "user", "content": "Name a color."}]
    assert first["params"]["temperature"] == {"value": 0.0, "source": "flag"}
    assert first["params"]["top_p"] == {"value": 0.9, "source": "preset qa"}
    assert "top_k" not in first["params"] or first["params"]["top_k"]["source"] != "flag"
    assert second["params"]["top_k"] == {"value": 5, "source": "flag /set"}  # labelled
    assert first["system"]  # the qa preset's system prompt
    assert all(r["reply"].strip() for r in (first, second, third))


def test_chat_c_carries_on_with_the_earlier_turn_in_context():
    chat(*GREEDY, lines=[REMEMBER])
    res = chat("--threads", "1", "-c", "--show-params", lines=[QUESTION])
    turn1, turn2 = logged()
    cid = turn1["conversation_id"]
    assert turn2["conversation_id"] == cid and turn2["command"] == "chat"
    assert turn2["messages"] == [
        {"role": "user", "content": REMEMBER},
        {"role": "assistant", "content": turn1["reply"]},
        {"role": "user", "content": QUESTION},
    ]
    # the parameters carry on, labelled with the conversation they come from
    assert f"max_tokens = 30 (conversation {cid})" in res.stderr
    assert turn2["params"]["temperature"] == {"value": 0.0, "source": f"conversation {cid}"}
    # piped, one line on stderr says a logged conversation is carried on
    assert f"carrying on conversation {cid}: 1 exchange" in res.stderr
    assert "Zorbo" in res.stdout  # greedy: the model reads the earlier turn back ...
    fresh = chat(*GREEDY, "--no-log", lines=[QUESTION])
    assert "Zorbo" not in fresh.stdout  # ... which it could not have guessed


def test_cid_names_the_conversation_and_ask_c_follows_a_chat():
    chat(*GREEDY, lines=["Name a fruit."])
    chat(*GREEDY, lines=["Name a color."])
    fruit, color = logged()
    chat("--threads", "1", "--cid", fruit["conversation_id"], "--max-tokens", "5",
         lines=["Another one?"])  # fmt: skip
    last = logged()[-1]
    assert last["conversation_id"] == fruit["conversation_id"]
    assert [m["content"] for m in last["messages"] if m["role"] == "user"] == [
        "Name a fruit.", "Another one?"
    ]  # fmt: skip
    assert last["params"]["max_tokens"] == {"value": 5, "source": "flag"}  # the flag wins
    res = oruel("ask", "-c", "--threads", "1", "And one more?")  # ask -c: the latest, a chat
    assert res.returncode == 0, res.stderr
    newest = logged()[-1]
    assert newest["command"] == "ask" and newest["conversation_id"] == fruit["conversation_id"]
    bad = oruel("chat", "--cid", "nosuchconversation", script="hi\n")
    assert bad.returncode == 2 and "no conversation 'nosuchconversation'" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_chat_no_log_writes_nothing():
    res = chat(*GREEDY, "--no-log", lines=["Name a fruit."])
    assert res.stdout.strip()
    assert not LogStore().path.exists()
