"""`oruel serve`: an OpenAI-compatible HTTP server over the engine.

Thin: options are parsed and checked (exit 2) and the models resolved before
anything loads; the server itself lives in `oruel_cli.serve`.
"""

import ipaddress
import os
from pathlib import Path
from typing import Annotated

import typer

from ..common.options import (
    ChatTemplateFile,
    CommonOptions,
    FlashAttn,
    GpuLayers,
    R,
    Repack,
    TemplateArgs,
    Threads,
    Verbose,
)
from ..errors import UsageError
from ..params.values import parse_int_option

DEFAULT_PARALLEL = 4  # slots per model: llama-server's own default; a small CPU box keeps up
DEFAULT_QUEUE = 64
API_KEY_ENV = "ORUEL_API_KEY"


def serve(
    model: Annotated[
        list[str] | None,
        typer.Option(
            "-m",
            "--model",
            metavar="MODEL",
            help="A model to serve (repeatable; default: the config's, else the embedded one).",
        ),
    ] = None,  # fmt: skip
    host: Annotated[
        str, typer.Option("--host", metavar="HOST", help="Address to listen on.")
    ] = "127.0.0.1",
    port: Annotated[
        str, typer.Option("--port", metavar="PORT", help="Port (0: any free one).")
    ] = "8000",
    parallel: Annotated[
        str | None,
        typer.Option(
            "--parallel",
            metavar="INTEGER",
            help=f"Requests decoded together per model (default: {DEFAULT_PARALLEL}).",
        ),
    ] = None,
    queue: Annotated[
        str | None,
        typer.Option(
            "--queue",
            metavar="INTEGER",
            help=f"Requests waiting per model before 429 (default: {DEFAULT_QUEUE}).",
        ),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            metavar="KEY",
            help=f"Bearer token every request needs (default: ${API_KEY_ENV}); "
            "required off loopback.",
            show_default=False,
        ),
    ] = None,  # fmt: skip
    cors_origin: Annotated[
        list[str] | None,
        typer.Option(
            "--cors-origin", metavar="ORIGIN", help="An origin browsers may call from (repeatable)."
        ),
    ] = None,
    shutdown_timeout: Annotated[
        str,
        typer.Option(
            "--shutdown-timeout",
            metavar="SECONDS",
            help="Seconds in-flight requests get on Ctrl-C or SIGTERM.",
        ),
    ] = "30",
    ctx: Annotated[
        str | None,
        typer.Option(
            "--ctx",
            metavar="INTEGER",
            help="Context per sequence (default: 4096).",
            rich_help_panel=R,
        ),
    ] = None,
    threads: Threads = None,
    gpu_layers: GpuLayers = None,
    repack: Repack = None,
    flash_attn: FlashAttn = None,
    verbose: Verbose = False,
    chat_template: ChatTemplateFile = None,
    template_arg: TemplateArgs = None,
    log_replies: Annotated[
        bool, typer.Option("--log", help="Keep each reply in the reply log (see `oruel logs`).")
    ] = False,
) -> None:
    """Serve the models over HTTP: OpenAI's /v1/chat/completions, /v1/models, /health,
    /metrics, and /apply-template (the prompt a body would give the model)."""
    key = api_key if api_key is not None else os.environ.get(API_KEY_ENV) or None
    if key is not None and not key.strip():
        raise UsageError("--api-key is empty; give a key, or leave the option out")
    if not key and not is_loopback(host):
        raise UsageError(
            f"refusing to serve on {host} without an API key: anyone who can reach it could "
            f"use it; give --api-key KEY (or set {API_KEY_ENV}), or listen on 127.0.0.1"
        )
    n_slots = parse_int_option("--parallel", parallel, 1, 256, DEFAULT_PARALLEL)
    queue_max = parse_int_option("--queue", queue, 0, 100_000, DEFAULT_QUEUE)
    port_n = parse_int_option("--port", port, 0, 65535, 8000)
    timeout = _seconds("--shutdown-timeout", shutdown_timeout)
    runtime = CommonOptions(
        ctx=ctx, threads=threads, gpu_layers=gpu_layers, repack=repack, flash_attn=flash_attn,
        chat_template=chat_template, template_arg=template_arg,
    )  # fmt: skip
    runtime_flags = runtime.runtime_flags()

    from ..config import load_config
    from ..engine.loader import resolve_target
    from ..params.layering import ParamResolver
    from ..serve.metrics import Metrics
    from ..serve.models import Registry, ServedModel
    from ..serve.server import Options
    from ..serve.server import serve as run_server
    from ..serve.state import ServeState

    config = load_config()
    resolver = ParamResolver(config, None, {})  # the config's preset, if any, is checked here
    served: list[ServedModel] = []
    for spec in model or [None]:
        target = runtime.apply_template(resolve_target(config, spec, runtime_flags))
        name = served_name(spec or config.model or "default", target.path)
        for other in served:
            if other.path.resolve() == target.path.resolve():
                raise UsageError(f"--model {name} and --model {other.id} are the same file")
            if other.id == name:
                raise UsageError(
                    f"two models would be served as {name!r} ({other.path} and {target.path}); "
                    "give one of them a config alias"
                )
        served.append(ServedModel(name, target, n_slots, queue_max))
    registry = Registry(config, served)
    state = ServeState(config, registry, resolver, Metrics(lambda: registry.models), api_key=key)
    if log_replies:  # each request a conversation of its own; `oruel logs off` still wins
        from ..logs.writer import ReplyLog

        state.replies = ReplyLog.for_command("serve", config, False, per_reply=True)
    opts = Options(host, port_n, list(cors_origin or []), timeout, verbose)
    rc = run_server(state, opts)
    if rc:
        raise typer.Exit(rc)


def served_name(spec: str, path: Path) -> str:
    """The name clients see: a name or alias as given, a file by its stem (the
    name `ask` reports for it), never the server's file system path."""
    if spec != "default" and Path(spec).expanduser().is_file():
        return path.stem
    return spec


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _seconds(flag: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 86_400:
        raise UsageError(f"invalid {flag} {text!r} (allowed: seconds from 0 to 86400)")
    return value
