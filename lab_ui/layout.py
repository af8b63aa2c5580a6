"""How a page lays out what the engine made, torch-free (the home page uses it before torch is loaded):
figures side by side in columns that stack on a phone, and findings as paragraphs or bullets."""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go
import streamlit as st

from bn_demo.views.style import PNG_CONFIG, label
from bn_demo.views.verdicts import Finding


def show_panels(panels: Sequence[go.Figure]) -> None:
    """Figures side by side in columns, which Streamlit stacks on a narrow (phone) screen."""
    if not panels:
        return
    for column, fig in zip(st.columns(len(panels)), panels, strict=True):
        with column:
            st.plotly_chart(fig, width="stretch", config=PNG_CONFIG)


def finding_bullets(findings: dict[str, Finding]) -> str:
    """ "- **BN**: …" for each net's non-empty finding."""
    return "\n".join(f"- **{label(name)}**: {f.text}" for name, f in findings.items() if f)


def show_findings(*findings: Finding) -> None:
    """Each non-empty finding as its own paragraph."""
    for finding in findings:
        if finding:
            st.markdown(finding.text)
