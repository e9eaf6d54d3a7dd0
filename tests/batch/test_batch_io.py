"""Batch input and output, without a model: the three line forms, ids and line
numbers, bad lines, streaming, the overwrite/resume rules and the record shapes
(the three line forms, records, resume)."""

from __future__ import annotations

import json
import os
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from oruel_cli.batch.output import ResultWriter, default_output, prepare_output
from oruel_cli.batch.reader import BatchLine, LineError, count_lines, read_batch
from oruel_cli.batch.records import error_record, record_id, record_ok, success_record
from oruel_cli.errors import UsageError


def write_lines(path: Path, lines: list[Any]) -> Path:
    """Each item: a str written as is, anything else as JSON."""
    text = "".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines)
    path.write_text(text, encoding="utf-8")
    return path


def openai_line(custom_id: str, **body: Any) -> dict[str, Any]:
    body.setdefault("messages", [{"role": "user", "content": "hi"}])
    return {"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions", "body": body}


def one(tmp_path: Path, line: Any) -> BatchLine:
    (parsed,) = list(read_batch(write_lines(tmp_path / "one.jsonl", [line])))
    return parsed


# ------------------------------------------------------------------ reading


def test_three_forms_ids_and_line_numbers(tmp_path: Path) -> None:
    msgs = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "2+2?"}]
    path = write_lines(
        tmp_path / "jobs.jsonl",
        [
            {"prompt": "hello", "id": "a", "temperature": 0, "system": "sys", "preset": "qa"},
            "",
            "   \t",
            {"messages": msgs, "seed": 7, "tier": "turbo"},
            openai_line("req-1", model="gpt-4o-mini", temperature=0.2, top_k=5),
            {"prompt": "no id"},
        ],
    )
    lines = list(read_batch(path))
    assert [x.line_no for x in lines] == [1, 4, 5, 6]
    assert [x.id for x in lines] == ["a", "line-4", "req-1", "line-6"]
    assert [x.form for x in lines] == ["simple", "simple", "openai", "simple"]
    assert all(x.error is None for x in lines)

    first, second, third, fourth = lines
    assert first.messages == [{"role": "user", "content": "hello"}]
    assert first.params == {"temperature": 0}
    assert (first.system, first.preset, first.model) == ("sys", "qa", None)
    assert second.messages == msgs
    assert second.params == {"seed": 7, "tier": "turbo"}
    assert third.messages == [{"role": "user", "content": "hi"}]
    assert third.params == {"temperature": 0.2, "top_k": 5}
    assert third.model == "gpt-4o-mini"
    assert fourth.params == {}
    assert count_lines(path) == 4


