"""Link settings: any text in a link, for any setting of any page, gives a valid value or a warning with a
reason (never another exception), and the warning shows that text only literally.

The pages' settings are captured by running every page once under AppTest with `read_query` wrapped, so
the test follows whatever settings the pages declare today. "Literally" is judged by an independent
CommonMark parser (markdown-it-py): the user's text must end up inside one code span and nowhere else.
"""

import math
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from streamlit.testing.v1 import AppTest

import lab_ui.params
from lab_ui.params import LINK_TEXT_SHOWN, Param, literal, read_query

PAGES = sorted((Path(__file__).resolve().parent.parent / "pages").glob("*.py"))
SPECIAL = (
    *("inf", "-inf", "Infinity", "nan", "NaN", "1e999", "-1e999", "1e-999", "1e308", "1e300"),
    *("500.7", "500.0", "5e2", "0.1", "-3", "0", "1", "0x10", "1_000", "", " ", " 42 ", "١٢", "１２"),
    *("9" * 30, "9" * 400, "9" * 5000, "true", "FALSE", "\x00", "\n", "`", "``x``"),
    "`\n# Heading\n[Log in](https://evil.example) ![x](https://evil.example/i.png) <img src=x onerror=alert(1)>",
    "$x$ :red[red] :material/home: **bold** <b>b</b> &amp; \\` | a |",
)
numbers = st.one_of(
    st.integers().map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.floats().map(lambda f: f"{f:.3e}"),
    st.decimals(allow_nan=True).map(str),
)
suffixed = st.tuples(numbers, st.text(max_size=3)).map("".join)
link_text = st.one_of(st.text(), numbers, st.sampled_from(SPECIAL), suffixed)
markdown = MarkdownIt("commonmark")


@pytest.fixture(scope="module")
def page_params() -> dict[str, list[Param]]:
    """Each page's settings, as the page passes them to settings_panel."""
    captured: dict[str, list[Param]] = {}
    real = lab_ui.params.read_query
    with pytest.MonkeyPatch.context() as mp:
        for page in PAGES:

            def record(params, query, page=page.stem):
                captured[page] = list(params)
                return real(params, query)

            mp.setattr(lab_ui.params, "read_query", record)
            at = AppTest.from_file(str(page), default_timeout=120).run()
            assert not at.exception, (page.stem, [e.value for e in at.exception])
    assert set(captured) == {p.stem for p in PAGES} and all(captured.values())
    return captured


def all_params(page_params) -> list[tuple[str, Param]]:
    return [(page, p) for page, params in page_params.items() for p in params]


def code_spans_only(text: str) -> list[str]:
    """The code spans of `text` as CommonMark renders it; fails if it renders as anything but one paragraph of
    plain text and code spans (no heading, link, image, HTML, emphasis, line break)."""
    blocks = markdown.parse(text)
    assert [b.type for b in blocks] == ["paragraph_open", "inline", "paragraph_close"], text
    children = blocks[1].children
    assert {c.type for c in children} <= {"text", "code_inline"}, (text, [c.type for c in children])
    return [c.content for c in children if c.type == "code_inline"]


def check_link_value(p: Param, raw: str) -> None:
    """A valid value that is what the text says, or ValueError with a reason and a literal warning."""
    try:
        value = p.parse(raw)
    except ValueError as e:
        assert str(e) and "\n" not in str(e)
        _, (warning,) = read_query([p], {p.key: raw})
        (shown,) = code_spans_only(warning)
        expected = f"{p.key}={raw}"
        if len(expected) <= LINK_TEXT_SHOWN and expected.isprintable():
            assert shown == expected
        else:
            assert shown.startswith(f"{p.key}=") and len(shown) <= 6 * LINK_TEXT_SHOWN + 1
        return
    assert type(value) is type(p.default)
    assert read_query([p], {p.key: raw}) == ({p.key: value}, [])
    if p.options:
        assert value in p.options
    if p.low is not None:
        assert p.low <= value <= p.high
    if isinstance(value, float):
        assert math.isfinite(value) and value == float(raw)
    elif isinstance(value, int) and not isinstance(value, bool):
        try:
            assert Decimal(raw.strip()) == value  # exactly the number written: 500.7 is never 500
        except InvalidOperation:  # a form Decimal does not read (e.g. full-width digits): float does
            assert float(raw) == value


