"""The remote backend: the same chat requests, sent to OpenAI-compatible servers
(oruel serve, vLLM, llama-server, a hosted API) through the official client.

A reply comes back as the same `Completion` the local engine gives (usage,
finish reason, tool calls, time to first token), so ask and chat print it
the same way. ask and chat stream: the HTTP stream is read on a thread of
its own, so the command's thread only waits on a queue and a Ctrl-C is seen
at once (a cancel stops the reading and closes the stream, which tells the
server to stop). Before any text has come, a connection error, a timeout,
429 or 5xx moves on to the next endpoint (failover); any other refusal is
the answer.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

from ..api.ids import completion_id, tool_call_id
from ..engine.reply import Completion, check_json, extract_tool_calls, schema_error
from ..engine.template import TOOL_OPEN
from ..errors import OruelError
from ..params.model import GenerationParams
from .endpoints import DEFAULT_TIMEOUT, Endpoint
from .fields import ParameterRefused, check_fields, detect, request_fields
from .remote_errors import RemoteError, RemoteFailure, from_openai

__all__ = ["RemoteBackend", "RemoteHandle", "request_fields"]

CONNECT_TIMEOUT = 10.0  # seconds to open a connection: a dead host is known quickly
NO_KEY = "no-key"  # the client needs some key; a server without auth ignores it
_POLL = 0.05  # seconds between looks at the cancel flag while waiting for text


def finalize(comp: Completion, params: GenerationParams) -> Completion:
    """The checks the local engine makes on a reply, made on a remote one: tool
    calls (parsed from text if the server left them there), JSON and its schema."""
    if params.tools_active:
        if comp.tool_calls:
            _check_calls(comp, params)
            comp.finish_reason = "tool_calls"
        elif TOOL_OPEN in (comp.content or ""):
            extract_tool_calls(comp, params)
        return comp
    fmt = params.response_kind
    if fmt in ("json_object", "json_schema"):
        check_json(comp, params, fmt)
    return comp


def _check_calls(comp: Completion, params: GenerationParams) -> None:
    by_name = {t["function"]["name"]: t["function"] for t in params.tools or []}
    for call in comp.tool_calls:
        fn = call.get("function") or {}
        name = fn.get("name")
        if name not in by_name:
            comp.warnings.append(f"the model called an unknown tool {name!r}")
            continue
        try:
            args = json.loads(fn.get("arguments") or "{}")
        except json.JSONDecodeError:
            comp.warnings.append(f"tool call {name}: the arguments are not valid JSON")
            continue
        schema = by_name[name].get("parameters")
        if schema and (err := schema_error(args, schema)):
            comp.warnings.append(f"tool call {name}: arguments do not follow the schema: {err}")


class StreamReply:
    """A streamed reply put together chunk by chunk (text, tool calls, usage)."""

    def __init__(self, model: str, started: float) -> None:
        self.id = completion_id()
        self.model = model
        self.started = started
        self.first: float | None = None
        self.parts: list[str] = []
        self.calls: dict[int, dict[str, Any]] = {}
        self.finish_reason: str | None = None
        self.usage: Any = None
        self.timings: Any = None
        self.chunks = 0  # chunks that carried text: the token count when no usage comes
        self.logprobs: list[dict[str, Any]] = []  # what the server gave, chunk by chunk

    def add(self, chunk: Any) -> str:
        """Take one chunk; the text it adds."""
        if chunk.id:
            self.id = chunk.id
        if chunk.model:
            self.model = chunk.model
        if chunk.usage is not None:
            self.usage = chunk.usage
        extra = chunk.model_extra or {}
        if extra.get("timings") is not None:
            self.timings = extra["timings"]
        text = ""
        for choice in chunk.choices or []:
            delta = choice.delta
            if delta is not None:
                if delta.content:
                    text += delta.content
                for tc in delta.tool_calls or []:
                    self._add_call(tc)
            if choice.finish_reason:
                self.finish_reason = choice.finish_reason
            self.logprobs.extend(logprob_items(choice))
        if text or (self.calls and self.first is None):
            if self.first is None:
                self.first = time.perf_counter()
            if text:
                self.parts.append(text)
                self.chunks += 1
        return text

    def _add_call(self, tc: Any) -> None:
        call = self.calls.setdefault(
            tc.index or 0,
            {"id": None, "type": "function", "function": {"name": "", "arguments": ""}},
        )
        if tc.id:
            call["id"] = tc.id
        fn = tc.function
        if fn is not None:
            if fn.name:
                call["function"]["name"] += fn.name
            if fn.arguments:
                call["function"]["arguments"] += fn.arguments

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def _first_seconds(self, tokens: int) -> float | None:
        """Time to the first text, unless the reply came in one burst (a server that
        sends tool calls whole at the end): then it says nothing of the decode
        speed, which is taken over the whole time instead."""
        if self.first is None or (self.chunks <= 1 and tokens > 1):
            return None
        return self.first - self.started

    def completion(self, finish_reason: str | None = None, error: str | None = None) -> Completion:
        now = time.perf_counter()
        calls = []
        for i in sorted(self.calls):
            call = self.calls[i]
            calls.append({**call, "id": call["id"] or tool_call_id()})
        prompt, completion, cached = usage_numbers(self.usage, self.timings, self.chunks)
        text = self.text
        return Completion(
            id=self.id,
            model=self.model,
            content=text if text or not calls else None,
            finish_reason=finish_reason or self.finish_reason or "stop",
            prompt_tokens=prompt,
            completion_tokens=completion,
            seconds=now - self.started,
            first_token_seconds=self._first_seconds(completion),
            tool_calls=calls,
            error=error,
            cached_tokens=cached,
            logprobs=self.logprobs or None,
        )


def logprob_items(choice: Any) -> list[dict[str, Any]]:
    """A choice's logprobs.content as plain dicts (none when the server gave none)."""
    lps = getattr(choice, "logprobs", None)
    return [item.model_dump() for item in (getattr(lps, "content", None) or [])]