def test_count_lines_without_final_newline(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_bytes(b'{"prompt": "a"}\n\n  \r\n{"prompt": "b"}\r\n{"prompt": "c"}')
    assert count_lines(path) == 3
    assert [x.line_no for x in read_batch(path)] == [1, 4, 5]


def test_max_completion_tokens_alias(tmp_path: Path) -> None:
    line = one(tmp_path, openai_line("r", max_completion_tokens=32))
    assert line.error is None and line.params == {"max_tokens": 32}
    both = one(tmp_path, openai_line("r", max_completion_tokens=32, max_tokens=16))
    assert both.error is not None and "max_completion_tokens" in both.error.message
    assert both.id == "r"
    # only form 3 knows the alias
    simple = one(tmp_path, {"prompt": "x", "max_completion_tokens": 3})
    assert simple.error is not None and simple.error.code == "unknown_parameter"
    assert "max_tokens" in simple.error.message


def test_n_must_be_one(tmp_path: Path) -> None:
    assert one(tmp_path, openai_line("r", n=1)).error is None
    for bad in (2, 0, True, 1.0, "1"):
        line = one(tmp_path, openai_line("r", n=bad))
        assert line.error is not None, bad
        assert "n" in line.error.message and "1" in line.error.message


def test_ignored_openai_fields_are_dropped(tmp_path: Path) -> None:
    line = one(
        tmp_path,
        openai_line(
            "r",
            user="u1",
            metadata={"k": "v"},
            store=False,
            service_tier="auto",
            parallel_tool_calls=True,
            stream_options={"include_usage": True},
            seed=3,
        ),
    )
    assert line.error is None
    assert line.params == {"seed": 3}


def test_stream_is_accepted(tmp_path: Path) -> None:
    line = one(tmp_path, {"prompt": "x", "stream": True})
    assert line.error is None and line.params == {"stream": True}


def test_unknown_field_names_it_with_a_suggestion(tmp_path: Path) -> None:
    line = one(tmp_path, {"prompt": "x", "temprature": 0.5})
    assert line.error is not None
    assert line.error.code == "unknown_parameter"
    assert "'temprature'" in line.error.message
    assert "did you mean temperature?" in line.error.message
    assert "top_p" in line.error.message  # lists what is allowed

    body = one(tmp_path, openai_line("r", top_pp=0.5))
    assert body.error is not None and body.error.code == "unknown_parameter"
    assert "'top_pp'" in body.error.message and "did you mean top_p?" in body.error.message
    assert body.id == "r" and body.form == "openai"

    nothing_close = one(tmp_path, {"prompt": "x", "zzzz": 1})
    assert nothing_close.error is not None and "did you mean" not in nothing_close.error.message


def test_bad_lines_are_errors_with_their_line_numbers(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "bad.jsonl",
        [
            "{not json",  # 1
            '{"prompt": "x", "temperature": NaN}',  # 2
            '{"prompt": "x", "temperature": Infinity}',  # 3
            '{"prompt": "x", "temperature": 1e999}',  # 4
            "[1, 2]",  # 5
            "",  # 6
            {"prompt": "x", "messages": [{"role": "user", "content": "y"}]},  # 7
            {"temperature": 1},  # 8
            {"prompt": "x", "id": 5},  # 9
            {"prompt": 3},  # 10
            {"messages": []},  # 11
            {"messages": [{"content": "no role"}]},  # 12
            openai_line("r", temperature=1) | {"method": "GET"},  # 13
            openai_line("s") | {"url": "/v1/embeddings"},  # 14
            {"custom_id": "", "method": "POST", "url": "/v1/chat/completions", "body": {}},  # 15
            {"custom_id": "t", "method": "POST", "url": "/v1/chat/completions", "body": {}},  # 16
            "[" * 100_000,  # 17: nested too deeply for the parser
        ],
    )
    lines = {x.line_no: x for x in read_batch(path)}
    for n in (1, 2, 3, 4, 5, 17):
        assert lines[n].error is not None and lines[n].error.code == "invalid_json", n
        assert lines[n].id == f"line-{n}" and lines[n].form == "simple"
    assert "NaN" in lines[2].error.message
    for n in (7, 8, 9, 10, 11, 12, 13, 14, 15, 16):
        assert lines[n].error is not None and lines[n].error.code == "invalid_line", n
    assert lines[9].id == "line-9"
    assert [lines[n].id for n in (13, 14, 15, 16)] == ["r", "s", "line-15", "t"]
    assert all(lines[n].form == "openai" for n in (13, 14, 15, 16))
    assert 6 not in lines


def test_a_line_that_is_not_utf8_is_that_lines_error(tmp_path: Path) -> None:
    """A Latin-1 line or binary junk among good lines: an invalid_json error for
    that line (naming the byte), never a crash of the whole job."""
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(
        b'{"prompt": "one"}\n'
        b'{"prompt": "caf\xe9"}\n'  # Latin-1
        b"\x89PNG\x00\xff\xd8\n"  # binary
        b'{"prompt": "two", "id": "b"}\n'
    )
    lines = list(read_batch(path))
    assert [x.line_no for x in lines] == [1, 2, 3, 4]
    assert [x.id for x in lines] == ["line-1", "line-2", "line-3", "b"]
    assert lines[0].error is None and lines[3].error is None
    for bad in lines[1:3]:
        assert bad.error is not None and bad.error.code == "invalid_json"
        assert bad.error.message.startswith("the line is not UTF-8 text (byte 0x")
    assert "byte 0xe9 at column 16" in lines[1].error.message
    assert "byte 0x89 at column 1" in lines[2].error.message
    assert count_lines(path) == 4
    rec = error_record(lines[1], lines[1].error)
    assert rec["id"] == "line-2" and rec["error"]["line"] == 2


def test_duplicate_id_gets_line_id_and_error(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "dup.jsonl",
        [
            {"prompt": "a", "id": "x"},
            {"prompt": "b", "id": "x"},
            openai_line("x"),
            {"prompt": "c", "id": "y", "bogus": 1},  # an error, but it keeps (and uses) "y"
            {"prompt": "d", "id": "y"},
        ],
    )
    lines = list(read_batch(path))
    assert lines[0].id == "x" and lines[0].error is None
    for line in (lines[1], lines[2]):
        assert line.id == f"line-{line.line_no}"
        assert line.error is not None and line.error.code == "duplicate_id"
        assert "line 1" in line.error.message
    assert lines[3].id == "y" and lines[3].error is not None
    assert lines[4].id == "line-5" and lines[4].error is not None
    assert lines[4].error.code == "duplicate_id"


def test_explicit_line_ids_cannot_collide(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "ids.jsonl",
        [{"prompt": "a", "id": "line-2"}, {"prompt": "b"}, {"prompt": "c", "id": "line-3"}],
    )
    lines = list(read_batch(path))
    assert lines[0].id == "line-1" and lines[0].error is not None
    assert lines[1].id == "line-2" and lines[1].error is None
    assert lines[2].id == "line-3" and lines[2].error is None  # its own number: fine
    assert len({x.id for x in lines}) == 3


def test_missing_input_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="input file not found"):
        read_batch(tmp_path / "nope.jsonl")
    with pytest.raises(UsageError, match="input file not found"):
        read_batch(tmp_path)


