"""Tables across runs: one tidy DataFrame with a `run` column, ready to plot or download."""

from __future__ import annotations

import pandas as pd

from bn_demo.results import RunResult


def stacked(frames: list[pd.DataFrame], first: list[str]) -> pd.DataFrame:
    """`frames` concatenated, their `first` columns (the ones saying where a row comes from) in front."""
    if not frames:
        return pd.DataFrame(columns=first)
    out = pd.concat(frames, ignore_index=True)
    return out[[*first, *[c for c in out.columns if c not in first]]]


def combined(runs: dict[str, RunResult], table: str) -> pd.DataFrame:
    """The `table` of every run stacked, the run's name in a first column `run`."""
    return stacked([run.tables[table].assign(run=name) for name, run in runs.items() if table in run.tables], ["run"])


def summary(runs: dict[str, RunResult]) -> pd.DataFrame:
    """One row per run: the numbers the CLI prints and the pages quote."""
    return pd.DataFrame([{"run": name, **run.summary()} for name, run in runs.items()])
