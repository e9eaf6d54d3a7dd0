"""`oruel run`: JSONL batch jobs, resumable, with continuous batching."""

import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..common.options import FILE, INTEGER, CommonOptions, common_options
from ..errors import Interrupted, UsageError
from ..params.values import parse_int_option
from ..signals import install, raise_interrupt, restore

if TYPE_CHECKING:
    from ..batch.sink import OnReply
    from ..logs.writer import ReplyLog

DEFAULT_PARALLEL = 8


@common_options
def run(
    opts: CommonOptions,
    input: Annotated[
        Path,
        typer.Argument(
            metavar="INPUT.jsonl", help="The JSONL input: prompt, messages or OpenAI batch lines."
        ),
    ],  # noqa: E501
    output: Annotated[
        str | None,
        typer.Option("-o", "--output", metavar=FILE, help="Output JSONL ('-' for stdout)."),
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Keep the successes in the output; run the rest.")
    ] = False,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an existing output file.")
    ] = False,
    parallel: Annotated[
        str | None,
        typer.Option(
            "--parallel", metavar=INTEGER, help="Sequences decoded together (default: 8)."
        ),
    ] = None,
    log_lines: Annotated[
        bool,
        typer.Option("--log", help="Also log each line's reply (the job is always one row)."),
    ] = False,
) -> None:
    """Run every line of a JSONL file; one record per line in the output."""
    from ..batch.output import ResultWriter, default_output, prepare_output
    from ..batch.reader import count_lines, read_batch
    from ..common.command import open_remote, show_params, stop_signals, warn
    from ..config import load_config
    from ..params.layering import ParamResolver
    from .tokens import check_ban_local, with_bans

    config = load_config()
    resolver = ParamResolver(config, opts.preset, opts.flag_params())
    job_params = resolver.resolve()
    runtime_flags = opts.runtime_flags()
    n_slots = parse_int_option("--parallel", parallel, 1, 256, DEFAULT_PARALLEL)
    remote = open_remote(opts, config, job_params.params.tier, runtime_flags)
    check_ban_local(opts.ban, remote)
    if not input.is_file():
        raise UsageError(f"input file not found: {input}")
    out_path = None if output == "-" else Path(output) if output else default_output(input)
    done_ids = prepare_output(out_path, resume, overwrite, input_path=input)
    if remote is not None:
        _run_remote(remote, resolver, opts, input, out_path, done_ids, n_slots, job_params,
                    log_lines)  # fmt: skip
        return

    from ..backends.local import LocalBackend
    from ..engine.loader import SLOT_CTX_CAP, resolve_target

    target = resolve_target(config, opts.model, runtime_flags, job_params.params.tier)
    opts.apply_template(target)
    if opts.show_params:
        from ..common.command import ctx_in_effect

        show_params(job_params.effective, target, ctx_in_effect(target, SLOT_CTX_CAP))
        print(f"parallel = {n_slots}", file=sys.stderr)
    with stop_signals() as stop:  # a Ctrl-C inside llama.cpp's log callback would be lost
        backend = LocalBackend.load(target, opts.verbose, n_slots=n_slots, ctx_cap=SLOT_CTX_CAP)
    if stop.requested:
        backend.close()
        raise Interrupted()
    if opts.ban:  # the banned words' tokens, now that the vocabulary is known
        from ..params.layering import make_layer

        try:
            resolver.flag_layer = make_layer(
                "flag", with_bans(opts.flag_params(), opts.ban, backend)
            )
        except UsageError:
            backend.close()
            raise

    from ..batch.job import BatchJob
    from ..batch.sink import JobSink
    from ..logs.writer import ReplyLog

    # --log: each line's reply is a row (a conversation of its own); --no-log and
    # `oruel logs off` still win.
    line_log = ReplyLog.for_command("run", config, opts.no_log or not log_lines, per_reply=True)

    previous = install(raise_interrupt, (signal.SIGTERM,))
    progress = _Progress(count_lines(input))
    try:
        with backend, ResultWriter(out_path) as writer:
            sink = JobSink(writer, done_ids, progress.update, _log_hook(line_log))
            job = BatchJob(backend, resolver, config, sink, str(target.path))
            stats = job.run(read_batch(input))
    finally:
        progress.close()
        restore(previous)
    _summary(stats, out_path)
    from ..logs.jobs import log_job

    log_job(config, opts.no_log, input, out_path, target.path, job_params.effective, n_slots, stats)
    if w := stats.json_warning():
        warn(w)
    if stats.interrupted:
        raise Interrupted()
    if stats.failed:
        raise typer.Exit(1)


