"""The stored comparison the home page draws at once, before anyone trains: the note's network with and
without BN, trained once by the engine and committed as CSV. Regenerate it with `python -m lab_ui.examples`."""

from __future__ import annotations

from pathlib import Path

from bn_demo.presets import NOTE_NET
from bn_demo.results import RunResult, load_runs, save_runs

STORED_DEFAULT = Path(__file__).resolve().parent.parent / "data" / "stored_default"
STORED_CONFIG = NOTE_NET.with_(steps=1000)
STORED_TABLES = ("history", "evals")  # what the home page draws; the rest stays out of the repository


def load_stored(folder: Path = STORED_DEFAULT) -> dict[str, RunResult]:
    """BN first, then no BN; empty when the folder is missing (the home page then just says so)."""
    if not folder.is_dir():
        return {}
    runs = load_runs(folder)
    return {name: runs[name] for name in ("bn", "plain") if name in runs}


def regenerate(folder: Path = STORED_DEFAULT) -> dict[str, RunResult]:
    from bn_demo.train import compare  # torch, only when regenerating

    runs = compare(STORED_CONFIG)
    for run in runs.values():
        run.tables = {name: run.tables[name] for name in STORED_TABLES}
    save_runs(runs, folder)
    return runs


if __name__ == "__main__":
    regenerate()