def test_a_large_file_is_streamed(tmp_path: Path) -> None:
    n = 200_000
    path = tmp_path / "big.jsonl"
    line = json.dumps({"prompt": "p" * 80, "temperature": 0.5}) + "\n"
    with open(path, "w") as f:
        for _ in range(n):
            f.write(line)
    size = path.stat().st_size
    assert count_lines(path) == n

    it = read_batch(path)
    assert iter(it) is it  # a generator, not a list
    # Trace the start (where reading the whole file would happen) and the first
    # 20k lines (where keeping lines would show), then read the rest untraced.
    traced = 20_000
    tracemalloc.start()
    try:
        for seen, parsed in enumerate(it, start=1):
            assert parsed.error is None and parsed.line_no == seen
            if seen == traced:
                break
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < size / 20, (peak, size)  # < 5% of the file (~1 MB of 20 MB)
    assert seen + sum(1 for _ in it) == n


# ------------------------------------------------------------------ output file


def test_default_output() -> None:
    assert default_output(Path("/d/jobs.jsonl")) == Path("/d/jobs.results.jsonl")
    assert default_output(Path("jobs.txt")) == Path("jobs.txt.results.jsonl")
    assert default_output(Path("jobs")) == Path("jobs.results.jsonl")


def test_prepare_output_refusals(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    content = b'{"id": "a", "output": "x", "error": null}\n{"id": "b", "err'
    out.write_bytes(content)
    with pytest.raises(UsageError, match="--resume") as e:
        prepare_output(out, resume=False, overwrite=False)
    assert e.value.exit_code == 2
    assert out.read_bytes() == content
    with pytest.raises(UsageError):
        prepare_output(out, resume=True, overwrite=True)
    assert out.read_bytes() == content
    with pytest.raises(UsageError):
        prepare_output(None, resume=True, overwrite=False)
    with pytest.raises(UsageError):
        prepare_output(None, resume=True, overwrite=True)
    with pytest.raises(UsageError):
        prepare_output(tmp_path / "missing" / "out.jsonl", resume=False, overwrite=False)
    assert out.read_bytes() == content
    # the input itself is never the output
    with pytest.raises(UsageError, match="input"):
        prepare_output(out, resume=False, overwrite=True, input_path=out)
    assert out.read_bytes() == content
    assert sorted(os.listdir(tmp_path)) == ["out.jsonl"]


def test_prepare_output_fresh_and_stdout(tmp_path: Path) -> None:
    assert prepare_output(None, resume=False, overwrite=False) == set()
    assert prepare_output(None, resume=False, overwrite=True) == set()
    out = tmp_path / "new.jsonl"
    assert prepare_output(out, resume=False, overwrite=False) == set()
    assert prepare_output(out, resume=True, overwrite=False) == set()  # nothing to resume
    assert not out.exists()


def test_overwrite_truncates(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_text('{"id": "a", "error": null}\n')
    assert prepare_output(out, resume=False, overwrite=True) == set()
    assert out.read_bytes() == b""
    assert os.listdir(tmp_path) == ["out.jsonl"]


def test_resume_keeps_whole_successes_only(tmp_path: Path) -> None:
    ok_a = {
        "id": "a",
        "output": "A",
        "finish_reason": "stop",
        "usage": {},
        "params": {},
        "error": None,
    }
    err_b = {"id": "b", "output": None, "finish_reason": None, "usage": None, "params": None,
             "error": {"code": "generation_failed", "message": "m", "line": 2}}  # fmt: skip
    ok_c = {
        "id": "batch_req_1",
        "custom_id": "c",
        "response": {"status_code": 200, "request_id": "chatcmpl-1", "body": {}},
        "error": None,
    }
    err_d = {"id": "batch_req_2", "custom_id": "d", "response": None,
             "error": {"code": "invalid_line", "message": "m", "line": 4}}  # fmt: skip
    ok_a_again = dict(ok_a, output="A2")
    ok_e = dict(ok_a, id="é")
    lines = [ok_a, err_b, ok_c, err_d, "[1, 2]", "not json", ok_a_again, ok_e]
    out = tmp_path / "out.jsonl"
    text = "".join(
        (x if isinstance(x, str) else json.dumps(x, ensure_ascii=False)) + "\n" for x in lines
    )
    out.write_bytes(text.encode() + b'{"id": "f", "output": "torn')
    os.chmod(out, 0o640)

    done = prepare_output(out, resume=True, overwrite=False)
    assert done == {"a", "c", "é"}
    kept = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert kept == [ok_a, ok_c, ok_e]
    assert out.read_bytes().endswith(b"\n")
    assert os.listdir(tmp_path) == ["out.jsonl"]  # no temp file left behind
    assert (out.stat().st_mode & 0o777) == 0o640

    # a second resume changes nothing
    before = out.read_bytes()
    assert prepare_output(out, resume=True, overwrite=False) == done
    assert out.read_bytes() == before


def test_result_writer_appends_whole_lines(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_text('{"id": "old", "error": null}\n')
    records = [
        {"id": "a", "output": "héllo\nworld", "error": None},
        {"id": "b", "output": "\ud800 lone surrogate", "error": None},
    ]
    with ResultWriter(out) as w:
        for r in records:
            w.write(r)
            assert out.read_bytes().endswith(b"\n")  # each record on disk as it is written
    raw = out.read_bytes()
    assert "héllo".encode() in raw  # UTF-8, not \u escapes
    lines = raw.decode("utf-8").splitlines()
    assert len(lines) == 3
    assert [json.loads(x)["id"] for x in lines] == ["old", "a", "b"]
    assert json.loads(lines[1]) == records[0]


def test_result_writer_stdout(capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    with ResultWriter(None) as w:
        w.write({"id": "a", "output": "ü", "error": None})
    out = capsysbinary.readouterr().out
    assert out == '{"id": "a", "output": "ü", "error": null}\n'.encode()


# ------------------------------------------------------------------ records

COMPLETION = {
    "id": "chatcmpl-123",
    "object": "chat.completion",
    "created": 1700000000,
    "model": "qwen2.5-0.5b-instruct",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "4"}, "finish_reason": "stop"}
    ],
    "usage": {"prompt_tokens": 10, "completion_tokens": 1, "total_tokens": 11},
}


def test_simple_records() -> None:
    line = BatchLine(line_no=3, id="q1", form="simple", messages=[], params={"seed": 1})
    params = {"temperature": 0.0, "seed": 1}
    rec = success_record(line, COMPLETION, params)
    assert rec == {
        "id": "q1",
        "output": "4",
        "finish_reason": "stop",
        "usage": COMPLETION["usage"],
        "params": params,
        "error": None,
    }
    assert record_ok(rec) and record_id(rec) == "q1"

    call = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    with_calls = json.loads(json.dumps(COMPLETION))
    with_calls["choices"][0]["message"] = {
        "role": "assistant",
        "content": None,
        "tool_calls": [call],
    }
    with_calls["choices"][0]["finish_reason"] = "tool_calls"
    rec = success_record(line, with_calls, params)
    assert rec["tool_calls"] == [call] and rec["output"] is None
    assert rec["finish_reason"] == "tool_calls"

    err = error_record(line, LineError("invalid_parameter", "invalid temperature 5"))
    assert err == {
        "id": "q1",
        "output": None,
        "finish_reason": None,
        "usage": None,
        "params": None,
        "error": {"code": "invalid_parameter", "message": "invalid temperature 5", "line": 3},
    }
    assert not record_ok(err) and record_id(err) == "q1"


def test_openai_records() -> None:
    line = BatchLine(line_no=2, id="req-7", form="openai", messages=[], model="gpt-4o")
    rec = success_record(line, COMPLETION, {"temperature": 0.7})
    assert set(rec) == {"id", "custom_id", "response", "error"}
    assert rec["id"].startswith("batch_req_")
    assert rec["custom_id"] == "req-7" and rec["error"] is None
    assert rec["response"]["status_code"] == 200
    assert rec["response"]["request_id"] == "chatcmpl-123"
    assert rec["response"]["body"] == dict(COMPLETION, model="gpt-4o")
    assert COMPLETION["model"] == "qwen2.5-0.5b-instruct"  # not mutated
    assert record_ok(rec) and record_id(rec) == "req-7"

    no_model = BatchLine(line_no=2, id="req-8", form="openai")
    assert success_record(no_model, COMPLETION, {})["response"]["body"] == COMPLETION

    err = error_record(line, LineError("context_length_exceeded", "too long"))
    assert set(err) == {"id", "custom_id", "response", "error"}
    assert err["id"].startswith("batch_req_") and err["custom_id"] == "req-7"
    assert err["response"] is None
    assert err["error"] == {"code": "context_length_exceeded", "message": "too long", "line": 2}
    assert not record_ok(err) and record_id(err) == "req-7"


def test_not_json_line_gets_simple_error_record(tmp_path: Path) -> None:
    line = one(tmp_path, "{oops")
    rec = error_record(line, line.error)  # type: ignore[arg-type]
    assert rec["id"] == "line-1" and rec["output"] is None
    assert rec["error"]["code"] == "invalid_json" and rec["error"]["line"] == 1
