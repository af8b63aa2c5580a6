"""Every page offers its results as CSV."""

from __future__ import annotations

import pandas as pd
import streamlit as st


def csv_download(table: pd.DataFrame, filename: str, label: str = "⬇ Download results (CSV)") -> None:
    st.download_button(label, table.to_csv(index=False).encode(), file_name=filename, mime="text/csv", key=filename)
