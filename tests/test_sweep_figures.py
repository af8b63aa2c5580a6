"""Sweep figures draw exactly the numbers of the tables they are given: each net's mean over seeds, its min–max
over seeds, and an ✕ where a seed diverged; x labels that do not crowd."""

import base64

import numpy as np
import pandas as pd
import pytest

from bn_demo.core.train import DIVERGED_LOSS
from bn_demo.views.style import log_axis
from bn_demo.views.sweep_figures import (
    DIVERGED_ACCURACY,
    MAX_LABELLED_VALUES,
    RANGE_MARGIN,
    calibration_figure,
    curve_figure,
    loss_range,
    sensitivity_figure,
    value_axis,
)
from tests.sweep_tables import analysis, sweep


def arr(v) -> np.ndarray:
    """Plotly data as numpy, whether a list or a base64 typed array."""
    if isinstance(v, dict):
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"])
    return np.asarray(v)


def traces(fig, name):
    return [t for t in fig.to_plotly_json()["data"] if t.get("name") == name]


@pytest.fixture
def two_seeds() -> pd.DataFrame:
    """BN diverges in one seed of two at lr 30; no BN in both."""
    return sweep(
        {0.01: [(0.90, 0.88), (0.92, 0.87)], 1.0: [(0.96, 0.95), (0.95, 0.94)], 30.0: [(0.50, "x"), ("x", "x")]},
        bn_loss=0.2,
        plain_loss=0.4,
    )


def test_accuracy_figure_draws_the_mean_and_min_max_over_seeds(two_seeds):
    fig = sensitivity_figure(two_seeds, column="test_accuracy", axis_title="learning rate", title="t")
    data = fig.to_plotly_json()["data"]
    low, high, line = [t for t in data if t.get("legendgroup") == "bn"]
    np.testing.assert_array_equal(arr(line["x"]), [0.01, 1.0, 30.0])
    np.testing.assert_allclose(arr(line["y"]), [91.0, 95.5, 50.0])  # the diverged seed left out of the mean
    np.testing.assert_allclose(arr(low["y"]), [90.0, 95.0, 50.0])
    np.testing.assert_allclose(arr(high["y"]), [92.0, 96.0, 50.0])
    assert high["fill"] == "tonexty" and "lines" in line["mode"] and "markers" in line["mode"]
    (bn_x,) = traces(fig, "BN diverged")
    assert list(arr(bn_x["x"])) == [30.0] and list(arr(bn_x["y"])) == [DIVERGED_ACCURACY[0]]
    assert bn_x["text"] == ["diverged in 1 of 2 seeds (by step 5)"] and bn_x["marker"]["symbol"] == "x"
    (plain_x,) = traces(fig, "no BN diverged")
    assert list(arr(plain_x["y"])) == [DIVERGED_ACCURACY[1]] and plain_x["text"] == [
        "diverged in 2 of 2 seeds (by step 5)"
    ]
    layout = fig.to_plotly_json()["layout"]
    assert layout["xaxis"]["type"] == "log" and layout["title"]["text"] == "t"


def test_loss_figure_marks_divergence_at_the_divergence_loss(two_seeds):
    fig = sensitivity_figure(two_seeds, column="test_loss", axis_title="learning rate", title="t")
    line = [t for t in fig.to_plotly_json()["data"] if t.get("legendgroup") == "plain"][-1]
    np.testing.assert_allclose(arr(line["y"]), [0.4, 0.4])
    (bad,) = traces(fig, "no BN diverged")
    assert list(arr(bad["y"])) == [3 * DIVERGED_LOSS]
    assert fig.to_plotly_json()["layout"]["yaxis"]["type"] == "log"


def test_one_seed_draws_no_band():
    one = sweep({0.01: [(0.9, 0.8)], 1.0: [(0.95, "x")]})
    fig = sensitivity_figure(one, column="test_accuracy", axis_title="lr", title="t")
    assert len([t for t in fig.to_plotly_json()["data"] if t.get("legendgroup") == "bn"]) == 1
    assert traces(fig, "no BN diverged")[0]["text"] == ["diverged at step 5"]


