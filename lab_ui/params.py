"""Page settings that live in the URL, so a teacher can share a link that opens an experiment set up.

A page declares its settings as `Param`s; `settings_panel` reads the query string (bad or out-of-range
values become a warning and the default), draws one widget per setting, remembers the values across
page changes, and writes them back to the URL. A link is anyone's text: it is only ever shown as
literal text (`literal`), never as markdown.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import streamlit as st

from bn_demo.core.config import ConfigError
from bn_demo.core.seeds import MAX_SEEDS

LEARNING_RATES = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0)
BATCH_SIZES = (2, 4, 8, 16, 32, 60, 64, 128, 256, 512, 1024)
MAX_DIGITS = 1000  # an integer from a link longer than this is refused before it is built
LINK_TEXT_SHOWN = 40  # characters of a link's value quoted in a warning; the rest becomes "…"
T = TypeVar("T")


@dataclass(frozen=True)
class Param:
    key: str  # URL and widget key
    label: str
    default: Any
    options: tuple = ()  # a fixed set of values (select slider / selectbox / segmented control)
    low: float | None = None  # numeric range, for free numbers
    high: float | None = None
    help: str | None = None
    format: str = "{}"  # how an option is shown
    labels: tuple[str, ...] = ()  # or, if given, the words shown for the options, in their order
    widget: str = "auto"  # "auto", "select_slider", "selectbox", "segmented", "number"

    def show(self, option: Any) -> str:
        return self.labels[self.options.index(option)] if self.labels else self.format.format(option)

    def parse(self, raw: str) -> Any:
        """Query string -> value; ValueError with a reason when it is not valid (and no other exception)."""
        kind = type(self.default)
        if kind is bool:
            if raw.strip().lower() not in ("true", "false", "1", "0"):
                raise ValueError("expected true or false")
            return raw.strip().lower() in ("true", "1")
        value = _number(raw, whole=kind is int) if kind in (int, float) else raw
        if self.options and value not in self.options:
            shown = ", ".join(self.format.format(o) for o in self.options)  # as a link writes them
            raise ValueError(f"not one of {shown}")
        if self.low is not None and not self.low <= value <= self.high:
            raise ValueError(f"outside {self.low}–{self.high}")
        return value

    def render(self, container, key: str) -> Any:
        common = {"label": self.label, "key": key, "help": self.help}
        kind = self.widget
        if kind == "auto":
            kind = "number" if not self.options else ("select_slider" if len(self.options) > 4 else "segmented")
        if kind == "number":
            return container.number_input(min_value=self.low, max_value=self.high, **common)
        if kind == "select_slider":
            return container.select_slider(options=self.options, format_func=self.show, **common)
        if kind == "selectbox":
            return container.selectbox(options=self.options, format_func=self.show, **common)
        return container.segmented_control(
            options=self.options, format_func=self.show, selection_mode="single", **common
        )


def _number(raw: str, *, whole: bool) -> int | float:
    """A finite number from a link; for an integer setting a whole one, read exactly (500.7 and 1e-999 are
    refused, not truncated or rounded to 500 and 0)."""
    if not whole:
        try:
            value = float(raw)
        except ValueError:
            raise ValueError("not a number") from None
        if not math.isfinite(value):
            raise ValueError("not a finite number")
        return value
    try:
        exact = Decimal(raw.strip())
    except InvalidOperation:
        raise ValueError("not a number") from None
    if not exact.is_finite():
        raise ValueError("not a finite number")
    if exact.adjusted() > MAX_DIGITS:  # int() of 1e999999999 would build a billion digits
        raise ValueError("far too large")
    if exact != exact.to_integral_value():
        raise ValueError("not a whole number")
    return int(exact)


def literal(text: str, limit: int = LINK_TEXT_SHOWN) -> str:
    """`text` as a markdown code span, which markdown shows character for character: no heading, link,
    image, HTML, math or colour can come out of it. Invisible and control characters are written as
    escapes (\\n, \\u202e), and text past `limit` characters is cut with "…"."""
    shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text[:limit])
    shown += "…" if len(text) > limit else ""
    fence = "`" * (max(map(len, re.findall("`+", shown)), default=0) + 1)  # longer than any run inside
    pad = " " if shown.strip(" ") else ""  # lets it start or end with a backtick; markdown drops one each side
    return f"{fence}{pad}{shown or ' '}{pad}{fence}"


def defaults(params: list[Param] | tuple[Param, ...]) -> dict[str, Any]:
    """A page's default settings, as its settings panel returns them when the link sets nothing."""
    return {p.key: p.default for p in params}


def seeds_param(default: int = 3) -> Param:
    """How many seeds an experiment repeats over (its runs are paired within each seed)."""
    return Param(
        "seeds",
        "Seeds",
        default,
        options=tuple(range(1, MAX_SEEDS + 1)),
        help="Repeat the experiment over seeds seed, seed+1, …: a gap smaller than the spread across seeds is noise",
    )


def build_or_stop(build: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`build(*args, **kwargs)`; settings it refuses (ConfigError) stop the page with a message naming the
    setting and its valid range, never a traceback."""
    try:
        return build(*args, **kwargs)
    except ConfigError as e:
        st.error(f"These settings cannot be trained: {e}.")
        st.stop()


def read_query(params: list[Param], query: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    """Values from a query string, defaults where absent; one warning per bad value (pure, testable)."""
    values, warnings = {}, []
    for p in params:
        values[p.key] = p.default
        if p.key in query:
            try:
                values[p.key] = p.parse(query[p.key])
            except ValueError as e:
                warnings.append(f"Link setting {literal(f'{p.key}={query[p.key]}')} ignored ({e}); using {p.default}.")
    return values, warnings


def settings_panel(page: str, params: list[Param], container=None) -> dict[str, Any]:
    """Widgets for `params` (in the sidebar by default), seeded from the URL once per session and page.
    Warnings about the link stay only while the settings are still the ones the link gave."""
    container = container or st.sidebar
    seeded, link = f"{page}:seeded", f"{page}:link"
    if seeded not in st.session_state:
        values, warnings = read_query(params, dict(st.query_params))
        st.session_state[f"{page}:warnings"] = warnings
        st.session_state[link] = values
        for p in params:
            st.session_state[f"{page}:{p.key}:saved"] = values[p.key]
        st.session_state[seeded] = True
    notices = st.container()  # above the page; filled once the widgets' values are known
    values = {}
    for p in params:
        widget_key, saved = f"{page}:{p.key}", f"{page}:{p.key}:saved"
        if widget_key not in st.session_state:  # Streamlit forgets widget state on other pages
            st.session_state[widget_key] = st.session_state[saved]
        value = p.render(container, widget_key)
        if value is None:  # a segmented control can be unselected: keep the last choice
            value = st.session_state[saved]
        st.session_state[saved] = values[p.key] = value
    if values == st.session_state[link]:
        for warning in st.session_state[f"{page}:warnings"]:
            notices.warning(warning, icon="🔗")
    st.query_params.from_dict({k: str(v) for k, v in values.items()})
    return values
