"""Pure logic of streamed text: UTF-8 safety and stop strings held back."""

from hypothesis import given
from hypothesis import strategies as st

from oruel_cli.engine.text import Detokenizer, StopMatcher


def test_a_character_split_across_tokens_is_held_until_whole():
    d = Detokenizer()
    data = "a🐉b".encode()
    out = [d.feed(data[i : i + 1]) for i in range(len(data))]
    assert out == ["a", "", "", "", "🐉", "b"]
    assert "\ufffd" not in "".join(out)


@given(st.text(), st.lists(st.integers(min_value=1, max_value=5), max_size=50))
def test_any_split_of_valid_utf8_decodes_to_the_same_text(text, cuts):
    data, d, parts, i = text.encode(), Detokenizer(), [], 0
    for c in cuts + [len(text.encode()) + 1]:
        parts.append(d.feed(data[i : i + c]))
        i += c
    parts.append(d.flush())
    assert "".join(parts) == text


def test_stop_split_across_pieces_is_stripped_and_never_shown():
    m = StopMatcher(["END"])
    shown = [m.feed(p) for p in ["hello E", "N", "D tail"]]
    assert shown == ["hello ", "", ""]
    assert m.stopped == "END"


def test_held_text_is_released_when_it_is_not_a_stop():
    m = StopMatcher(["END"])
    assert m.feed("abc EN") == "abc "
    assert m.feed("x") == "ENx"
    assert m.flush() == ""


def test_held_prefix_released_at_the_end():
    m = StopMatcher(["\n\n"])
    assert m.feed("line\n") == "line"
    assert m.flush() == "\n"


def test_earliest_of_several_stops_wins():
    m = StopMatcher(["world", "lo w"])
    assert m.feed("hello world") == "hel"
    assert m.stopped == "lo w"


@given(st.text(min_size=1, max_size=40), st.text(min_size=1, max_size=4), st.data())
def test_streamed_output_equals_text_before_the_first_stop(text, stop, data):
    cuts = sorted(data.draw(st.sets(st.integers(0, len(text)))))
    pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    m = StopMatcher([stop])
    shown = "".join(m.feed(p) for p in pieces)
    if m.stopped is None:
        shown += m.flush()
        assert shown == text
    else:
        assert shown == text[: text.index(stop)]