def _run_remote(
    remote, resolver, opts, input, out_path, done_ids, n_slots, job_params, log_lines
) -> None:  # noqa: ANN001
    """The job on --endpoint servers (oruel_cli/fleet/): the same records, resume,
    progress and summary as a local job; exit 1 when a line failed or every
    endpoint stayed down, 130 when interrupted."""
    from ..batch.output import ResultWriter
    from ..batch.reader import count_lines, read_batch
    from ..batch.sink import JobSink
    from ..common.command import RemoteTarget, show_params, warn
    from ..fleet.job import FleetJob

    if opts.show_params:
        show_params(job_params.effective, RemoteTarget(remote))
        print(
            f"parallel = {n_slots} per endpoint (unless the config gives its own)", file=sys.stderr
        )
    from ..logs.writer import ReplyLog

    line_log = ReplyLog.for_command(
        "run", resolver.config, opts.no_log or not log_lines, per_reply=True
    )

    progress = _Progress(count_lines(input))
    try:
        with remote, ResultWriter(out_path) as writer:
            sink = JobSink(writer, done_ids, progress.update, _log_hook(line_log))
            job = FleetJob(remote, resolver, sink, n_slots, remote.timeout, notify=warn)
            stats = job.run(read_batch(input))
    finally:
        progress.close()
    _summary(stats, out_path)
    from ..logs.jobs import log_job

    urls = " ".join(ep.url for ep in remote.endpoints)
    log_job(
        resolver.config, opts.no_log, input, out_path, urls, job_params.effective, n_slots, stats
    )
    if w := stats.json_warning():
        warn(w)
    if stats.interrupted:
        raise Interrupted()
    if stats.failed or stats.stopped:
        raise typer.Exit(1)


def _log_hook(line_log: "ReplyLog") -> "OnReply | None":
    """`run --log`: each line's reply a row, the model file or endpoint as its model."""
    if not line_log.enabled:
        return None
    return lambda messages, resolved, comp, source: line_log.add(messages, resolved, source, comp)


class _Progress:
    """A rich bar on a terminal; plain lines every few seconds otherwise."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.bar = None
        self._last = 0.0
        if sys.stderr.isatty():
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            from ..render import err_console

            self.bar = Progress(
                TextColumn("[bold]run"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[rate]} tok/s"), TextColumn("{task.fields[failed]}"),
                TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                console=err_console(),
            )  # fmt: skip
            self.task = self.bar.add_task("run", total=total, rate="0", failed="")
            self.bar.start()

    def update(self, stats) -> None:  # noqa: ANN001
        if self.bar is not None:
            failed = f"[red]{stats.failed} failed[/]" if stats.failed else ""
            self.bar.update(self.task, completed=stats.done, rate=f"{stats.tokens_per_second:.0f}",
                            failed=failed)  # fmt: skip
            return
        now = time.monotonic()
        if now - self._last >= 5 or stats.done == self.total:
            self._last = now
            print(
                f"oruel run: {stats.done}/{self.total} done, {stats.failed} failed, "
                f"{stats.tokens_per_second:.1f} tok/s",
                file=sys.stderr,
                flush=True,
            )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def _summary(stats, out_path: Path | None) -> None:  # noqa: ANN001
    from rich.table import Table

    from ..batch.stats import summary_rows
    from ..render import err_console

    # The title stays short: rich wraps it to the table's width (a narrow one), so the
    # advice to resume is a line of its own under the table.
    title = "interrupted" if stats.interrupted else "stopped" if stats.stopped else "done"
    table = Table(title=f"oruel run: {title}", show_header=False)
    for key, value in summary_rows(stats):
        table.add_row(key, str(value))
    if stats.stopped:
        table.add_row("stopped", stats.stopped)
    table.add_row("output", str(out_path) if out_path else "stdout")
    console = err_console()
    console.print(table)
    if title != "done":
        console.print("run again with --resume to finish", soft_wrap=True, highlight=False)
