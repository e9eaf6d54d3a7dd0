"""The COMMON options of chat, ask and run, declared once.

`common_options` appends them to a command's signature and hands the command
one `CommonOptions` object, so the three commands cannot drift apart.
Parameter flags are taken as text and parsed by params/values.py, as chat's
/set and --sweep parse them, so every bad value gets the same message
("invalid temperature 'abc' (allowed: a number from 0 to 2)").
"""

import functools
import inspect
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import UsageError
from ..params.model import MAX_TOP_LOGPROBS
from ..params.values import (  # noqa: F401 (parse_bias, read_json_or_yaml: imported from here too)
    RESPONSE_FORMATS,
    TOOL_CHOICES,
    parse_bias,
    parse_int_option,
    parse_value,
    read_json_or_yaml,
)
from ..runtime import FLASH_ATTN_CHOICES, REPACK_CHOICES
from . import complete
from .shared_options import (  # noqa: F401 (the shared option types are imported from here too)
    FILE,
    INTEGER,
    MODEL,
    NUMBER,
    PRESET,
    TEXT,
    TIERS,
    URL,
    ChatTemplateFile,
    Ctx,
    E,
    FlashAttn,
    GpuLayers,
    P,
    R,
    ReasoningEffort,
    Repack,
    T,
    TemplateArgs,
    Think,
    Threads,
    Verbose,
    choices,
    template_options,
)

# chat's and ask's options to carry a logged conversation on, declared once.
Carry = Annotated[
    bool, typer.Option("-c", "--continue", help="Carry on the latest logged conversation.")
]
ConversationId = Annotated[
    str | None, typer.Option("--cid", metavar="ID", help="Carry on the logged conversation ID.")
]
ShowThinking = Annotated[
    bool,
    typer.Option(
        "--show-thinking",
        help="Show the model's thinking in full (dim in a terminal); without it a terminal "
        "shows it folded while it streams, and only the answer is printed.",
    ),
]


