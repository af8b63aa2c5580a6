"""Every page offers its results as CSV, made only when a student clicks: thirty sessions drawing a finished
run each made every table's CSV (several MB each) at every redraw, and that was the server's peak memory."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import streamlit as st


def csv_download(
    make_table: Callable[[], pd.DataFrame], filename: str, label: str = "⬇ Download results (CSV)"
) -> None:
    def csv() -> bytes:
        return make_table().to_csv(index=False).encode()

    st.download_button(label, csv, file_name=filename, mime="text/csv", key=filename)
