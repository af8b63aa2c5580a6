"""The stored comparison the home page draws at once, before anyone trains: the note's network with and
without BN, trained once by the engine and committed as CSV. Regenerate it with `python -m lab_ui.examples`."""

from __future__ import annotations

from pathlib import Path

from bn_demo.core.config import NOTE_NET
from bn_demo.core.results import RunResult, load_runs, save_runs

STORED_DEFAULT = Path(__file__).resolve().parent.parent / "data" / "stored_default"
STORED_CONFIG = NOTE_NET.with_(steps=1000)
STORED_TABLES = ("history", "evals")  # what the home page draws; the rest stays out of the repository
REQUIRED_COLUMNS = {
    "history": {"step", "train_loss", "train_accuracy"},
    "evals": {"step", "mode", "loss", "accuracy"},
}


class StoredResultError(ValueError):
    """The stored comparison exists but cannot be read; the message says which file and why, in one line."""


def load_stored(folder: Path | None = None) -> dict[str, RunResult]:
    """BN first, then no BN, from `folder` (STORED_DEFAULT); empty when the folder is missing (the home page
    then just says so). StoredResultError when a file in it is corrupt, truncated or lacks what the home
    page draws."""
    folder = folder or STORED_DEFAULT
    if not folder.is_dir():
        return {}
    try:
        runs = load_runs(folder)
    except (OSError, ValueError, KeyError, TypeError) as e:  # JSON, CSV and config errors are ValueErrors
        raise StoredResultError(f"{folder} is unreadable ({type(e).__name__}: {e})".replace("\n", " ")) from e
    stored = {name: runs[name] for name in ("bn", "plain") if name in runs}
    for name, run in stored.items():
        for table, columns in REQUIRED_COLUMNS.items():
            missing = columns - set(run.tables[table].columns) if table in run.tables else columns
            if missing:
                raise StoredResultError(f"{folder / name} lacks {table} columns {', '.join(sorted(missing))}")
    return stored


def regenerate(folder: Path = STORED_DEFAULT) -> dict[str, RunResult]:
    from bn_demo.core.train import compare  # torch, only when regenerating

    runs = compare(STORED_CONFIG)
    for run in runs.values():
        run.tables = {name: run.tables[name] for name in STORED_TABLES}
    save_runs(runs, folder)
    return runs


if __name__ == "__main__":
    regenerate()