@dataclass
class CommonOptions:
    model: Annotated[
        str | None,
        typer.Option(
            "-m",
            "--model",
            metavar=MODEL,
            autocompletion=complete.models,
            help="A .gguf path, a name in a models folder, an alias, 'default', or a Hugging "
            "Face REF (user/repo:QUANT, pulled when not in the cache).",
            rich_help_panel=R,
        ),
    ] = None  # noqa: E501
    preset: Annotated[
        str | None,
        typer.Option(
            "-p",
            "--preset",
            metavar=PRESET,
            autocompletion=complete.presets,
            help="A preset name or a preset .yaml file.",
            rich_help_panel=P,
        ),
    ] = None  # noqa: E501
    temperature: Annotated[
        str | None,
        typer.Option(
            "-t", "--temperature", metavar=NUMBER, help="0..2; 0 is greedy.", rich_help_panel=P
        ),
    ] = None  # noqa: E501
    top_p: Annotated[
        str | None,
        typer.Option("--top-p", metavar=NUMBER, help="0..1 nucleus cut.", rich_help_panel=P),
    ] = None  # noqa: E501
    top_k: Annotated[
        str | None,
        typer.Option("--top-k", metavar=INTEGER, help="0..200; 0 is off.", rich_help_panel=P),
    ] = None  # noqa: E501
    min_p: Annotated[
        str | None,
        typer.Option(
            "--min-p",
            metavar=NUMBER,
            help="0..1 of the top token's probability.",
            rich_help_panel=P,
        ),
    ] = None  # noqa: E501
    seed: Annotated[
        str | None,
        typer.Option("--seed", metavar=INTEGER, help="Any 64-bit integer.", rich_help_panel=P),
    ] = None  # noqa: E501
    max_tokens: Annotated[
        str | None,
        typer.Option(
            "--max-tokens", metavar=INTEGER, help="1..131072 generated tokens.", rich_help_panel=P
        ),
    ] = None  # noqa: E501
    stop: Annotated[
        list[str] | None,
        typer.Option(
            "--stop", metavar=TEXT, help="Stop string (repeatable, at most 4).", rich_help_panel=P
        ),
    ] = None  # noqa: E501
    frequency_penalty: Annotated[
        str | None,
        typer.Option(
            "--frequency-penalty", metavar=NUMBER, help="-2..2, per occurrence.", rich_help_panel=P
        ),
    ] = None  # noqa: E501
    presence_penalty: Annotated[
        str | None,
        typer.Option(
            "--presence-penalty", metavar=NUMBER, help="-2..2, once present.", rich_help_panel=P
        ),
    ] = None  # noqa: E501
    repetition_penalty: Annotated[
        str | None,
        typer.Option(
            "--repetition-penalty",
            metavar=NUMBER,
            help="0.1..3, multiplicative.",
            rich_help_panel=P,
        ),
    ] = None  # noqa: E501
    json_mode: Annotated[
        bool,
        typer.Option(
            "--json", help="Ask for a JSON object (response_format json_object).", rich_help_panel=P
        ),
    ] = False  # noqa: E501
    response_format: Annotated[
        str | None,
        typer.Option(
            "--response-format",
            metavar=choices(RESPONSE_FORMATS),
            autocompletion=complete.choices(*RESPONSE_FORMATS),
            help="The reply's shape (a schema: --json-schema).",
            rich_help_panel=P,
        ),
    ] = None  # noqa: E501
    json_schema: Annotated[
        Path | None,
        typer.Option(
            "--json-schema",
            metavar=FILE,
            help="A JSON Schema file the reply must follow.",
            rich_help_panel=P,
        ),
    ] = None  # noqa: E501
    tools: Annotated[
        Path | None,
        typer.Option(
            "--tools",
            metavar=FILE,
            help="OpenAI tools array, JSON or YAML file.",
            rich_help_panel=P,
        ),
    ] = None  # noqa: E501
    tool_choice: Annotated[
        str | None,
        typer.Option(
            "--tool-choice",
            metavar=choices(TOOL_CHOICES, "NAME"),
            autocompletion=complete.choices(*TOOL_CHOICES),
            help="May, never or must call a tool, or one named function.",
            rich_help_panel=P,
        ),
    ] = None  # noqa: E501
    tier: Annotated[
        str | None,
        typer.Option(
            "--tier",
            metavar=choices(TIERS),
            autocompletion=complete.choices(*TIERS),
            help="Routing profile from the config.",
            rich_help_panel=P,
        ),
    ] = None  # noqa: E501
    # -- logprobs and logit_bias (OpenAI's fields; see token_flags) --
    logprobs: Annotated[
        str | None,
        typer.Option(
            "--logprobs",
            metavar="N",
            help="Show each token's probability and the N (0..20) best alternatives.",
            rich_help_panel=P,
        ),
    ] = None  # noqa: E501
    logit_bias: Annotated[
        list[str] | None,
        typer.Option(
            "--logit-bias",
            metavar="ID=BIAS",
            help="Add BIAS (-100..100; -100 bans) to token ID's logit (repeatable).",
            rich_help_panel=P,
        ),
    ] = None  # noqa: E501
    ban: Annotated[
        list[str] | None,
        typer.Option(
            "--ban",
            metavar=TEXT,
            help="Never draw the tokens that spell TEXT (repeatable).",
            rich_help_panel=P,
        ),
    ] = None  # noqa: E501
    ctx: Ctx = None
    threads: Threads = None
    gpu_layers: GpuLayers = None
    repack: Repack = None
    flash_attn: FlashAttn = None
    show_params: Annotated[
        bool,
        typer.Option(
            "--show-params", help="Print the effective parameters and their sources on stderr."
        ),
    ] = False  # noqa: E501
    verbose: Verbose = False
    endpoint: Annotated[
        list[str] | None,
        typer.Option(
            "--endpoint",
            metavar=URL,
            help="Remote OpenAI-compatible server URL (repeatable).",
            rich_help_panel=E,
        ),
    ] = None  # noqa: E501
    api_key: Annotated[
        str | None,
        typer.Option("--api-key", metavar=TEXT, help="Key for --endpoint.", rich_help_panel=E),
    ] = None  # noqa: E501
    timeout: Annotated[
        str | None,
        typer.Option(
            "--timeout",
            metavar="S",
            help="Seconds a remote request may take (default: 600).",
            rich_help_panel=E,
        ),
    ] = None  # noqa: E501
    local: Annotated[
        bool,
        typer.Option(
            "--local",
            help="Run on the local model, even with endpoints in the config.",
            rich_help_panel=E,
        ),
    ] = False  # noqa: E501
    no_log: Annotated[
        bool, typer.Option("--no-log", help="Keep this command's replies out of the log.")
    ] = False  # noqa: E501
    # -- chat template ----------------------------------------------------------
    chat_template: ChatTemplateFile = None
    template_arg: TemplateArgs = None
    think: Think = None
    reasoning_effort: ReasoningEffort = None

    def apply_template(self, target: Any) -> Any:
        """A local target with --chat-template and --template-arg over the config's."""
        file, text, kwargs = template_options(self.chat_template, self.template_arg)
        if text is not None:
            target.chat_template, target.chat_template_file = text, file
        target.template_kwargs = {**target.template_kwargs, **kwargs}
        target.think = self.think
        from ..formats.kwargs import check_effort

        target.reasoning_effort = check_effort(self.reasoning_effort)
        return target

    def flag_params(self) -> dict[str, Any]:
        """The parameters given as flags, parsed to their types (the "flag" layer)."""
        out: dict[str, Any] = {}
        for name in (
            "temperature", "top_p", "top_k", "min_p", "seed", "max_tokens",
            "frequency_penalty", "presence_penalty", "repetition_penalty",
        ):  # fmt: skip
            text = getattr(self, name)
            if text is not None:
                out[name] = parse_value(name, text)
        if self.stop:
            out["stop"] = list(self.stop)
        formats = [f for f in (self.json_mode, self.response_format, self.json_schema) if f]
        if len(formats) > 1:
            raise UsageError("give only one of --json, --response-format and --json-schema")
        if self.json_mode:
            out["response_format"] = {"type": "json_object"}
        elif self.response_format is not None:
            out["response_format"] = parse_value("response_format", self.response_format)
        elif self.json_schema is not None:
            schema = read_json_or_yaml(self.json_schema, "--json-schema")
            out["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": self.json_schema.stem, "schema": schema, "strict": True},
            }
        for name in ("tools", "tool_choice", "tier"):
            given = getattr(self, name)
            if given is not None:
                out[name] = parse_value(name, str(given))
        out.update(self.token_flags())
        return out

    def token_flags(self) -> dict[str, Any]:
        """--logprobs N (logprobs true, top_logprobs N) and --logit-bias ID=BIAS.
        --ban needs the model's vocabulary: the command applies it once loaded."""
        out: dict[str, Any] = {}
        if self.logprobs is not None:
            n = self.logprobs.strip()
            if not (n.isascii() and n.isdigit() and int(n) <= MAX_TOP_LOGPROBS):
                raise UsageError(
                    f"invalid --logprobs {self.logprobs!r} "
                    f"(allowed: an integer from 0 to {MAX_TOP_LOGPROBS})"
                )
            out["logprobs"], out["top_logprobs"] = True, int(n)
        if self.logit_bias:
            out["logit_bias"] = {k: v for k, v in map(parse_bias, self.logit_bias)}
        return out

    def runtime_flags(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        limits = {"ctx": (16, 1_048_576), "threads": (1, 1024), "gpu_layers": (-1, 100_000)}
        for name, (lo, hi) in limits.items():
            text = getattr(self, name)
            if text is not None:
                out[name] = parse_int_option(f"--{name.replace('_', '-')}", text, lo, hi, 0)
        for name, allowed in (("repack", REPACK_CHOICES), ("flash_attn", FLASH_ATTN_CHOICES)):
            value = getattr(self, name)
            if value is not None:
                if value not in allowed:
                    flag = f"--{name.replace('_', '-')}"
                    spoken = f"{', '.join(allowed[:-1])} or {allowed[-1]}"
                    raise UsageError(f"invalid {flag} {value!r} (allowed: {spoken})")
                out[name] = value
        return out


_COMMON = [f.name for f in fields(CommonOptions)]


def common_options(fn: Any) -> Any:
    """Decorator: append the COMMON options to a Typer command; it receives `opts`."""
    sig = inspect.signature(fn)
    own = [p for p in sig.parameters.values() if p.name != "opts"]
    hints = {f.name: f.type for f in fields(CommonOptions)}
    extra = [
        inspect.Parameter(
            f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default, annotation=hints[f.name]
        )
        for f in fields(CommonOptions)
    ]

    @functools.wraps(fn)
    def wrapper(**kwargs: Any) -> Any:
        opts = CommonOptions(**{k: kwargs.pop(k) for k in _COMMON})
        return fn(opts=opts, **kwargs)

    wrapper.__signature__ = sig.replace(parameters=own + extra)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in own + extra}
    return wrapper
