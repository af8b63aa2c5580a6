"""A finished (or stopped, or diverged) run: its config, summary numbers and recorded tables.

Tables are tidy pandas DataFrames that a page or a notebook plots directly, saved as CSV files in a
folder per run beside a `summary.json`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from bn_demo.core.config import TrainConfig

TABLES = ("history", "layers", "params", "evals", "snapshots", "units")


@dataclass
class RunResult:
    name: str  # "bn", "plain", "noisy_bn", or a sweep's label
    config: TrainConfig
    steps: int  # steps actually trained
    seconds: float  # training time, excluding evaluations
    diverged: bool = False
    diverged_at: int | None = None  # step whose loss was NaN, infinite or > DIVERGED_LOSS
    stopped: bool = False  # stopped by the user before config.steps
    test_loss: float = float("nan")  # on the full 10,000-image test set, eval mode
    test_accuracy: float = float("nan")
    train_loss: float = float("nan")  # mean training loss over the last recorded steps
    tables: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)

    @property
    def history(self) -> pd.DataFrame:
        return self.tables["history"]

    @property
    def layers(self) -> pd.DataFrame:
        return self.tables["layers"]

    @property
    def evals(self) -> pd.DataFrame:
        return self.tables["evals"]

    @property
    def seconds_per_step(self) -> float:
        return self.seconds / self.steps if self.steps else float("nan")

    def summary(self) -> dict:
        """The CLI's JSON entry for this run (NaN, which JSON lacks, becomes null)."""

        def clean(x):
            return None if isinstance(x, float) and x != x else x

        return {
            "train_loss": clean(self.train_loss),
            "test_loss": clean(self.test_loss),
            "test_accuracy": clean(self.test_accuracy),
            "steps": self.steps,
            "diverged": self.diverged,
            "diverged_at": self.diverged_at,
            "stopped": self.stopped,
            "seconds": round(self.seconds, 4),
        }

    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        meta = {"name": self.name, "config": self.config.to_dict(), **self.summary(), "seconds": self.seconds}
        (folder / "summary.json").write_text(json.dumps(meta, indent=2))
        for name, table in self.tables.items():
            table.to_csv(folder / f"{name}.csv", index=False)
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> RunResult:
        folder = Path(folder)
        meta = json.loads((folder / "summary.json").read_text())
        tables = {n: pd.read_csv(folder / f"{n}.csv") for n in TABLES if (folder / f"{n}.csv").exists()}

        def num(x):
            return float("nan") if x is None else x

        return cls(
            name=meta["name"],
            config=TrainConfig.from_dict(meta["config"]),
            steps=meta["steps"],
            seconds=meta["seconds"],
            diverged=meta["diverged"],
            diverged_at=meta["diverged_at"],
            stopped=meta["stopped"],
            test_loss=num(meta["test_loss"]),
            test_accuracy=num(meta["test_accuracy"]),
            train_loss=num(meta["train_loss"]),
            tables=tables,
        )


def stacked(frames: list[pd.DataFrame], first: list[str]) -> pd.DataFrame:
    """`frames` concatenated, their `first` columns (the ones saying where a row comes from) in front."""
    if not frames:
        return pd.DataFrame(columns=first)
    out = pd.concat(frames, ignore_index=True)
    return out[[*first, *[c for c in out.columns if c not in first]]]


def combined(runs: dict[str, RunResult], table: str) -> pd.DataFrame:
    """The `table` of every run stacked, the run's name in a first column `run`."""
    return stacked([run.tables[table].assign(run=name) for name, run in runs.items() if table in run.tables], ["run"])


def save_runs(runs: dict[str, RunResult], folder: str | Path) -> None:
    for name, run in runs.items():
        run.save(Path(folder) / name)


def load_runs(folder: str | Path) -> dict[str, RunResult]:
    return {p.name: RunResult.load(p) for p in sorted(Path(folder).iterdir()) if (p / "summary.json").exists()}
