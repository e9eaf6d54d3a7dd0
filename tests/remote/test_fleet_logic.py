"""The pure logic under `--endpoint`: endpoints from flags and config, the
request body, error classification, Retry-After, backoff and the rotation of
endpoints. No server, no model."""

from __future__ import annotations

import email.utils
import random

import pytest

from oruel_cli.backends.endpoints import (
    model_flag_name,
    normalize_url,
    parse_timeout,
    resolve_endpoints,
    runtime_notice,
)
from oruel_cli.backends.fields import request_fields
from oruel_cli.backends.remote_errors import (
    MAX_RETRY_AFTER,
    RemoteError,
    RemoteFailure,
    parse_retry_after,
    retry_after_of,
    server_message,
)
from oruel_cli.config import Config
from oruel_cli.errors import UsageError
from oruel_cli.fleet.backoff import CAP, backoff, retry_delay
from oruel_cli.fleet.rotation import COOLING, OUT, OUT_AFTER, UNUSABLE, UP, EndpointState, Rotation
from oruel_cli.params.model import GenerationParams

URL = "http://a:8000/v1"


def conn(url: str = URL) -> RemoteError:
    return RemoteError(url, "connection", "connection refused")


def status(code: int, retry_after: float | None = None, url: str = URL) -> RemoteError:
    return RemoteError(url, "status", "nope", status=code, retry_after=retry_after)


# --- endpoints ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "given, url",
    [
        ("http://a:8000", "http://a:8000/v1"),
        ("http://a:8000/", "http://a:8000/v1"),
        ("http://a:8000/v1/", "http://a:8000/v1"),
        ("https://api.example.com/openai/v1", "https://api.example.com/openai/v1"),
    ],
)
def test_urls_are_normalized(given, url):
    assert normalize_url(given) == url


@pytest.mark.parametrize("bad", ["a:8000", "ftp://a/v1", "http://", "http://a:99999/v1", ""])
def test_a_bad_url_is_a_usage_error(bad):
    with pytest.raises(UsageError, match="invalid --endpoint"):
        normalize_url(bad)


def test_timeout_parsing():
    assert parse_timeout(None) == 600 and parse_timeout("2.5") == 2.5
    for bad in ("0", "-1", "nan", "soon", "1e9"):
        with pytest.raises(UsageError, match="invalid --timeout"):
            parse_timeout(bad)


def config(**data) -> Config:
    return Config.model_validate(data)


def test_flags_win_and_take_a_matching_entry_settings(monkeypatch):
    monkeypatch.setenv("FLEET_KEY", "sekrit")
    cfg = config(
        endpoints=[
            {"url": "http://a:8000/v1", "api_key_env": "FLEET_KEY", "model": "m-a", "parallel": 16},
            {"url": "http://b:8000/v1"},
        ]
    )
    (ep,) = resolve_endpoints(["http://a:8000/"], None, cfg)
    assert (ep.url, ep.api_key, ep.model, ep.parallel) == ("http://a:8000/v1", "sekrit", "m-a", 16)
    assert [e.url for e in resolve_endpoints(None, None, cfg)] == [
        "http://a:8000/v1",
        "http://b:8000/v1",
    ]
    # --api-key wins over the entry's variable; a URL given twice is used once
    eps = resolve_endpoints(["http://c/v1", "http://c/v1/"], "k", cfg)
    assert [(e.url, e.api_key, e.model) for e in eps] == [("http://c/v1", "k", None)]
    assert resolve_endpoints(None, None, Config()) == []


def test_a_tier_profile_names_its_own_endpoints():
    cfg = config(
        endpoints=[{"url": "http://big/v1"}],
        tiers={"turbo": {"endpoints": [{"url": "http://fast/v1", "model": "small"}]}},
    )
    assert [e.url for e in resolve_endpoints(None, None, cfg, "turbo")] == ["http://fast/v1"]
    assert [e.url for e in resolve_endpoints(None, None, cfg, "standard")] == ["http://big/v1"]


def test_an_unset_key_variable_is_a_usage_error(monkeypatch):
    monkeypatch.delenv("NO_SUCH_KEY", raising=False)
    cfg = config(endpoints=[{"url": "http://a/v1", "api_key_env": "NO_SUCH_KEY"}])
    with pytest.raises(UsageError, match=r"\$NO_SUCH_KEY"):
        resolve_endpoints(None, None, cfg)
    assert resolve_endpoints(None, "given", cfg)[0].api_key == "given"


def test_model_names_sent():
    cfg = config(
        aliases={"maverick": "meta-llama/Llama-4-Maverick", "local": "~/m/x.gguf"},
        tiers={"turbo": {"model": "maverick"}},
    )
    assert model_flag_name("maverick", cfg) == "meta-llama/Llama-4-Maverick"
    assert model_flag_name("local", cfg) == "local"  # an alias of a local file: the name itself
    assert model_flag_name("gpt-4o", cfg) == "gpt-4o"
    assert model_flag_name(None, cfg) is None
    assert model_flag_name(None, cfg, "turbo") == "meta-llama/Llama-4-Maverick"