def usage_numbers(usage: Any, timings: Any = None, counted: int = 0) -> tuple[int, int, int]:
    """Prompt, completion and cached prompt tokens from a usage object (OpenAI's
    prompt_tokens_details.cached_tokens, or llama-server's timings.cache_n)."""
    if usage is None:
        return 0, counted, 0
    prompt = int(getattr(usage, "prompt_tokens", 0) or 0)
    completion = int(getattr(usage, "completion_tokens", 0) or 0)
    details = getattr(usage, "prompt_tokens_details", None)
    cached = int(getattr(details, "cached_tokens", 0) or 0) if details is not None else 0
    if not cached and isinstance(timings, dict):
        cached = int(timings.get("cache_n") or 0)
    return prompt, completion, cached


def completion_from_response(
    resp: Any, model: str, params: GenerationParams, seconds: float
) -> Completion:
    """A whole (not streamed) chat.completion as a Completion, checked."""
    choice = resp.choices[0] if resp.choices else None
    message = choice.message if choice is not None else None
    calls = [c.model_dump(exclude_none=True) for c in (message.tool_calls or [])] if message else []
    timings = (resp.model_extra or {}).get("timings")
    prompt, completion, cached = usage_numbers(resp.usage, timings)
    comp = Completion(
        id=resp.id or completion_id(),
        model=resp.model or model,
        content=message.content if message is not None else None,
        finish_reason=(choice.finish_reason if choice is not None else None) or "stop",
        prompt_tokens=prompt,
        completion_tokens=completion,
        seconds=seconds,
        tool_calls=calls,
        cached_tokens=cached,
        logprobs=(logprob_items(choice) or None) if choice is not None else None,
    )
    return finalize(comp, params)


