import numpy as np
import pandas as pd

from bn_demo import research_figures as rf
from bn_demo.landscape import QUANTITIES
from bn_demo.style import COLORS, LABELS


def test_stability_bars_show_each_runs_values():
    table = pd.DataFrame(
        [
            (run, 3, q, v, 2 * v)
            for run, base in (("plain", 1.0), ("noisy_bn", 3.0))
            for q, v in (("p50", base), ("var", base / 2))
        ],
        columns=["run", "layer", "quantity", "jitter", "drift"],
    )
    fig = rf.stability_bars(table, "drift", "t")
    assert [t.name for t in fig.data] == [LABELS["plain"], LABELS["noisy_bn"]]
    assert list(fig.data[1].y) == [6.0, 3.0] and list(fig.data[1].x) == ["median", "layer variance"]
    assert fig.data[1].marker.color == COLORS["noisy_bn"] and fig.layout.title.text == "t"


def test_ics_lines_skip_the_first_layer_and_plot_the_measure():
    probes = pd.DataFrame(
        [
            (run, step, layer, 0.1 * layer + step, 1.0)
            for run in ("bn", "plain")
            for step in (0, 5)
            for layer in (1, 2, 3)
        ],
        columns=["run", "step", "layer", "l2", "cosine"],
    )
    fig = rf.ics_lines(probes, "l2", "t")
    assert len(fig.data) == 4  # 2 runs x layers 2 and 3
    first = fig.data[0]
    assert first.name == LABELS["bn"] and list(first.x) == [0, 5] and np.allclose(first.y, [0.2, 5.2])
    assert [a.text for a in fig.layout.annotations] == ["layer 2", "layer 3 (output)"]


def test_landscape_figure_bands_are_min_and_max():
    bands = pd.DataFrame(
        [(run, step, q, step + 1.0, step + 2.0) for run in ("bn", "plain") for step in (0, 10) for q in QUANTITIES],
        columns=["run", "step", "quantity", "min", "max"],
    )
    fig = rf.landscape_figure(bands, "t")
    assert len(fig.data) == 2 * 2 * len(QUANTITIES)
    upper, lower = fig.data[0], fig.data[1]
    assert list(upper.y) == [2.0, 12.0] and list(lower.y) == [1.0, 11.0] and lower.fill == "tonexty"