def test_every_page_declares_settings(page_params):
    assert len(page_params) == len(PAGES) >= 7
    assert any(type(p.default) is int and p.low is not None for _, p in all_params(page_params))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), raw=link_text)
def test_any_link_text_gives_a_valid_value_or_a_reason(page_params, data, raw):
    _, p = data.draw(st.sampled_from(all_params(page_params)))
    check_link_value(p, raw)


def test_special_values_for_every_setting_of_every_page(page_params):
    for _, p in all_params(page_params):
        for raw in (*SPECIAL, *(p.format.format(o) for o in p.options), str(p.default)):
            check_link_value(p, raw)
        if p.options:  # an option a link writes is read back as that option
            assert [p.parse(p.format.format(o)) for o in p.options] == list(p.options)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        *(("inf", "finite"), ("1e999", "outside"), ("9" * 5000, "too large"), ("nan", "finite")),
        *(("500.7", "whole"), ("1e-999", "whole"), ("", "number"), ("0x10", "number")),
    ],
)
def test_integer_settings_refuse_infinite_and_fractional_values(raw, reason):
    steps = Param("steps", "Steps", 500, low=10, high=100_000)
    with pytest.raises(ValueError, match=reason):
        steps.parse(raw)


def test_integer_settings_read_whole_numbers_exactly():
    steps = Param("steps", "Steps", 500, low=10, high=100_000)
    assert [steps.parse(r) for r in ("500", " 500 ", "5e2", "500.0", "1_000")] == [500, 500, 500, 500, 1000]
    seed = Param("seed", "Seed", 0, low=0, high=2**60)
    assert seed.parse(str(2**53 + 1)) == 2**53 + 1  # float() would round this to 2**53
    with pytest.raises(ValueError, match="outside"):
        steps.parse("9" * 400)  # a huge whole number: out of range, not an OverflowError


def test_boolean_and_option_settings():
    flag = Param("flag", "Flag", False)
    assert [flag.parse(r) for r in ("true", " TRUE ", "1", "false", "0")] == [True, True, True, False, False]
    with pytest.raises(ValueError, match="true or false"):
        flag.parse("yes")
    lr = Param("lr", "LR", 0.1, options=(0.01, 0.1, 1.0))
    assert lr.parse("1e-1") == 0.1
    with pytest.raises(ValueError, match="not one of 0.01, 0.1, 1.0"):
        lr.parse("0.2")


@settings(max_examples=300, deadline=None)
@given(text=st.text())
def test_literal_shows_any_text_character_for_character(text):
    (shown,) = code_spans_only(f"Link setting {literal(text)} ignored.")
    if len(text) <= LINK_TEXT_SHOWN and text.isprintable():
        assert shown == (text or " ")
    else:  # escapes for invisible characters, "…" past the limit: never more lines, never markup
        assert shown.endswith("…") == (len(text) > LINK_TEXT_SHOWN)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("`", "`"),
        ("a``b", "a``b"),
        ("```", "```"),
        (" x ", " x "),
        ("  ", "  "),
        ("a\nb\tc\x00", "a\\nb\\tc\\x00"),
        ("\u202eevil", "\\u202eevil"),
        ("x" * 50, "x" * LINK_TEXT_SHOWN + "…"),
        ("[Log in](https://evil.example)", "[Log in](https://evil.example)"),
        ("<img src=x>", "<img src=x>"),
    ],
)
def test_literal_examples(text, shown):
    assert code_spans_only(literal(text)) == [shown]


def test_a_markdown_injecting_value_is_one_code_span():
    bad = "`\n# Heading\n[Log in](https://evil.example) ![x](https://evil.example/i.png)"
    _, (warning,) = read_query([Param("bn", "BatchNorm", "both", options=("both", "on", "off"))], {"bn": bad})
    assert code_spans_only(warning) == ["bn=`\\n# Heading\\n[Log in](https://evil.exa…"]  # 40 characters of the link
    assert warning.endswith("ignored (not one of both, on, off); using both.")