def test_runtime_flags_get_one_notice():
    assert runtime_notice({}) is None
    assert runtime_notice({"ctx": 512}) == (
        "--ctx has no effect with --endpoint: the server runs the model"
    )
    assert runtime_notice({"ctx": 1, "repack": "on"}).startswith("--ctx, --repack have")


# --- the request ----------------------------------------------------------------------


def test_defaults_send_explicit_offs_and_both_penalty_names():
    kw = request_fields([{"role": "user", "content": "hi"}], GenerationParams(), None)
    assert kw["messages"] == [{"role": "user", "content": "hi"}]
    assert (kw["temperature"], kw["top_p"]) == (0.7, 1.0)
    assert (kw["frequency_penalty"], kw["presence_penalty"]) == (0.0, 0.0)
    assert kw["extra_body"] == {
        "top_k": 0,
        "min_p": 0.0,
        "repetition_penalty": 1.0,
        "repeat_penalty": 1.0,
    }
    for unset in ("seed", "max_tokens", "stop", "response_format", "tools", "tool_choice"):
        assert unset not in kw
    assert "stream" not in kw and "model" not in kw


def test_every_set_parameter_is_sent():
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    p = GenerationParams(
        temperature=0, top_p=0.9, top_k=40, min_p=0.05, seed=7, max_tokens=12, stop=["\n\n"],
        frequency_penalty=0.5, presence_penalty=-0.5, repetition_penalty=1.2,
        response_format={"type": "json_object"}, tools=tools, tool_choice="required", tier="turbo",
    )  # fmt: skip
    kw = request_fields([{"role": "user", "content": "hi"}], p, "be brief")
    assert kw["messages"][0] == {"role": "system", "content": "be brief"}
    assert (kw["seed"], kw["max_tokens"], kw["stop"]) == (7, 12, ["\n\n"])
    assert kw["tools"] == tools and kw["tool_choice"] == "required"
    assert kw["response_format"] == {"type": "json_object"}
    assert kw["extra_body"] == {
        "top_k": 40,
        "min_p": 0.05,
        "repetition_penalty": 1.2,
        "repeat_penalty": 1.2,
        "tier": "turbo",
    }


def test_a_system_message_in_the_messages_is_never_doubled():
    msgs = [{"role": "system", "content": "mine"}, {"role": "user", "content": "hi"}]
    kw = request_fields(msgs, GenerationParams(), "the preset's")
    assert kw["messages"] == msgs


# --- errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "err, retry, unusable",
    [
        (conn(), True, False),
        (RemoteError(URL, "timeout", "slow"), True, False),
        (status(429), True, False),
        (status(500), True, False),
        (status(503), True, False),
        (status(400), False, False),
        (status(404), False, False),
        (status(422), False, False),
        (status(401), False, True),
        (status(403), False, True),
    ],
)
def test_what_a_failure_means(err, retry, unusable):
    assert (err.retryable, err.endpoint_unusable) == (retry, unusable)


def test_context_length_refusals_are_recognized():
    too_long = RemoteError(
        URL, "status", "the prompt is 900 tokens", 400, code="context_length_exceeded"
    )
    vllm = RemoteError(URL, "status", "This model's maximum context length is 2048 tokens", 400)
    assert too_long.context_too_long and vllm.context_too_long
    assert not status(400).context_too_long and not status(500).context_too_long


def test_failure_lines_name_each_endpoint():
    one = RemoteFailure([conn()])
    assert str(one) == f"the endpoint failed: {URL}: connection refused"
    two = RemoteFailure([conn(), status(401, url="http://b/v1")])
    assert str(two).startswith("every endpoint failed: ") and "http://b/v1: HTTP 401: nope" in str(
        two
    )
    assert "--api-key" in str(two) and one.exit_code == 1


def test_server_messages():
    body = {"error": {"message": "invalid temperature 9", "code": "invalid_parameter"}}
    assert server_message(body, "x") == ("invalid temperature 9", "invalid_parameter")
    assert server_message(b'{"error": "plain"}', "x") == ("plain", None)
    assert server_message("not json", "x") == ("not json", None)
    assert server_message(None, "fallback") == ("fallback", None)


