"""The comparison figures draw exactly the engine's tables, and the numbers the pages quote agree with an
independent computation from those tables."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from bn_demo import figures
from bn_demo.config import TrainConfig
from bn_demo.style import COLORS, log_axis
from bn_demo.train import compare
from tests.test_page_train import ROOT, arr, trace

TINY = TrainConfig(steps=30, batch_size=64, eval_size=200, eval_every=10)


@pytest.fixture(scope="module")
def runs(mnist):
    return compare(TINY.with_(hidden=(32, 32), tracked_unit=3), data=mnist)


@pytest.fixture(scope="module")
def diverged(mnist):
    return compare(TINY.with_(lr=10.0), data=mnist)


def quantity(run, layer: int, name: str) -> pd.Series:
    rows = run.layers[(run.layers["layer"] == layer) & (run.layers["quantity"] == name)]
    return rows.set_index("step")["value"]


def test_training_curves_hold_history_and_test_evaluations(runs):
    fig = figures.training_curves(runs).to_plotly_json()
    for name, lab in (("bn", "BN"), ("plain", "no BN")):
        run = runs[name]
        batch = trace(fig, f"{lab} · training batch")
        np.testing.assert_allclose(arr(batch["x"]), run.history["step"])
        np.testing.assert_allclose(arr(batch["y"]), run.history["train_loss"], rtol=1e-6)
        assert batch["line"]["color"] == COLORS[name]
        tests = run.evals[run.evals["mode"] == "eval"]
        test = trace(fig, f"{lab} · test")
        np.testing.assert_allclose(arr(test["y"]), tests["loss"], rtol=1e-6)
        accuracy = [t for t in fig["data"] if t["name"] == f"{lab} · test"][1]  # the accuracy subplot
        np.testing.assert_allclose(arr(accuracy["y"]), tests["accuracy"], rtol=1e-6)
    assert fig["layout"]["yaxis"]["type"] == "log"
    assert "step" in fig["layout"]["xaxis"]["title"]["text"]


def test_a_diverged_run_is_marked_at_its_step(diverged):
    plain = diverged["plain"]
    assert plain.diverged
    fig = figures.training_curves(diverged).to_plotly_json()
    mark = trace(fig, "no BN diverged")
    assert list(arr(mark["x"])) == [plain.diverged_at]
    notes = [a["text"] for a in fig["layout"]["annotations"]]
    assert f"no BN diverged at step {plain.diverged_at}" in notes
    assert not any(t["name"] == "BN diverged" for t in fig["data"])
    table = figures.summary_table(diverged)
    assert table.loc[table["run"] == "no BN", "status"].item() == f"diverged at step {plain.diverged_at}"


def test_layer_statistics_draw_each_layer_mean_and_variance(runs):
    fig = figures.layer_statistics(runs, "t").to_plotly_json()
    for layer in (1, 2):
        drawn = [t for t in fig["data"] if t["name"] == f"no BN · layer {layer}"]
        np.testing.assert_allclose(arr(drawn[0]["y"]), quantity(runs["plain"], layer, "mean"), rtol=1e-6)
        np.testing.assert_allclose(arr(drawn[1]["y"]), quantity(runs["plain"], layer, "var"), rtol=1e-6)
    bn_var = [t for t in fig["data"] if t["name"] == "BN · layer 2"][1]
    assert arr(bn_var["y"])[0] == pytest.approx(1.0, abs=0.01)  # BN with γ = 1 at the start: variance 1


def test_percentile_bands_and_bn_input_output(runs):
    fig = figures.percentile_bands(runs, 2, "t").to_plotly_json()
    median = trace(fig, "no BN: median")
    np.testing.assert_allclose(arr(median["y"]), quantity(runs["plain"], 2, "p50"), rtol=1e-6)
    band = trace(fig, "BN: 15th–85th percentile")
    assert band["fill"] == "tonexty"
    np.testing.assert_allclose(arr(band["y"]), quantity(runs["bn"], 2, "p15"), rtol=1e-6)
    io = figures.bn_input_output("bn", runs["bn"], 2, "t").to_plotly_json()
    before = trace(io, "BN's input (Linear output): median")
    np.testing.assert_allclose(arr(before["y"]), quantity(runs["bn"], 2, "bn_in_p50"), rtol=1e-6)
    moves = figures.percentile_moves(runs["plain"], 2)
    p50 = quantity(runs["plain"], 2, "p50")
    assert moves["median_moved"] == pytest.approx(p50.iloc[-1] - p50.iloc[0])
    assert moves["median_range"] == pytest.approx(p50.max() - p50.min())


def test_snapshot_heatmap_is_the_histogram_of_each_snapshot(runs):
    fig = figures.snapshot_heatmap(runs, 1, "t").to_plotly_json()
    edges = figures.snapshot_edges(runs, 1)
    all_values = np.concatenate([r.tables["snapshots"].query("layer == 1")["value"] for r in runs.values()])
    inside = ((all_values >= edges[0]) & (all_values <= edges[-1])).mean()
    assert 0.98 <= inside <= 1.0
    snaps = runs["plain"].tables["snapshots"]
    snaps = snaps[snaps["layer"] == 1]
    heat = trace(fig, "no BN")
    z = np.array([arr(row) for row in heat["z"]]) if isinstance(heat["z"], list) else arr(heat["z"])
    z = z.reshape(len(edges) - 1, -1)
    for j, step in enumerate(sorted(snaps["step"].unique())):
        values = snaps.loc[snaps["step"] == step, "value"].to_numpy()
        counts = [((values >= a) & (values < b)).sum() for a, b in zip(edges[:-2], edges[1:-1], strict=True)]
        counts.append(((values >= edges[-2]) & (values <= edges[-1])).sum())
        np.testing.assert_allclose(z[:, j], np.array(counts) / len(values))


def test_unit_drift_is_each_units_change_of_mean(runs):
    units = runs["plain"].tables["units"]
    units = units[units["layer"] == 2]
    first, last = units["step"].min(), units["step"].max()
    by_unit = units.set_index(["step", "unit"])["mean"]
    expected = [by_unit[(last, u)] - by_unit[(first, u)] for u in range(32)]
    np.testing.assert_allclose(figures.unit_mean_drift(runs["plain"], 2), expected, rtol=1e-6)
    fig = figures.unit_drift(runs, 2, "t").to_plotly_json()
    histogram = [t for t in fig["data"] if t["type"] == "histogram" and t["name"] == "no BN"][0]
    np.testing.assert_allclose(arr(histogram["x"]), expected, rtol=1e-6)


def test_summary_table_reports_time_per_step(runs):
    table = figures.summary_table(runs).set_index("run")
    for name, lab in (("bn", "BN"), ("plain", "no BN")):
        run = runs[name]
        assert table.loc[lab, "ms per step"] == pytest.approx(1000 * run.seconds / run.steps)
        assert table.loc[lab, "test accuracy"] == run.test_accuracy


def test_figures_and_the_stored_example_do_not_import_torch():
    code = "import sys, bn_demo.figures, lab_ui.examples; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


def test_unit_drift_histograms_share_one_set_of_bins(runs):
    fig = figures.unit_drift(runs, 1, "t").to_plotly_json()
    histograms = [t for t in fig["data"] if t["type"] == "histogram"]
    assert len(histograms) == 2 and histograms[0]["xbins"] == histograms[1]["xbins"]
    every = np.concatenate([figures.unit_mean_drift(run, 1) for run in runs.values()]).astype(float)
    bins = histograms[0]["xbins"]
    assert bins["start"] <= every.min() and bins["end"] > every.max()
    assert bins["size"] == pytest.approx((every.max() - every.min()) / figures.DRIFT_BINS)
    assert bins["end"] == pytest.approx(bins["start"] + figures.DRIFT_BINS * bins["size"])


def test_log_axis_labels_1_2_5_over_a_short_range_and_decades_over_a_long_one():
    short = log_axis([0.05, 2.3])
    assert short["type"] == "log" and short["tickvals"] == [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50]
    assert short["ticktext"][:4] == ["0.01", "0.02", "0.05", "0.1"]
    long = log_axis([0.01, 900.0, float("nan"), 0.0])  # 4.95 decades; NaN and 0 have no place on a log axis
    assert long["tickvals"] == [0.01, 0.1, 1, 10, 100, 1000] and long["ticktext"][-1] == "1000"
    assert log_axis([]) == {"type": "log"}
