"""GenerationParams: the fifteen parameters of the reference page, then OpenAI's
logprobs, top_logprobs and logit_bias, with their types, ranges and defaults,
in one place. Everything else (flags, presets, batch lines,
the catalogue, validation messages) reads its metadata from here."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

SEED_MIN = -(2**63)
SEED_MAX = 2**64 - 1
MAX_STOPS = 4
MAX_STOP_CHARS = 256
MAX_TOOLS = 128
MAX_TOP_LOGPROBS = 20
BIAS_LIMIT = 100  # |bias| at most; -100 bans the token (it is never drawn)
# A field's default as `params list` and `params explain` show it, where the
# reference words it otherwise than the value (max_tokens is "model-dependent").
SHOWN_DEFAULT = "shown_default"


class GenerationParams(BaseModel):
    """Effective parameters of one request. ``None`` means "not set", which is off."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, defer_build=True)

    temperature: float = Field(
        0.7, ge=0, le=2, description="Randomness of the draw: logits / T; 0 is greedy."
    )
    top_p: float = Field(
        1.0, ge=0, le=1, description="Nucleus: keep the smallest set reaching this probability."
    )
    top_k: int | None = Field(
        None, ge=0, le=200, description="Keep only the K most probable tokens; 0 or unset is off."
    )
    min_p: float | None = Field(
        None, ge=0, le=1, description="Drop tokens below min_p x p(top token)."
    )
    seed: int | None = Field(
        None, ge=SEED_MIN, le=SEED_MAX, description="Seed of the draw: same seed, same output."
    )
    max_tokens: int | None = Field(
        None,
        ge=1,
        le=131072,
        description="Cap on generated tokens; unset runs to the end.",
        json_schema_extra={
            SHOWN_DEFAULT: "model-dependent (unset: until the model ends the reply "
            "or the context is full)"
        },
    )
    stop: str | list[str] | None = Field(
        None, description="Up to 4 strings that end the reply; not part of the output."
    )
    frequency_penalty: float = Field(
        0.0, ge=-2, le=2, description="Logit -= count x value, count in the output so far."
    )
    presence_penalty: float = Field(
        0.0, ge=-2, le=2, description="Logit -= value once a token appeared in the output."
    )
    repetition_penalty: float = Field(
        1.0,
        ge=0.1,
        le=3,
        description="Divides positive, multiplies negative logits of seen tokens.",
    )
    response_format: dict[str, Any] | None = Field(
        None,
        description="text, json_object, or json_schema: constrain the reply's shape.",
        json_schema_extra={SHOWN_DEFAULT: '{"type": "text"}'},  # unset is free text
    )
    stream: bool = Field(False, description="Show tokens as they are generated.")
    tools: list[dict[str, Any]] | None = Field(
        None, description="Function definitions the model may call (at most 128)."
    )
    tool_choice: str | dict[str, Any] | None = Field(
        None, description="auto, none, required, or one named function."
    )
    tier: Literal["standard", "turbo"] = Field(
        "standard", description="Routing profile from the config: model, runtime, params."
    )
    logprobs: bool = Field(
        False, description="Return each token's log-probability (the raw distribution)."
    )
    top_logprobs: int | None = Field(
        None,
        ge=0,
        le=MAX_TOP_LOGPROBS,
        description="With logprobs: the N most likely tokens at each position too.",
    )
    logit_bias: dict[str, int | float] | None = Field(
        None, description="{token id: -100..100} added to the logits; -100 bans a token."
    )

    @field_validator("stop")
    @classmethod
    def _stop(cls, v: str | list[str] | None) -> list[str] | None:
        if v is None:
            return None
        stops = [v] if isinstance(v, str) else v
        if len(stops) > MAX_STOPS:
            raise ValueError(f"at most {MAX_STOPS} strings")
        for s in stops:
            if not s:
                raise ValueError("an empty stop string")
            if len(s) > MAX_STOP_CHARS:
                raise ValueError(f"a string longer than {MAX_STOP_CHARS} characters")
        return list(stops)

    @field_validator("response_format")
    @classmethod
    def _response_format(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        if v is None:
            return None
        kind = v.get("type")
        if kind in ("text", "json_object"):
            if set(v) != {"type"}:
                raise ValueError(f'{{"type": "{kind}"}} takes no other keys')
            return v
        if kind == "json_schema":
            js = v.get("json_schema")
            if not isinstance(js, dict) or not isinstance(js.get("schema"), dict):
                raise ValueError(
                    'json_schema needs {"json_schema": {"name": ..., "schema": {...}}}'
                )
            if not isinstance(js.get("name", "schema"), str):
                raise ValueError("json_schema.name must be a string")
            _check_schema(js["schema"])
            return v
        raise ValueError("type must be text, json_object or json_schema")

    @field_validator("tools")
    @classmethod
    def _tools(cls, v: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
        if v is None:
            return None
        if len(v) > MAX_TOOLS:
            raise ValueError(f"at most {MAX_TOOLS} tools")
        seen: set[str] = set()
        for i, tool in enumerate(v):
            fn = tool.get("function")
            if tool.get("type") != "function" or not isinstance(fn, dict):
                raise ValueError(f'tool {i}: needs {{"type": "function", "function": {{...}}}}')
            if not isinstance(fn.get("name"), str) or not fn["name"]:
                raise ValueError(f"tool {i}: function.name must be a non-empty string")
            if fn["name"] in seen:  # a call names its tool: two with one name are ambiguous
                raise ValueError(f"tool {i}: another tool is already named {fn['name']!r}")
            seen.add(fn["name"])
            if "parameters" in fn:
                if not isinstance(fn["parameters"], dict):
                    raise ValueError(f"tool {i}: function.parameters must be a JSON Schema object")
                _check_schema(fn["parameters"])
        return v

    @field_validator("tool_choice")
    @classmethod
    def _tool_choice(cls, v: str | dict[str, Any] | None) -> str | dict[str, Any] | None:
        if v is None or v in ("auto", "none", "required"):
            return v
        if isinstance(v, dict):
            fn = v.get("function")
            if (
                v.get("type") == "function"
                and isinstance(fn, dict)
                and isinstance(fn.get("name"), str)
            ):
                return v
        raise ValueError('auto, none, required or {"type": "function", "function": {"name": ...}}')

    @field_validator("logit_bias", mode="before")
    @classmethod
    def _logit_bias(cls, v: Any) -> Any:
        """Keys are token ids: JSON writes them as strings, YAML may as integers;
        both become the string form OpenAI uses. Whether an id is in the
        vocabulary is checked once the model is known."""
        if not isinstance(v, dict):
            return v
        out: dict[str, Any] = {}
        for key, bias in v.items():
            if type(key) is int and key >= 0:
                key = str(key)
            if not isinstance(key, str) or not key.isascii() or not key.isdigit():
                raise ValueError(f"the key {key!r} is not a token id (an integer >= 0)")
            if type(bias) not in (int, float) or not -BIAS_LIMIT <= bias <= BIAS_LIMIT:
                raise ValueError(
                    f"the bias {json.dumps(bias)} of token {key} is not a number from -100 to 100"
                )
            out[str(int(key))] = bias
        return out

    def stops(self) -> list[str]:
        """The stop strings as a list (empty when none)."""
        return list(self.stop or [])

    @property
    def tools_active(self) -> bool:
        """Tools are offered (some given, tool_choice not "none"): the reply may
        be a call, so it is parsed for calls and shown whole."""
        return bool(self.tools) and self.tool_choice != "none"

    @property
    def response_kind(self) -> str:
        """response_format's type: text (also when unset), json_object or json_schema."""
        return (self.response_format or {}).get("type", "text")

    def forced_tool(self) -> str | None:
        """The function name tool_choice forces, if any."""
        if isinstance(self.tool_choice, dict):
            return self.tool_choice["function"]["name"]
        return None


def _check_schema(schema: dict[str, Any]) -> None:
    """A JSON Schema must itself be valid, or a grammar built from it means nothing."""
    import jsonschema

    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as e:
        raise ValueError(f"not a valid JSON Schema: {e.message}") from None


PARAM_NAMES: tuple[str, ...] = tuple(GenerationParams.model_fields)
