"""The slash commands: a table of names, usages and help, and one small
function each. A command's bad input raises UsageError; the loop prints its
message and the session goes on.

`/set` parses a value exactly as the command line parses its flag (the same
code: params/values.py), so a bad value gets the flag's own message.
"""

from __future__ import annotations

import difflib
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import UsageError
from ..params.model import PARAM_NAMES
from ..params.values import (
    FALSE_WORDS,
    allowed,
    parse_bool,
    parse_name,
    parse_value,
    unknown_name_message,
    validate_params,
)
from ..params.values import canonical_name as canonical
from .files import read_text_file
from .state import Attachment

if TYPE_CHECKING:
    from .repl import Chat


class EndChat(Exception):
    """/exit: leave the session (exit 0)."""


@dataclass(frozen=True)
class Command:
    name: str
    usage: str  # the argument, as /help shows it
    help: str
    run: Callable[[Chat, str], None]


# -- parsing a line --------------------------------------------------------------


def parse(text: str) -> tuple[str, str] | None:
    """(name, argument) when `text` is a command: one line starting with '/'
    and a letter ('/?' too); else None, and the text is a message ('//' at the
    start sends a message that starts with '/')."""
    line = text.strip()
    if "\n" in line or not line.startswith("/") or line.startswith("//"):
        return None
    if not (line[1:2].isalpha() or line[1:2] == "?"):
        return None
    name, _, arg = line[1:].partition(" ")
    return name.lower(), arg.strip()


def as_message(text: str) -> str:
    """The message a non-command line sends ('//x' sends '/x')."""
    return text[1:] if text.lstrip().startswith("//") else text


def find(name: str) -> Command:
    """A command by name, alias or unique prefix; else the closest as a hint."""
    name = ALIASES.get(name, name)
    if name in BY_NAME:
        return BY_NAME[name]
    starting = [c for c in BY_NAME if c.startswith(name)]
    if len(starting) == 1:
        return BY_NAME[starting[0]]
    close = difflib.get_close_matches(name, [*BY_NAME, *ALIASES], n=1, cutoff=0.5)
    if starting:  # an ambiguous prefix
        hint = f" (did you mean one of {', '.join('/' + c for c in starting)}?)"
    elif close:
        hint = f" (did you mean /{ALIASES.get(close[0], close[0])}?)"
    else:
        hint = ""
    raise UsageError(f"unknown command /{name}{hint}; /help lists the commands")


# -- /set values, parsed as the flags parse them -----------------------------------

# Names /set takes besides the parameters: the flags --json and --json-schema.
_EXTRA = ("json", "json_schema")
SET_NAMES: tuple[str, ...] = PARAM_NAMES + _EXTRA


def parse_set(name: str, text: str) -> dict[str, Any]:
    """/set NAME VALUE -> the parameter values it gives, parsed and checked by
    the flags' own parser (`--temperature abc` and `/set temperature abc`
    print the same message)."""
    name = parse_name(name, _EXTRA)
    if name == "stop":  # words, shell-quoted; \n and \t stand for a newline and a tab
        try:
            words = _words(text)
        except ValueError as e:
            raise UsageError(f"invalid stop {text!r}: {e} (allowed: {allowed('stop')})") from None
        stops = [_unescape(w) for w in words]
        validate_params({"stop": stops})
        return {"stop": stops}
    if name == "json":
        on = parse_bool(name, text)
        return {"response_format": {"type": "json_object" if on else "text"}}
    if name == "json_schema":
        from ..common.options import CommonOptions

        path = Path(_one_word(name, text)).expanduser()
        return CommonOptions(json_schema=path).flag_params()
    if name == "tools":
        text = _one_word(name, text)
    return {name: parse_value(name, text)}


def unset_name(name: str) -> str:
    """The parameter /unset NAME drops (json and json_schema set response_format)."""
    if name in _EXTRA:
        return "response_format"
    if name not in PARAM_NAMES:
        raise UsageError(unknown_name_message(name))
    return name


def _words(text: str) -> list[str]:
    """Shell-like words, quotes grouping, backslashes kept (for `_unescape`)."""
    lex = shlex.shlex(text, posix=True)
    lex.whitespace_split = True
    lex.escape = ""
    return list(lex)


def _one_word(name: str, text: str) -> str:
    try:
        words = _words(text)
    except ValueError:
        words = []
    if len(words) != 1:
        raise UsageError(f"/set {name} takes one file name (quote a name with spaces)")
    return words[0]


