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

import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

from ..api.ids import completion_id
from ..engine.reply import Completion
from ..errors import OruelError
from ..params.model import GenerationParams
from .base import Thought
from .endpoints import DEFAULT_TIMEOUT, Endpoint
from .fields import ParameterRefused, check_fields, detect, request_fields
from .remote_errors import RemoteError, RemoteFailure, from_openai
from .remote_reply import StreamReply, completion_from_response, finalize

__all__ = ["RemoteBackend", "RemoteHandle", "request_fields"]

CONNECT_TIMEOUT = 10.0  # seconds to open a connection: a dead host is known quickly
NO_KEY = "no-key"  # the client needs some key; a server without auth ignores it
_POLL = 0.05  # seconds between looks at the cancel flag while waiting for text


class RemoteBackend:
    """One or more endpoints, tried in order; a client per endpoint, shared by threads."""

    remote = True

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
                if reply.thought:
                    self._events.put(("text", Thought(reply.thought)))
                if text:
                    self._events.put(("text", text))
                if self._cancelled.is_set():
                    return None
        except Exception as e:
            err = e if isinstance(e, RemoteError) else from_openai(e, ep.url)
            if not reply.chunks and not reply.calls and err.retryable:
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
        """The text as it comes (thinking the server sent apart as `Thought` pieces);
        RemoteFailure if every endpoint failed."""
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