class RemoteBackend:
    """One or more endpoints, tried in order; a client per endpoint, shared by threads."""

    def __init__(
        self,
        endpoints: list[Endpoint],
        model_flag: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        if not endpoints:
            raise ValueError("a remote backend needs at least one endpoint")
        self.endpoints = endpoints
        self.model_flag = model_flag
        self.timeout = timeout
        self.last_url = endpoints[0].url  # the endpoint that answered last
        self.template_kwargs: dict[str, Any] = {}  # --template-arg, sent as chat_template_kwargs
        self._clients: dict[str, Any] = {}
        self._models: dict[str, str] = {}
        self._apis: dict[str, str] = {}  # each endpoint's API, once known
        self._asking: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    @property
    def model_name(self) -> str:
        ep = self.endpoint(self.last_url)
        return ep.model or self.model_flag or self._models.get(ep.url) or "the server's model"

    @property
    def path(self) -> str:
        """What the log records in place of a model file: the endpoint's URL."""
        return self.last_url

    def endpoint(self, url: str) -> Endpoint:
        return next(e for e in self.endpoints if e.url == url)

    def client(self, ep: Endpoint) -> Any:
        with self._lock:
            found = self._clients.get(ep.url)
            if found is None:
                import openai

                found = openai.OpenAI(
                    base_url=ep.url,
                    api_key=ep.api_key or NO_KEY,
                    max_retries=0,  # retries are oruel's: elsewhere, with backoff
                    timeout=openai.Timeout(
                        self.timeout, connect=min(self.timeout, CONNECT_TIMEOUT)
                    ),
                )
                self._clients[ep.url] = found
            return found

    def model_for(
        self, ep: Endpoint, line_model: str | None = None, tier_model: str | None = None
    ) -> str:
        """The model name to send to `ep` (see endpoints.py); RemoteError if the
        server must be asked and cannot answer."""
        name = line_model or ep.model or self.model_flag or tier_model or self._models.get(ep.url)
        if name:
            return name
        with self._lock:
            asking = self._asking.setdefault(ep.url, threading.Lock())
        with asking:  # one GET per endpoint, however many threads start at once
            if ep.url in self._models:
                return self._models[ep.url]
            listed = self.list_models(ep)
            if not listed:
                raise RemoteError(
                    ep.url, "status", "the server lists no model (GET /v1/models); give --model",
                    status=404,
                )  # fmt: skip
            self._models[ep.url] = listed[0]
            return listed[0]

    def api_for(self, ep: Endpoint) -> str:
        """The API `ep` speaks: its config entry's, else asked once (fields.py);
        RemoteError if the server cannot be reached."""
        if ep.api is not None:
            return ep.api
        with self._lock:
            asking = self._asking.setdefault("api " + ep.url, threading.Lock())
        with asking:  # one detection per endpoint, however many threads start at once
            if ep.url not in self._apis:
                wait = min(self.timeout, CONNECT_TIMEOUT)
                self._apis[ep.url] = detect(ep.url, ep.api_key, wait)
            return self._apis[ep.url]

    def fields_for(
        self, ep: Endpoint, fields: dict[str, Any], params: GenerationParams
    ) -> dict[str, Any]:
        """The request's fields as `ep`'s API takes them; ParameterRefused (exit
        2) when it sets a parameter that API lacks."""
        return check_fields(self.api_for(ep), ep.url, fields, params)

    def learn_model_name(self) -> None:
        """Ask the first endpoint its model name now, if it must be asked (chat's banner)."""
        try:
            self.model_for(self.endpoints[0])
        except RemoteError:
            pass

    def list_models(self, ep: Endpoint) -> list[str]:
        """GET /v1/models: the ids the server serves (also the probe of a batch job)."""
        try:
            page = self.client(ep).models.list()
            return [m.id for m in page.data]
        except RemoteError:
            raise
        except Exception as e:
            raise from_openai(e, ep.url) from None

    def start(
        self,
        messages: list[dict[str, Any]],
        params: GenerationParams,
        system: str | None = None,
        *,
        request_id: str | None = None,
    ) -> RemoteHandle:
        return RemoteHandle(
            self, request_fields(messages, params, system, self.template_kwargs), params
        )

    def send(
        self,
        ep: Endpoint,
        fields: dict[str, Any],
        params: GenerationParams,
        line_model: str | None = None,
        tier_model: str | None = None,
    ) -> Completion:
        """One whole (not streamed) request to one endpoint: a batch line's attempt
        (`line_model`: an OpenAI line's body.model; `tier_model`: its tier
        profile's). RemoteError when it fails; ParameterRefused when the
        endpoint's API cannot take the line's parameters."""
        model = self.model_for(ep, line_model, tier_model)
        fields = self.fields_for(ep, fields, params)
        t0 = time.perf_counter()
        try:
            resp = self.client(ep).chat.completions.create(model=model, **fields)
        except Exception as e:
            raise from_openai(e, ep.url) from None
        return completion_from_response(resp, model, params, time.perf_counter() - t0)

    def close(self) -> None:
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for c in clients:
            try:
                c.close()
            except Exception:  # closing is best effort
                pass

    def __enter__(self) -> RemoteBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RemoteHandle:
    """One streamed request: the endpoints in order until one answers."""

    def __init__(self, backend: RemoteBackend, fields: dict[str, Any], params: GenerationParams):
        self.backend = backend
        self.params = params
        self.id = completion_id()
        self._fields = fields
        self._events: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._cancelled = threading.Event()
        self._reply: StreamReply | None = None
        self._result: Completion | None = None
        self._failure: OruelError | None = None  # RemoteFailure, or ParameterRefused
        self._ended = False
        self._opened = threading.Event()
        threading.Thread(target=self._read, daemon=True, name="oruel-remote").start()

    # -- the reading thread --------------------------------------------------------------

    def _read(self) -> None:
        errors: list[RemoteError] = []
        for ep in self.backend.endpoints:
            if self._cancelled.is_set():
                break
            try:
                outcome = self._try(ep)
            except ParameterRefused as e:  # the user's to change: no other endpoint is tried
                self._failure = e
                self._opened.set()
                self._events.put(("fail", e))
                return
            except Exception as e:  # whatever it was, the caller must hear of it, not hang
                e = e if isinstance(e, RemoteError) else from_openai(e, ep.url)
                errors.append(e)
                if e.retryable or e.endpoint_unusable:
                    continue  # nothing shown yet: the next endpoint
                break
            if outcome is not None:
                self.backend.last_url = ep.url
                self._events.put(("end", outcome))
                self._opened.set()
                return
            return  # cancelled while streaming
        if errors:
            self._failure = RemoteFailure(errors)
            self._opened.set()
            self._events.put(("fail", self._failure))

    def _try(self, ep: Endpoint) -> Completion | None:
        """Stream from one endpoint; RemoteError if it failed before any text came
        (a failure after that ends the reply with an error)."""
        model = self.backend.model_for(ep)
        fields = self.backend.fields_for(ep, self._fields, self.params)
        started = time.perf_counter()
        try:
            stream = self.backend.client(ep).chat.completions.create(
                model=model, stream=True, stream_options={"include_usage": True}, **fields
            )
        except Exception as e:
            raise from_openai(e, ep.url) from None
        reply = StreamReply(model, started)
        self._reply = reply
        self._opened.set()
        try:
            for chunk in stream:
                text = reply.add(chunk)
                if text:
                    self._events.put(("text", text))
                if self._cancelled.is_set():
                    return None
        except Exception as e:
            err = e if isinstance(e, RemoteError) else from_openai(e, ep.url)
            if not reply.parts and not reply.calls and err.retryable:
                self._reply = None
                raise err from None
            return reply.completion(error=err.describe())
        finally:
            try:
                stream.close()  # a cancel: the server sees the client go and frees its slot
            except Exception:
                pass
        return finalize(reply.completion(), self.params)

    # -- the caller's side ---------------------------------------------------------------

    def __iter__(self) -> Iterator[str]:
        """The text as it comes; RemoteFailure if every endpoint failed."""
        while not self._ended:
            if self._cancelled.is_set():
                self._ended = True
                return
            try:
                kind, value = self._events.get(timeout=_POLL)
            except queue.Empty:
                continue
            if kind == "text":
                yield value
            elif kind == "end":
                self._result, self._ended = value, True
            else:
                self._ended = True
                raise value

    def wait_open(self) -> None:
        """Wait until an endpoint has answered with a stream, or all failed (then
        raise their RemoteFailure); a cancel returns at once."""
        while not self._opened.wait(_POLL):
            if self._cancelled.is_set():
                return
        if self._failure is not None:
            raise self._failure

    def cancel(self) -> None:
        """Stop reading (safe in a signal handler: it only sets a flag)."""
        self._cancelled.set()

    def result(self) -> Completion:
        for _ in self:
            pass
        if self._result is not None:
            return self._result
        if self._failure is not None:
            raise self._failure
        reply = self._reply or StreamReply(self.backend.model_name, time.perf_counter())
        return reply.completion(finish_reason="cancelled")