def test_retry_after_parsing():
    assert parse_retry_after("3") == 3.0 and parse_retry_after(" 0.5 ") == 0.5
    assert parse_retry_after(None) is None and parse_retry_after("") is None
    assert parse_retry_after("soon") is None and parse_retry_after("nan") is None
    assert parse_retry_after("-4") == 0.0 and parse_retry_after("1e9") == MAX_RETRY_AFTER
    now = 1_700_000_000.0
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert parse_retry_after(date, now=now) == pytest.approx(30, abs=1)
    assert parse_retry_after(email.utils.formatdate(now - 30, usegmt=True), now=now) == 0.0
    assert retry_after_of({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert retry_after_of({"retry-after": "2"}) == 2.0 and retry_after_of({}) is None


# --- backoff --------------------------------------------------------------------------


def test_backoff_doubles_with_jitter_up_to_the_cap():
    rng = random.Random(1)
    assert backoff(0) == 0.0
    for n in range(1, 12):
        d = min(CAP, 0.5 * 2 ** (n - 1))
        draws = [backoff(n, rng) for _ in range(200)]
        assert all(d / 2 <= x <= d for x in draws), n
        assert max(draws) - min(draws) > d / 4  # jitter: they do not come back together
    assert backoff(10_000, rng) <= CAP


def test_retry_after_is_a_floor():
    rng = random.Random(2)
    assert retry_delay(1, 10.0, rng) == 10.0
    assert 0.25 <= retry_delay(1, 0.0, rng) <= 0.5
    assert 0.25 <= retry_delay(1, None, rng) <= 0.5


# --- rotation -------------------------------------------------------------------------


def state(url: str = URL, capacity: int = 2) -> EndpointState:
    return EndpointState(url, capacity, rng=random.Random(3))


def test_capacity_bounds_what_an_endpoint_takes():
    s = state(capacity=2)
    assert s.takes_lines(0)
    s.in_flight = 2
    assert not s.takes_lines(0)


def test_failures_cool_down_then_take_out_until_a_probe_answers():
    s = state()
    s.failed(conn(), now=100)
    assert s.state == COOLING and not s.takes_lines(100) and s.usable
    assert s.takes_lines(100 + 1)  # the cool-down (<= 0.5 s) is over
    for _ in range(OUT_AFTER - 1):
        s.failed(conn(), now=101)
    assert s.state == OUT and not s.usable and not s.takes_lines(10_000)
    assert not s.probe_due(101) and s.probe_due(s.until)
    s.probing = True
    assert not s.probe_due(s.until)
    first = s.until
    s.probed(False, now=first)
    assert s.state == OUT and s.until > first  # the next probe, later (backoff)
    s.probed(True, now=s.until)
    assert s.state == UP and s.failures == 0 and s.takes_lines(s.until)


def test_a_success_resets_the_count():
    s = state()
    for _ in range(OUT_AFTER - 1):
        s.failed(conn(), now=0)
    s.succeeded()
    s.failed(conn(), now=0)
    assert s.state == COOLING and s.failures == 1


def test_429_cools_for_retry_after_but_never_takes_out():
    s = state()
    for _ in range(10):
        s.failed(status(429, retry_after=5.0), now=0)
    assert s.state == COOLING and s.failures == 0
    assert not s.takes_lines(4.9) and s.takes_lines(5.0)


def test_a_503_retry_after_is_honoured():
    s = state()
    s.failed(status(503, retry_after=7.0), now=0)
    assert not s.takes_lines(6.9) and s.takes_lines(7.0)


def test_401_and_403_make_an_endpoint_unusable_for_good():
    for code in (401, 403):
        s = state()
        s.failed(status(code), now=0)
        assert s.state == UNUSABLE and not s.usable and not s.probe_due(1e9)
        s.succeeded()  # a request sent before still answering changes nothing
        assert s.state == UNUSABLE


def test_late_failures_of_an_endpoint_already_out_change_nothing():
    s = state()
    for _ in range(OUT_AFTER):
        s.failed(conn(), now=0)
    until = s.until
    s.failed(conn(), now=0)
    assert s.state == OUT and s.until == until


def test_pick_prefers_an_endpoint_the_line_has_not_failed_on_then_the_least_loaded():
    a, b, c = state("http://a/v1", 4), state("http://b/v1", 4), state("http://c/v1", 8)
    rot = Rotation([a, b, c])
    a.in_flight, b.in_flight, c.in_flight = 0, 1, 4
    assert rot.pick(0, set()) is a
    assert rot.pick(0, {"http://a/v1"}) is b
    assert rot.pick(0, {"http://a/v1", "http://b/v1", "http://c/v1"}) is a  # all tried: any
    a.in_flight = b.in_flight = 4
    c.in_flight = 8
    assert rot.pick(0, set()) is None


def test_rotation_knows_when_all_are_down_or_unusable():
    a, b = state("http://a/v1"), state("http://b/v1")
    rot = Rotation([a, b])
    assert rot.any_usable() and not rot.all_unusable()
    for _ in range(OUT_AFTER):
        a.failed(conn("http://a/v1"), now=0)
    assert rot.any_usable()
    b.failed(status(401, url="http://b/v1"), now=0)
    assert not rot.any_usable() and not rot.all_unusable()
    assert rot.due_probes(a.until) == [a] and rot.next_change() == a.until
    a.failed(status(403), now=0)
    assert rot.all_unusable()