def test_names_keep_their_order_and_get_min_max_error_bars():
    schemes = sweep(
        {"default": [(0.9, 0.5), (0.8, 0.6)], "xavier": [(0.9, 0.9), (0.92, 0.88)], "gaussian": [(0.9, 0.1)] * 2}
    )
    fig = sensitivity_figure(schemes, column="test_accuracy", axis_title="scheme", title="t")
    assert fig.to_plotly_json()["layout"]["xaxis"]["type"] == "category"
    (bn,) = traces(fig, "BN")
    assert list(arr(bn["x"])) == ["default", "xavier", "gaussian"] and bn["mode"] == "markers"
    np.testing.assert_allclose(arr(bn["y"]), [85.0, 91.0, 90.0])
    np.testing.assert_allclose(arr(bn["error_y"]["array"]), [5.0, 1.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(arr(bn["error_y"]["arrayminus"]), [5.0, 1.0, 0.0], atol=1e-9)


def test_x_labels_do_not_crowd_a_twelve_value_sweep():
    few = [0.01, 0.1, 1.0, 10.0]
    assert value_axis(few)["ticktext"] == ["0.01", "0.1", "1", "10"]
    many = list(np.geomspace(0.001, 30, 12))
    axis = value_axis(many)
    assert axis == log_axis(many) and len(axis["tickvals"]) < 12
    assert len(value_axis(many[:MAX_LABELLED_VALUES])["tickvals"]) == MAX_LABELLED_VALUES


def test_curve_panel_draws_the_mean_over_seeds_and_the_diverged_seed(two_seeds):
    curves = pd.DataFrame(
        [
            *({"value": 30.0, "run": "bn", "seed": 0, "step": s, "train_loss": 2.0 - 0.1 * s} for s in range(5)),
            *({"value": 30.0, "run": "bn", "seed": 1, "step": s, "train_loss": 2.2 + s} for s in range(3)),
            *({"value": 1.0, "run": "bn", "seed": 0, "step": s, "train_loss": 0.01} for s in range(3)),
        ]
    )
    axis = loss_range(curves)
    fig = curve_figure(curves, two_seeds[two_seeds["run"] == "bn"], 30.0, noun="learning rate", y_axis=axis)
    data = fig.to_plotly_json()["data"]
    low, high, line = data[:3]
    np.testing.assert_allclose(arr(line["y"]), [2.1, 2.55, 3.0, 1.7, 1.6])  # mean of the seeds still running
    np.testing.assert_allclose(arr(high["y"])[:3], [2.2, 3.2, 4.2])
    (mark,) = [t for t in data if t.get("mode") == "markers"]
    assert list(arr(mark["x"])) == [5] and list(arr(mark["y"])) == [4.2] and mark["text"] == ["diverged at step 5"]
    layout = fig.to_plotly_json()["layout"]
    assert layout["title"]["text"] == "learning rate = 30" and layout["showlegend"] is False
    margin = RANGE_MARGIN  # every panel's range
    assert layout["yaxis"]["range"] == pytest.approx([np.log10(0.01) - margin, np.log10(4.2) + margin])


def test_calibration_figure_draws_each_method_over_seeds_and_the_no_bn_reference(two_seeds):
    a = analysis(
        {4: {"running": [0.83, 0.81], "batch": [0.74, 0.70]}, 64: {"running": [0.95, 0.96], "batch": [0.95, 0.94]}}
    )
    sizes = two_seeds.assign(value=two_seeds["value"].map({0.01: 4, 1.0: 64, 30.0: 256}))
    fig = calibration_figure(a, sizes)
    running, batch, plain = fig.to_plotly_json()["data"]
    np.testing.assert_allclose(arr(batch["y"]), [72.0, 94.5])
    np.testing.assert_allclose(arr(batch["error_y"]["array"]), [2.0, 0.5], atol=1e-9)
    assert plain["name"] == "no BN" and list(arr(plain["x"])) == [4, 64]  # 256: no BN diverged in every seed
    np.testing.assert_allclose(arr(plain["y"]), [87.5, 94.5])


def test_a_live_partial_result_draws_and_quotes_only_finished_runs(mnist, tiny):
    """What the page draws every second while a sweep over seeds trains, from the job's partial result."""
    from bn_demo.core.seeds import SeededRun
    from bn_demo.experiments import sweeps
    from bn_demo.views import sweep_text

    seeded = sweeps.SeededSweep(sweeps.vary(tiny, "batch_size", (16, 32)), (0, 1))
    drawn = []

    def progress(done, total):
        if done in (tiny.steps + 3, 2 * tiny.steps + 3):  # mid first seed's second point, mid second seed
            partial = runner.partial()
            points, curves = sweeps.seeded_points(partial), sweeps.seeded_curves(partial)
            latest = points["value"].iloc[-1]
            sensitivity_figure(points, column="test_accuracy", axis_title="b", title="t")
            curve_figure(curves, points, latest, noun="b", y_axis=loss_range(curves))
            drawn.append((points, sweep_text.value_table(points, noun="b", one_seed_noise=0.003)))

    runner = SeededRun(lambda seed: sweeps.SweepRunner(seeded.at(seed), mnist), seeded.seeds)
    runner.run(progress=progress)
    (first, first_table), (second, second_table) = drawn
    assert list(first_table["b"]) == ["16"] and first_table["BN ahead in"].iloc[0].endswith("of 1 seed")
    assert not first[first["value"] == 32]["finished"].any()  # training: drawn, never quoted
    assert list(second_table["b"]) == ["16", "32"] and set(sweeps.decided(second)["seed"]) == {0}
