"""Sweep figures draw exactly the numbers of the tables they are given."""

import base64

import numpy as np
import pandas as pd
import pytest

from bn_demo.sweep_figures import DIVERGED_ACCURACY, calibration_figure, curves_figure, sensitivity_figure
from bn_demo.train import DIVERGED_LOSS


def arr(v) -> np.ndarray:
    """Plotly data as numpy, whether a list or a base64 typed array."""
    if isinstance(v, dict):
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"])
    return np.asarray(v)


@pytest.fixture
def points() -> pd.DataFrame:
    rows = [
        (0.01, "bn", 0.90, 0.35, False, None),
        (0.01, "plain", 0.88, 0.40, False, None),
        (1.0, "bn", 0.96, 0.13, False, None),
        (1.0, "plain", 0.95, 0.15, False, None),
        (30.0, "bn", np.nan, np.nan, True, 3),
        (30.0, "plain", np.nan, np.nan, True, 1),
    ]
    df = pd.DataFrame(rows, columns=["value", "run", "test_accuracy", "test_loss", "diverged", "diverged_at"])
    return df.assign(setting="lr").astype({"diverged_at": "Int64"})


def traces(fig, name):
    return [t for t in fig.to_plotly_json()["data"] if t["name"] == name]


def test_sensitivity_figure_holds_the_table_and_marks_divergence(points):
    fig = sensitivity_figure(points, "learning rate", "t")
    acc, loss = traces(fig, "BN")
    ok = points[(points["run"] == "bn") & ~points["diverged"]]
    np.testing.assert_array_equal(arr(acc["x"]), ok["value"])
    np.testing.assert_allclose(arr(acc["y"]), ok["test_accuracy"] * 100)
    np.testing.assert_allclose(arr(loss["y"]), ok["test_loss"])
    bad_acc, bad_loss = traces(fig, "no BN diverged")
    assert list(arr(bad_acc["x"])) == [30.0] and list(arr(bad_acc["y"])) == [DIVERGED_ACCURACY[1]]
    assert arr(bad_acc["y"])[0] < 0  # below every real accuracy
    assert list(arr(bad_loss["y"])) == [3 * DIVERGED_LOSS]
    bn_acc, bn_loss = traces(fig, "BN diverged")
    assert list(arr(bn_acc["y"])) == [DIVERGED_ACCURACY[0]] and list(arr(bn_loss["y"])) == [DIVERGED_LOSS]
    assert bad_acc["text"] == ["diverged at step 1"] and bad_acc["marker"]["symbol"] == "x"
    layout = fig.to_plotly_json()["layout"]
    assert layout["xaxis"]["type"] == "log" and layout["yaxis2"]["type"] == "log"
    assert layout["title"]["text"] == "t"


def test_categorical_values_get_a_category_axis(points):
    schemes = points.assign(value=points["value"].map({0.01: "default", 1.0: "xavier", 30.0: "kaiming"}))
    fig = sensitivity_figure(schemes, "scheme", "t")
    assert fig.to_plotly_json()["layout"]["xaxis"]["type"] == "category"
    assert list(arr(traces(fig, "BN")[0]["x"])) == ["default", "xavier"]


def test_curves_figure_has_one_panel_per_value_with_the_histories(points):
    curves = pd.concat(
        [
            pd.DataFrame({"value": v, "run": r, "step": np.arange(n), "train_loss": np.linspace(2.3, 0.1 + k, n)})
            for k, (v, r, n) in enumerate([(0.01, "bn", 5), (0.01, "plain", 5), (1.0, "bn", 5), (1.0, "plain", 5)])
        ]
        + [pd.DataFrame({"value": 30.0, "run": "bn", "step": [0, 1, 2], "train_loss": [2.3, 9.0, 80.0]})]
        + [pd.DataFrame({"value": 30.0, "run": "plain", "step": [0], "train_loss": [2.31]})]
    )
    fig = curves_figure(curves, points, "learning rate", "t")
    titles = [a["text"] for a in fig.to_plotly_json()["layout"]["annotations"]]
    assert titles == ["learning rate = 0.01", "learning rate = 1", "learning rate = 30"]
    lines = [t for t in fig.to_plotly_json()["data"] if t["mode"] == "lines"]
    assert len(lines) == 6
    for line, (_, group) in zip(lines, curves.groupby(["value", "run"], sort=False), strict=True):
        np.testing.assert_allclose(arr(line["y"]), group["train_loss"])
    marks = [t for t in fig.to_plotly_json()["data"] if t["mode"] == "markers"]
    assert [(list(arr(m["x"])), list(arr(m["y"]))) for m in marks] == [([3], [80.0]), ([1], [2.31])]
    assert marks[0]["text"] == ["diverged at step 3"]


def test_calibration_figure_draws_each_method_and_the_no_bn_reference(points):
    analysis = pd.DataFrame(
        {
            "method": ["running", "batch", "running", "batch"],
            "value": [4, 4, 64, 64],
            "test_accuracy": [0.83, 0.74, 0.95, 0.95],
        }
    )
    sizes = points.assign(value=points["value"].map({0.01: 4, 1.0: 64, 30.0: 256}))
    fig = calibration_figure(analysis, sizes)
    data = fig.to_plotly_json()["data"]
    assert len(data) == 3
    np.testing.assert_allclose(arr(data[1]["y"]), [74.0, 95.0])
    np.testing.assert_array_equal(arr(data[2]["x"]), [4, 64])
    np.testing.assert_allclose(arr(data[2]["y"]), [88.0, 95.0])
    assert data[2]["name"] == "no BN"
