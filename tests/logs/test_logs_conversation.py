"""Carrying a logged conversation on, without a model: which parameters carry,
which conversation is the latest, names."""

from __future__ import annotations

import pytest
from support.log_rows import insert, make_row

from oruel_cli.config import Config
from oruel_cli.errors import UsageError
from oruel_cli.logs.conversation import (
    Conversation,
    carry_on,
    load_conversation,
    name_conversation,
)
from oruel_cli.params.layering import ParamResolver


def test_nothing_to_carry_on_is_a_new_conversation(capsys):
    assert carry_on(False, None) == Conversation(None)
    assert carry_on(True, None) == Conversation(None)  # -c with nothing logged
    assert "starting a new one" in capsys.readouterr().err
    with pytest.raises(UsageError, match="no conversation 'nope'"):
        carry_on(False, "nope")


def test_the_latest_is_the_newest_ask_or_chat_reply_not_a_batch_line():
    insert(make_row("first", "one", conversation_id="aaa"))
    insert(make_row("second", "two", conversation_id="bbb"))
    insert(make_row("a line", "three", conversation_id="ccc", command="run"))
    conv = load_conversation()
    assert conv is not None and conv.id == "bbb"
    assert conv.messages == [
        {"role": "user", "content": "second"},
        {"role": "assistant", "content": "two"},
    ]
    assert load_conversation("aaa").messages[0]["content"] == "first"  # type: ignore[union-attr]


def test_flags_and_preset_values_carry_defaults_and_config_do_not():
    insert(make_row(flags={"temperature": 0.0, "seed": 7}, conversation_id="aaa"))
    conv = carry_on(True, None)
    assert conv.carried_values() == {"temperature": 0.0, "seed": 7, "top_p": 0.9}
    assert conv.carried_values(preset_given=True) == {"temperature": 0.0, "seed": 7}
    resolver = ParamResolver(Config(params={"min_p": 0.1}), None, {"seed": 9}, None, conv.layer())
    eff = resolver.resolve().effective
    assert (eff.params.temperature, eff.sources["temperature"]) == (0.0, "conversation aaa")
    assert (eff.params.seed, eff.sources["seed"]) == (9, "flag")  # the flags win
    assert (eff.params.min_p, eff.sources["min_p"]) == (0.1, "config")
    assert eff.sources["top_p"] == "conversation aaa"


def test_a_value_this_version_refuses_is_dropped_with_a_warning(capsys):
    conv = Conversation(
        "aaa", params={"temperature": {"value": 9, "source": "flag"},
                       "top_k": {"value": 3, "source": "flag"}},
    )  # fmt: skip
    assert conv.carried_values() == {"top_k": 3}
    assert "temperature does not carry on" in capsys.readouterr().err


def test_a_gone_model_falls_back_to_the_default(tmp_path, capsys):
    kept = tmp_path / "m.gguf"
    kept.write_bytes(b"GGUF")
    assert Conversation("a", model_path=str(kept)).model(None) == str(kept)
    assert Conversation("a", model_path=str(kept)).model("other") == "other"
    assert Conversation("a", model_path=str(tmp_path / "gone.gguf")).model(None) is None
    assert "is gone" in capsys.readouterr().err


def test_names():
    insert(make_row(conversation_id="aaa"))
    insert(make_row(conversation_id="bbb"))
    name_conversation("aaa", "trip plans")
    assert load_conversation("trip plans").id == "aaa"  # type: ignore[union-attr]
    with pytest.raises(UsageError, match="already named"):
        name_conversation("bbb", "trip plans")
    with pytest.raises(UsageError, match="no conversation"):
        name_conversation("zzz", "other")
