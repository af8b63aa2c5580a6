"""Every page offers its results as CSV, made only when a student clicks, from the run as the server holds
it then. Thirty sessions drawing a finished run each made every table's CSV (several MB each) at every
redraw, and that was the server's peak memory; a download that kept its run for later kept every run a
class had trained in memory for as long as Streamlit kept their sessions, after they had left."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any

import pandas as pd
import streamlit as st

_source: ContextVar[Callable[[], Any] | None] = ContextVar("download_source", default=None)


@contextlib.contextmanager
def results_from(source: Callable[[], Any]) -> Iterator[None]:
    """Within this block, downloads read their results from `source()` when clicked. The live panel passes
    its job's `peek`, which holds the job and not its result: the server may release the result and read
    it back from its store."""
    token = _source.set(source)
    try:
        yield
    finally:
        _source.reset(token)


def csv_download(
    table_of: Callable[[Any], pd.DataFrame],
    filename: str,
    label: str = "⬇ Download results (CSV)",
    *,
    source: Callable[[], Any] | None = None,
) -> None:
    """A button for `table_of(results)` as CSV, with `results = source()` (by default the `results_from`
    block's) when clicked."""
    fetch = source or _source.get()
    if fetch is None:
        raise RuntimeError("a download needs the source of its results: pass source=, or draw in results_from")

    def csv() -> bytes:
        return table_of(fetch()).to_csv(index=False).encode()

    st.download_button(label, csv, file_name=filename, mime="text/csv", key=filename)
