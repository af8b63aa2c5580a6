"""Small hand-made sweep results (the tables sweeps.seeded_points and seeded_analysis return), for the tests
of the sweep lessons' sentences and figures."""

import math

import pandas as pd

from bn_demo.experiments.sweeps import POINT_COLUMNS

LN10 = math.log(10)


def points(rows, setting="lr") -> pd.DataFrame:
    """rows: (value, run, seed, accuracy, diverged_at or None, test loss, first loss); a run is finished
    unless its accuracy is None and it did not diverge (a stopped or still-training run)."""
    table = []
    for value, run, seed, accuracy, diverged_at, loss, first in rows:
        diverged = diverged_at is not None
        finished = diverged or accuracy is not None
        table.append(
            {
                "setting": setting,
                "value": value,
                "run": run,
                "seed": seed,
                "test_accuracy": math.nan if accuracy is None or diverged else accuracy,
                "test_loss": math.nan if diverged else loss,
                "train_loss": math.nan,
                "diverged": diverged,
                "diverged_at": diverged_at,
                "stopped": False,
                "steps": 100,
                "batch_size": 128,
                "seconds": 1.0,
                "first_loss": first,
                "finished": finished,
            }
        )
    return pd.DataFrame(table, columns=POINT_COLUMNS).astype({"diverged_at": "Int64"})


def pair(value, seed, bn, plain, *, bn_loss=0.3, plain_loss=0.3, first=2.3):
    """BN and no BN at one (value, seed); an accuracy "x" means diverged at step 5."""
    out = []
    for run, acc, loss in (("bn", bn, bn_loss), ("plain", plain, plain_loss)):
        out.append((value, run, seed, None if acc == "x" else acc, 5 if acc == "x" else None, loss, first))
    return out


def sweep(table: dict, **kw) -> pd.DataFrame:
    """{value: [(bn, plain) per seed]} -> points."""
    rows = []
    for value, seeds in table.items():
        for seed, (bn, plain) in enumerate(seeds):
            rows += pair(value, seed, bn, plain, **kw)
    return points(rows)


def analysis(table: dict[int, dict[str, list[float]]]) -> pd.DataFrame:
    """{batch size: {method: [accuracy per seed]}} -> calibration rows."""
    rows = [
        {"setting": "batch_size", "value": b, "seed": seed, "method": m, "test_accuracy": a, "test_loss": 0.3}
        for b, methods in table.items()
        for m, accuracies in methods.items()
        for seed, a in enumerate(accuracies)
    ]
    return pd.DataFrame(rows)