def _unescape(word: str) -> str:
    out, i = [], 0
    while i < len(word):
        if word[i] == "\\" and i + 1 < len(word) and word[i + 1] in "nt\\":
            out.append({"n": "\n", "t": "\t", "\\": "\\"}[word[i + 1]])
            i += 2
        else:
            out.append(word[i])
            i += 1
    return "".join(out)


# -- files -----------------------------------------------------------------------


# -- the commands ----------------------------------------------------------------


def _help(chat: Chat, arg: str) -> None:
    rows = [(f"/{c.name} {c.usage}".strip(), c.help) for c in COMMANDS]
    width = max(len(left) for left, _ in rows + list(KEYS))
    lines = [f"  {left:<{width}}  {right}" for left, right in rows]
    keys = [f"  {left:<{width}}  {right}" for left, right in KEYS]
    chat.say("\n".join(["Commands:", *lines, "Keys:", *keys]))


def _set(chat: Chat, arg: str) -> None:
    raw, _, text = arg.partition(" ")
    if not raw:
        raise UsageError(f"/set NAME VALUE; names: {', '.join(SET_NAMES)}")
    name = canonical(raw)
    if not text.strip():
        if name not in PARAM_NAMES:
            raise UsageError(unknown_name_message(name))
        chat.say(chat.session.params.line(name))
        return
    values = parse_set(name, text.strip())
    chat.session.params.set(values)
    for changed in values:
        chat.say(chat.session.params.line(changed))
    if "tier" in values:
        chat.say("the tier's parameters apply now; its model and runtime only when a chat starts")


def _unset(chat: Chat, arg: str) -> None:
    if not arg:
        raise UsageError("/unset NAME")
    name = unset_name(canonical(arg))
    params = chat.session.params
    if not params.unset(name):
        chat.say(f"{name} was not set by a flag, /load or /set; it stays: {params.line(name)}")
        return
    chat.say(params.line(name))


def _logprobs(chat: Chat, arg: str) -> None:
    """/logprobs N: each reply drawn with its tokens' probabilities and the N
    best alternatives at the least certain positions; /logprobs off: no more."""
    from ..common.options import CommonOptions

    params = chat.session.params
    word = arg.strip().lower()
    if not word:
        chat.say(f"{params.line('logprobs')}; {params.line('top_logprobs')}")
        return
    if word in FALSE_WORDS:
        values: dict[str, Any] = {"logprobs": False, "top_logprobs": None}
    else:
        values = CommonOptions(logprobs=arg.strip()).flag_params()
    params.set(values)
    shown = "on: each reply is shown with its probabilities" if values["logprobs"] else "off"
    chat.say(f"logprobs {shown}")


def _params(chat: Chat, arg: str) -> None:
    chat.show_params()


def _preset(chat: Chat, arg: str) -> None:
    params = chat.session.params
    if not arg:
        from ..presets import preset_names

        current = params.preset_name or "none"
        chat.say(f"preset: {current}; known: {', '.join(preset_names())} (none: no preset)")
        return
    name = None if arg.lower() == "none" else arg
    params.use_preset(name)
    if name is None:
        chat.say("no preset: parameters come from the config, flags and /set")
        return
    preset = params.resolver.preset(name)
    chat.say(f"preset {preset.name}" + (f": {preset.description}" if preset.description else ""))
    if preset.system and params.system is None:
        chat.say(params.system_line())


def _system(chat: Chat, arg: str) -> None:
    params = chat.session.params
    if arg == "-":
        params.set_system(None)
    elif arg:
        params.set_system(arg, "/system")
    chat.say(params.system_line())


def _read(chat: Chat, arg: str) -> None:
    path, text = read_text_file(arg)
    chat.session.attachments.append(Attachment(str(path), text))
    n = len(chat.session.attachments)
    more = f" ({n} files)" if n > 1 else ""
    chat.say(f"read {path} ({len(text):,} characters); it goes with your next message{more}")


def _reset(chat: Chat, arg: str) -> None:
    chat.session.reset()
    chat.new_conversation()
    chat.say("the conversation starts over (parameters and system prompt kept)")


def _undo(chat: Chat, arg: str) -> None:
    chat.session.undo()
    chat.say(f"dropped the last exchange; {chat.session.summary()} left")


def _retry(chat: Chat, arg: str) -> None:
    chat.retry()


