"""The comparison figures draw exactly the engine's tables (over seeds: the mean and the min–max band,
checked against numpy), and the numbers the pages quote agree with an independent computation."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from bn_demo.core.config import TrainConfig
from bn_demo.core.train import compare
from bn_demo.views import distribution_figures, figures, fit_figures
from bn_demo.views.style import COLORS, ema
from tests.test_page_train import ROOT, arr, trace

TINY = TrainConfig(steps=30, batch_size=64, eval_size=200, eval_every=10)


@pytest.fixture(scope="module")
def runs(mnist):
    return compare(TINY.with_(hidden=(32, 32), tracked_unit=3), data=mnist)


@pytest.fixture(scope="module")
def two_seeds(mnist):
    return [compare(TINY.with_(seed=s), data=mnist) for s in (0, 1)]


@pytest.fixture(scope="module")
def diverged(mnist):
    return compare(TINY.with_(lr=10.0), data=mnist)  # no BN blows up at step 2


def quantity(run, layer: int, name: str) -> pd.Series:
    rows = run.layers[(run.layers["layer"] == layer) & (run.layers["quantity"] == name)]
    return rows.set_index("step")["value"]


def by_step(frames: list[pd.DataFrame], column: str) -> pd.DataFrame:
    """Independent aggregation over seeds: one column per seed, one row per step."""
    return pd.concat([f.set_index("step")[column] for f in frames], axis=1)


def test_loss_panel_draws_each_nets_mean_over_seeds_with_its_min_max_band(two_seeds):
    fig = figures.loss_panel(two_seeds).to_plotly_json()
    assert "min–max over seeds" in fig["layout"]["title"]["text"]
    for name, lab in (("bn", "BN"), ("plain", "no BN")):
        tests = by_step([figures.test_evals(runs[name]) for runs in two_seeds], "loss")
        line = trace(fig, f"{lab} · test")
        np.testing.assert_allclose(arr(line["x"]), tests.index)
        np.testing.assert_allclose(arr(line["y"]), tests.mean(axis=1), rtol=1e-6)
        assert line["line"]["color"] == COLORS[name]
        band = [t for t in fig["data"] if t.get("legendgroup") == name and t.get("fill") == "tonexty"]
        highs = [arr(t["y"]) for t in band]
        assert any(len(h) == len(tests) and np.allclose(h, tests.max(axis=1), rtol=1e-6) for h in highs)
        batch = by_step([runs[name].history for runs in two_seeds], "train_loss")
        np.testing.assert_allclose(arr(trace(fig, f"{lab} · training batch")["y"]), batch.mean(axis=1), rtol=1e-6)
    assert fig["layout"]["yaxis"]["type"] == "log"
    assert list(fig["layout"]["xaxis"]["range"]) == [0, TINY.steps]


def test_smoothing_averages_each_seeds_ema_and_keeps_the_raw_curve_faint(two_seeds):
    fig = figures.accuracy_panel(two_seeds, smoothing=0.8).to_plotly_json()
    histories = [runs["plain"].history for runs in two_seeds]
    smoothed = np.mean([ema(h["train_accuracy"], 0.8) for h in histories], axis=0)
    np.testing.assert_allclose(arr(trace(fig, "no BN · training batch")["y"]), smoothed, rtol=1e-6)
    raw = trace(fig, "no BN · training batch (raw)")
    np.testing.assert_allclose(arr(raw["y"]), by_step(histories, "train_accuracy").mean(axis=1), rtol=1e-6)
    assert raw["opacity"] < 0.5
    unsmoothed = figures.accuracy_panel(two_seeds).to_plotly_json()
    assert not any(t.get("name", "").endswith("(raw)") for t in unsmoothed["data"])


def test_one_seed_draws_lines_without_bands_or_band_note(runs):
    fig = figures.loss_panel(runs).to_plotly_json()
    assert not any(t.get("fill") for t in fig["data"])
    assert "seeds" not in fig["layout"]["title"]["text"]
    np.testing.assert_allclose(arr(trace(fig, "no BN · training batch")["y"]), runs["plain"].history["train_loss"])


def test_training_curves_keep_one_two_panel_figure_for_pages_6_and_7(runs):
    fig = figures.training_curves(runs).to_plotly_json()
    losses = [t for t in fig["data"] if t["name"] == "BN · test"]
    assert [t.get("yaxis", "y") for t in losses] == ["y", "y2"]
    np.testing.assert_allclose(arr(losses[1]["y"]), figures.test_evals(runs["bn"])["accuracy"], rtol=1e-6)


def test_a_run_diverging_at_step_2_is_marked_inside_every_step_panel(diverged):
    plain = diverged["plain"]
    assert plain.diverged and plain.diverged_at == 2
    panels = [figures.loss_panel(diverged), figures.accuracy_panel(diverged), *figures.layer_panels(diverged)]
    for fig in panels:
        layout = fig.to_plotly_json()["layout"]
        assert list(layout["xaxis"]["range"]) == [0, TINY.steps]  # never starting at −200
        assert "no BN diverged at step 2" in [a["text"] for a in layout["annotations"]]
    mark = trace(figures.loss_panel(diverged).to_plotly_json(), "no BN diverged")
    assert list(arr(mark["x"])) == [2]
    table = figures.summary_table(diverged).set_index("run")
    assert table.loc["no BN", "status"] == "diverged at step 2"


def test_layer_panels_draw_each_layers_mean_and_variance(runs):
    mean_fig, var_fig = (f.to_plotly_json() for f in figures.layer_panels(runs))
    for layer in (1, 2):
        np.testing.assert_allclose(
            arr(trace(mean_fig, f"no BN · layer {layer}")["y"]), quantity(runs["plain"], layer, "mean"), rtol=1e-6
        )
        np.testing.assert_allclose(
            arr(trace(var_fig, f"no BN · layer {layer}")["y"]), quantity(runs["plain"], layer, "var"), rtol=1e-6
        )
    assert arr(trace(var_fig, "BN · layer 2")["y"])[0] == pytest.approx(1.0, abs=0.01)  # γ = 1 at the start


def test_a_single_bn_run_is_not_magnified_to_fill_the_chart(mnist):
    only_bn = {"bn": compare(TINY, ("bn",), data=mnist)["bn"]}
    mean_fig, var_fig = (f.to_plotly_json()["layout"]["yaxis"] for f in figures.layer_panels(only_bn))
    low, high = var_fig["range"]
    assert high - low >= 1.0  # a variance moving between ~0.99 and ~1.04 spans a decade's axis at least
    assert mean_fig["range"][1] - mean_fig["range"][0] >= figures.MEAN_MIN_SPAN


def test_running_gap_panels_are_the_recorded_gaps_relative_to_the_running_averages(runs):
    mean_gap, var_gap = (f.to_plotly_json() for f in figures.running_gap_panels(runs))
    bn = runs["bn"]
    expected_var = quantity(bn, 2, "running_var_gap") / quantity(bn, 2, "running_var")
    np.testing.assert_allclose(arr(trace(var_gap, "BN · layer 2")["y"]), expected_var, rtol=1e-6)
    expected_mean = quantity(bn, 1, "running_mean_gap") / np.sqrt(quantity(bn, 1, "running_var"))
    np.testing.assert_allclose(arr(trace(mean_gap, "BN · layer 1")["y"]), expected_mean, rtol=1e-6)
    assert not any(t["name"].startswith("no BN") for t in var_gap["data"])
    assert figures.running_gap_panels({"plain": runs["plain"]}) == []


def test_percentile_panels_and_bn_input_output(runs):
    bn_panel, plain_panel = (f.to_plotly_json() for f in figures.percentile_band_panels(runs, 2, 3))
    np.testing.assert_allclose(arr(trace(plain_panel, "no BN: median")["y"]), quantity(runs["plain"], 2, "p50"))
    band = trace(bn_panel, "BN: 15th–85th percentile")
    assert band["fill"] == "tonexty"
    np.testing.assert_allclose(arr(band["y"]), quantity(runs["bn"], 2, "p15"), rtol=1e-6)
    before, after = (f.to_plotly_json() for f in figures.bn_input_output_panels("bn", runs["bn"], 2))
    np.testing.assert_allclose(arr(trace(before, "BN's input: median")["y"]), quantity(runs["bn"], 2, "bn_in_p50"))
    np.testing.assert_allclose(arr(trace(after, "BN: median")["y"]), quantity(runs["bn"], 2, "p50"))
    moves = figures.percentile_moves(runs["plain"], 2)
    p50 = quantity(runs["plain"], 2, "p50")
    p15, p85 = quantity(runs["plain"], 2, "p15"), quantity(runs["plain"], 2, "p85")
    assert moves["median_moved"] == pytest.approx(p50.iloc[-1] - p50.iloc[0])
    assert moves["median_moved_widths"] == pytest.approx((p50.iloc[-1] - p50.iloc[0]) / (p85.iloc[0] - p15.iloc[0]))
    combined = figures.percentile_bands(runs, 2, "t").to_plotly_json()  # pages 6 and 7
    np.testing.assert_allclose(arr(trace(combined, "no BN: median")["y"]), p50)


def test_each_heatmap_column_is_its_snapshots_histogram_scaled_to_its_peak(runs):
    heat = distribution_figures.snapshot_heatmaps(runs, 1)[1].to_plotly_json()["data"][0]  # no BN
    edges = distribution_figures.snapshot_edges({"plain": runs["plain"]}, 1)
    snaps = runs["plain"].tables["snapshots"].query("layer == 1")
    z = np.array([arr(row) for row in heat["z"]]) if isinstance(heat["z"], list) else arr(heat["z"])
    z = z.reshape(len(edges) - 1, -1)
    for j, step in enumerate(sorted(snaps["step"].unique())):
        values = snaps.loc[snaps["step"] == step, "value"].to_numpy()
        counts, _ = np.histogram(values, bins=edges)
        np.testing.assert_allclose(z[:, j], counts / counts.max())


def test_a_spike_in_one_step_does_not_flatten_the_rest_of_the_heatmap():
    """No BN's first-step spike once set the shared colour scale and left BN's panel one colour."""
    density = np.array([[1.0, 0.1, 0.05], [0.0, 0.12, 0.06], [0.0, 0.08, 0.04]])
    scaled = distribution_figures.column_normalised(density)
    np.testing.assert_allclose(scaled.max(axis=0), 1.0)
    np.testing.assert_allclose(scaled[:, 1], density[:, 1] / 0.12)
    assert np.ptp(scaled[:, 2]) > 0.3  # the flat-looking column spans a third of the colour scale
    np.testing.assert_array_equal(distribution_figures.column_normalised(np.zeros((3, 2))), np.zeros((3, 2)))


def test_unit_drift_is_each_units_change_of_mean_in_first_standard_deviations(runs):
    units = runs["plain"].tables["units"]
    units = units[units["layer"] == 2]
    first, last = units["step"].min(), units["step"].max()
    by_unit = units.set_index(["step", "unit"])["mean"]
    expected = np.array([by_unit[(last, u)] - by_unit[(first, u)] for u in range(32)])
    np.testing.assert_allclose(distribution_figures.unit_mean_drift(runs["plain"], 2), expected, rtol=1e-6)
    scale = np.sqrt(units.loc[units["step"] == first, "var"].mean())
    np.testing.assert_allclose(distribution_figures.relative_unit_drift(runs["plain"], 2), expected / scale, rtol=1e-6)
    _, hist = distribution_figures.unit_drift_panels(runs, 2)
    histograms = [t for t in hist.to_plotly_json()["data"] if t["type"] == "histogram"]
    np.testing.assert_allclose(arr(histograms[1]["x"]), expected / scale, rtol=1e-6)
    assert histograms[0]["xbins"] == histograms[1]["xbins"]


def test_summary_table_gives_mean_sd_and_seeds_ahead(two_seeds):
    table = figures.summary_table(two_seeds).set_index("run")
    bn = [runs["bn"].test_accuracy for runs in two_seeds]
    plain = [runs["plain"].test_accuracy for runs in two_seeds]
    assert table.loc["BN", "test accuracy"] == f"{np.mean(bn):.2%} ± {np.std(bn, ddof=1):.2%}"
    ahead = sum(a > b for a, b in zip(bn, plain, strict=True))
    assert table.loc["BN", "test accuracy above no BN's"] == f"{ahead} of 2 seeds"
    assert table.loc["BN", "steps trained"] == "30"  # the same in every seed: no "± 0"
    assert table.loc["BN", "status"] == "finished (2 seeds)"
    ms = [1000 * runs["bn"].seconds_per_step for runs in two_seeds]
    assert table.loc["BN", "ms per step"] == f"{np.mean(ms):.2f} ± {np.std(ms, ddof=1):.2f}"


def test_curves_table_holds_the_test_curve_the_chart_draws(runs):
    table = figures.curves_table(runs)
    plain = table[table["run"] == "plain"]
    tests = figures.test_evals(runs["plain"])
    drawn = plain.dropna(subset=["test_loss"])
    np.testing.assert_allclose(drawn["step"], tests["step"])
    np.testing.assert_allclose(drawn["test_loss"], tests["loss"])
    np.testing.assert_allclose(plain.dropna(subset=["train_loss"])["train_loss"], runs["plain"].history["train_loss"])


def test_fit_panels_draw_train_and_test_and_their_gap(mnist):
    per_seed = [compare(TINY.with_(train_size=256, seed=s, eval_every=15), data=mnist) for s in (0, 1)]
    tables = [fit_figures.fit_table(runs["bn"]) for runs in per_seed]
    for t, runs in zip(tables, per_seed, strict=True):
        evals = runs["bn"].evals
        fit = evals[evals["mode"] == "train_set"].set_index("step")["accuracy"]
        test = figures.test_evals(runs["bn"]).set_index("step")["accuracy"]
        np.testing.assert_allclose(t.set_index("step")["accuracy_gap"], (fit - test).dropna())
    gap = fit_figures.gap_panel(per_seed, "accuracy").to_plotly_json()
    np.testing.assert_allclose(arr(trace(gap, "BN")["y"]), by_step(tables, "accuracy_gap").mean(axis=1), rtol=1e-6)
    fit = fit_figures.fit_panel(per_seed, "loss").to_plotly_json()
    np.testing.assert_allclose(
        arr(trace(fit, "BN · train")["y"]), by_step(tables, "loss_train").mean(axis=1), rtol=1e-6
    )


def test_figures_and_the_stored_example_do_not_import_torch():
    modules = (
        "bn_demo.views.comparison_text, bn_demo.views.distribution_figures, bn_demo.views.fit_figures, lab_ui.examples"
    )
    code = f"import sys, {modules}; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0
