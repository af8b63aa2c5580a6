"""The paper lessons' figures draw what they are given: means over seeds with their min–max bands (checked
against numpy on known per-seed tables), bars with min–max whiskers, one panel per probed layer."""

import numpy as np
import pandas as pd
import pytest

from bn_demo.experiments.landscape import QUANTITIES
from bn_demo.views import research_figures as rf
from bn_demo.views.style import COLORS, LABELS
from tests import fake_runs as f


def traces(fig, name: str) -> list:
    return [t for t in fig.data if t.name == name]


def test_accuracy_curves_draw_the_mean_over_seeds_and_its_min_max():
    per_seed = [
        {"bn": f.run("bn", evals=[(0, 0.1), (10, 0.5 + i / 10)]), "plain": f.run("plain", evals=[(0, 0.1), (10, 0.3)])}
        for i in range(3)
    ]
    fig = rf.accuracy_curves(per_seed, "t")
    bn = [t for t in fig.data if t.legendgroup == "bn" and t.xaxis == "x2"]  # the accuracy panel
    low, high, mean = bn  # style.seed_band: lower edge, upper edge filled to it, then the mean line
    assert list(mean.x) == [0, 10] and np.allclose(mean.y, [0.1, 0.6])
    assert np.allclose(low.y, [0.1, 0.5]) and np.allclose(high.y, [0.1, 0.7]) and high.fill == "tonexty"
    assert "min–max over seeds" in fig.layout.title.text
    one = rf.accuracy_curves(per_seed[:1], "t")
    assert len([t for t in one.data if t.legendgroup == "bn" and t.xaxis == "x2"]) == 1  # one seed: no band


def test_stability_bars_show_the_mean_with_min_max_whiskers():
    def table(scale):
        return pd.DataFrame(
            [
                (run, 3, q, scale * v, 2 * v)
                for run, base in (("plain", 1.0), ("noisy_bn", 3.0))
                for q, v in (("p50", base), ("var", base / 2))
            ],
            columns=["run", "layer", "quantity", "jitter", "drift"],
        )

    fig = rf.stability_bars([table(1.0), table(2.0)], "jitter", "t")
    assert [t.name for t in fig.data] == [LABELS["plain"], LABELS["noisy_bn"]]
    noisy = fig.data[1]
    assert list(noisy.x) == ["median", "layer variance"] and np.allclose(noisy.y, [4.5, 2.25])
    assert np.allclose(noisy.error_y.array, [1.5, 0.75]) and np.allclose(noisy.error_y.arrayminus, [1.5, 0.75])
    assert noisy.marker.color == COLORS["noisy_bn"] and "whiskers: min–max" in fig.layout.title.text
    assert not rf.stability_bars([table(1.0)], "drift", "t").data[0].error_y.visible


@pytest.mark.parametrize("measure", ["l2", "relative", "cosine"])
def test_ics_lines_skip_the_first_layer_and_average_the_seeds(measure):
    def probes(offset):
        return pd.DataFrame(
            [
                (run, step, layer, 0.1 * layer + step + offset, 0.2 * layer + offset, 1.0 - offset)
                for run in ("bn", "plain")
                for step in (0, 5)
                for layer in (1, 2, 3)
            ],
            columns=["run", "step", "layer", "l2", "relative", "cosine"],
        )

    fig = rf.ics_lines([probes(0.0), probes(0.1)], measure, "t")
    assert [a.text for a in fig.layout.annotations] == ["layer 2", "layer 3 (output)"]
    lines = [t for t in fig.data if t.name == LABELS["bn"] and t.mode == "lines" and t.fill is None and t.showlegend]
    expected = pd.concat([probes(0.0), probes(0.1)]).query("run == 'bn' and layer == 2").groupby("step")[measure].mean()
    assert np.allclose(lines[0].y, expected.to_numpy()) and list(lines[0].x) == [0, 5]
    assert len(fig.data) == 2 * 2 * 3  # layers 2 and 3 x runs x (low edge, high edge, mean)
    assert fig.layout.yaxis.title.text == rf.ICS_LABELS[measure]


def test_landscape_figure_bands_are_the_mean_min_and_max_over_seeds():
    def bands(offset):
        return pd.DataFrame(
            [
                (run, step, q, step + 1.0 + offset, step + 2.0 + offset)
                for run in ("bn", "plain")
                for step in (0, 10)
                for q in QUANTITIES
            ],
            columns=["run", "step", "quantity", "min", "max"],
        )

    fig = rf.landscape_figure([bands(0.0), bands(1.0)], "t")
    assert len(fig.data) == 2 * 2 * len(QUANTITIES)
    upper, lower = fig.data[0], fig.data[1]
    assert list(upper.y) == [2.5, 12.5] and list(lower.y) == [1.5, 11.5] and lower.fill == "tonexty"
    assert "means over seeds" in fig.layout.title.text and "L =" in fig.layout.yaxis3.title.text


def test_sigmoid_input_names_the_unit_and_the_seed_it_draws():
    runs = {name: f.run(name, seed=7, percentiles=None) for name in ("bn", "plain")}
    fig = rf.sigmoid_input(runs, f.LAYER, "t")
    assert "layer 3, unit 0, seed 7" in fig.layout.title.text and fig.layout.margin.t == 100
    assert [a.text for a in fig.layout.annotations] == [LABELS["bn"], LABELS["plain"]]
