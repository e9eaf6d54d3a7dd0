"""`oruel logs`: list, search, show, remove and export the logged replies; on/off.

Thin: options in, oruel_cli.logs does the work. Nothing here imports the
engine or llama_cpp, so these commands start as fast as `oruel params`.
"""

from __future__ import annotations

from typing import Annotated

import typer

from ..errors import UsageError
from .help import examples

logs_app = typer.Typer(
    help="The reply log: every reply of ask and chat (and of run --log, serve --log), "
    "kept and searchable.",
    invoke_without_command=True,
    epilog=examples("oruel logs", "oruel logs -q citrus -n 0", "oruel logs show 12"),
)

Count = Annotated[
    int, typer.Option("-n", "--count", metavar="INTEGER", help="How many, newest first (0: all).")
]
Query = Annotated[
    str | None,
    typer.Option(
        "-q", "--query", metavar="TEXT", help="Full-text search over prompts and replies."
    ),
]
Model = Annotated[
    str | None, typer.Option("-m", "--model", metavar="MODEL", help="Only replies of this model.")
]
Cid = Annotated[
    str | None, typer.Option("--cid", metavar="ID", help="Only this conversation (ID or name).")
]
Since = Annotated[
    str | None, typer.Option("--since", metavar="DATE", help="From this ISO date or time on.")
]
Until = Annotated[
    str | None, typer.Option("--until", metavar="DATE", help="Up to this ISO date or time.")
]
AsJson = Annotated[bool, typer.Option("--json", help="A JSON array, one object per reply.")]
Usage = Annotated[bool, typer.Option("-u", "--usage", help="Show token usage and times.")]
Jobs = Annotated[bool, typer.Option("--jobs", help="List batch jobs instead of replies.")]


def _filters(query: str | None, model: str | None, cid: str | None, since: str | None,
             until: str | None):  # fmt: skip  # noqa: ANN202 - logs.query.Filters
    from ..logs.dates import parse_when
    from ..logs.query import Filters

    typed = {"-q": query, "-m": model, "--cid": cid, "--since": since, "--until": until}
    return Filters(
        shown={flag: text for flag, text in typed.items() if text is not None},
        query=query,
        model=model,
        cid=cid,
        since=parse_when(since, "--since") if since is not None else None,
        until=parse_when(until, "--until", end_of_day=True) if until is not None else None,
    )


def _list(count: int, query: str | None, model: str | None, cid: str | None,
          since: str | None, until: str | None, as_json: bool, usage: bool,
          jobs: bool) -> None:  # fmt: skip
    from ..logs.listing import list_jobs, list_replies

    f = _filters(query, model, cid, since, until)
    if jobs:
        list_jobs(f, count, as_json)
    else:
        list_replies(f, count, as_json, usage)


@logs_app.callback(invoke_without_command=True)
def logs(
    ctx: typer.Context,
    count: Count = 3,
    query: Query = None,
    model: Model = None,
    cid: Cid = None,
    since: Since = None,
    until: Until = None,
    as_json: AsJson = False,
    usage: Usage = False,
    jobs: Jobs = False,
) -> None:
    """The latest replies, newest first (the same as `oruel logs list`)."""
    if ctx.invoked_subcommand is None:
        _list(count, query, model, cid, since, until, as_json, usage, jobs)
        return
    given = (count != 3, query, model, cid, since, until, as_json, usage, jobs)
    if any(given):
        raise UsageError(f"put the options of `oruel logs` after {ctx.invoked_subcommand!r}")


@logs_app.command(
    "list", epilog=examples("oruel logs list -n 10 -u", "oruel logs list --cid 3 --json")
)
def list_cmd(
    count: Count = 3,
    query: Query = None,
    model: Model = None,
    cid: Cid = None,
    since: Since = None,
    until: Until = None,
    as_json: AsJson = False,
    usage: Usage = False,
    jobs: Jobs = False,
) -> None:
    """The latest replies, newest first; -q searches their text."""
    _list(count, query, model, cid, since, until, as_json, usage, jobs)


@logs_app.command("show", epilog=examples("oruel logs show 12", "oruel logs show 12 | less"))
def show(reply_id: Annotated[str, typer.Argument(metavar="ID", help="A reply's ID.")]) -> None:
    """One exchange in full: messages, reply, parameters and their sources."""
    from ..logs.listing import show_reply

    show_reply(reply_id)


@logs_app.command(
    "rm", epilog=examples("oruel logs rm 12", "oruel logs rm --before 2026-01-01 --yes")
)
def rm(
    reply_id: Annotated[
        str | None, typer.Argument(metavar="[ID]", help="A reply's ID.", show_default=False)
    ] = None,
    cid: Annotated[
        str | None, typer.Option("--cid", metavar="ID", help="A whole conversation.")
    ] = None,
    before: Annotated[
        str | None,
        typer.Option("--before", metavar="DATE", help="Everything before this ISO date or time."),
    ] = None,
    everything: Annotated[bool, typer.Option("--all", help="The whole log.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask first.")] = False,
) -> None:
    """Remove replies (ID, --cid, --before or --all), then compact the file."""
    from ..logs.dates import parse_when
    from ..logs.remove import remove, selection

    when = parse_when(before, "--before") if before is not None else None
    remove(selection(reply_id, cid, when, everything), yes)


@logs_app.command(
    "export",
    epilog=examples("oruel logs export > replies.jsonl", "oruel logs export --format md -q citrus"),
)
def export(
    fmt: Annotated[
        str, typer.Option("--format", metavar="jsonl|md", help="jsonl or md.")
    ] = "jsonl",
    query: Query = None,
    model: Model = None,
    cid: Cid = None,
    since: Since = None,
    until: Until = None,
) -> None:
    """Every reply (or those matching), oldest first, on stdout."""
    from ..logs.listing import export as run_export

    run_export(_filters(query, model, cid, since, until), fmt)


@logs_app.command("on", epilog=examples("oruel logs on", "oruel logs status"))
def on() -> None:
    """Keep replies in the log (writes `log: true` into the config file)."""
    _switch(True)


@logs_app.command(
    "off", epilog=examples("oruel logs off", 'oruel ask --no-log "one reply unlogged"')
)
def off() -> None:
    """Keep no replies (writes `log: false` into the config file); the log stays."""
    _switch(False)


def _switch(value: bool) -> None:
    import sys

    from ..logs.switch import set_logging

    path = set_logging(value)
    state = "on: replies are kept" if value else "off: replies are not kept"
    print(f"logging is {state} (log: {str(value).lower()} in {path})", file=sys.stderr)


@logs_app.command("status", epilog=examples("oruel logs status", "oruel logs off"))
def status() -> None:
    """On or off, how many replies, the file's size and path."""
    from ..logs.status import status_lines

    print("\n".join(status_lines()))


@logs_app.command(
    "path", epilog=examples("oruel logs path", 'sqlite3 "$(oruel logs path)" .tables')
)
def path() -> None:
    """The log database's path."""
    from ..logs.store import db_path

    print(db_path())