def _save(chat: Chat, arg: str) -> None:
    from .transcript import save

    if not arg:
        raise UsageError("/save FILE (.yaml, .yml or .json)")
    path = save(Path(arg).expanduser(), chat.session, chat.model_name)
    chat.say(f"saved {chat.session.summary()} and the parameters to {path}")


def _load(chat: Chat, arg: str) -> None:
    from .transcript import apply, load

    if not arg:
        raise UsageError("/load FILE (.yaml, .yml or .json)")
    transcript = load(Path(arg).expanduser())
    apply(transcript, chat.session, chat.model_name, chat.warn)
    chat.new_conversation()
    chat.say(f"loaded {chat.session.summary()} and the parameters from {transcript.path}")


def _think(chat: Chat, arg: str) -> None:
    """/think show|hide: the model's thinking in full, or folded while it streams
    and summed up in one line after it."""
    word = arg.strip().lower()
    if word not in ("show", "hide", ""):
        raise UsageError(f"/think takes show or hide, not {arg.strip()!r}")
    if word:
        chat.show_thinking = word == "show"
    chat.say(f"thinking is {'shown' if chat.show_thinking else 'hidden'}")


def _exit(chat: Chat, arg: str) -> None:
    raise EndChat()


COMMANDS: tuple[Command, ...] = (
    Command("help", "", "this list", _help),
    Command(
        "set", "NAME VALUE", "set a parameter, checked as its flag is: /set temperature 0.2", _set
    ),
    Command("unset", "NAME", "drop what a flag, /load or /set gave it", _unset),
    Command("params", "", "every parameter and its source, then the runtime", _params),
    Command(
        "logprobs",
        "N|off",
        "show each reply's token probabilities, N best alternatives",
        _logprobs,
    ),  # fmt: skip
    Command("think", "show|hide", "show the model's thinking in full, or fold it", _think),
    Command("preset", "NAME", "use a preset (none: no preset); flags and /set still win", _preset),
    Command("system", "TEXT", "set the system prompt; '-' drops it; alone: show it", _system),
    Command("read", "FILE", "a text file's content goes with your next message", _read),
    Command("reset", "", "start the conversation over", _reset),
    Command("undo", "", "drop the last exchange", _undo),
    Command("retry", "", "regenerate the last reply (a new seed unless one is set)", _retry),
    Command("save", "FILE", "save the conversation and parameters (.yaml, .yml, .json)", _save),
    Command("load", "FILE", "load a saved conversation and its parameters", _load),
    Command("exit", "", "leave the chat (Ctrl-D too)", _exit),
)
BY_NAME: dict[str, Command] = {c.name: c for c in COMMANDS}
ALIASES = {"quit": "exit", "q": "exit", "?": "help"}

KEYS: tuple[tuple[str, str], ...] = (
    ("Enter", "send"),
    ("Esc Enter, Ctrl-J", "a new line; a paste is one message"),
    ('"""', "alone on a line: starts and ends a multi-line message"),
    ("Up, Ctrl-R", "earlier messages (kept between chats); Ctrl-R searches them"),
    ("Tab", "complete commands, parameter and preset names, files"),
    ("Ctrl-C", "stop a reply (it stays, marked cut); at the prompt: clear the line"),
    ("Ctrl-D", "leave the chat"),
)


# -- completion ------------------------------------------------------------------

_FILE_COMMANDS = ("read", "save", "load")


def completions(text: str) -> tuple[list[str], str] | None:
    """What Tab offers for the text before the cursor: (candidates, the word
    they replace), or None. File names are the terminal's to complete: the
    candidates are then ["<file>"]."""
    if not text.startswith("/") or "\n" in text:
        return None
    if " " not in text:
        word = text[1:].lower()
        return ["/" + n for n in BY_NAME if n.startswith(word)], text
    head, _, rest = text.partition(" ")
    name = ALIASES.get(head[1:].lower(), head[1:].lower())
    if name in _FILE_COMMANDS:
        return ["<file>"], rest
    if " " in rest:
        return None
    if name == "set":
        return [n for n in SET_NAMES if n.startswith(canonical(rest))], rest
    if name == "unset":
        return [n for n in PARAM_NAMES if n.startswith(canonical(rest))], rest
    if name == "preset":
        from ..presets import preset_names

        return [n for n in [*preset_names(), "none"] if n.startswith(rest)], rest
    return None
