"""The shared chart helpers: log axes readable on any range, linear ranges that do not magnify noise,
TensorBoard's smoothing against a hand computation, and the step axis with its divergence note."""

import math

import numpy as np
import plotly.graph_objects as go
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bn_demo.views.style import diverged_note, ema, linear_range, log_axis, step_axis


def labelled_inside(axis: dict) -> list[tuple[float, str]]:
    low, high = axis["range"]
    return [(v, t) for v, t in zip(axis["tickvals"], axis["ticktext"], strict=True) if low <= math.log10(v) <= high]


def check_readable(axis: dict, values) -> None:
    """At least three labels inside the drawn range, each reading back as its value, none repeated,
    and the range holding every positive finite value."""
    inside = labelled_inside(axis)
    assert len(inside) >= 3, axis
    assert len(inside) <= 13
    for value, text in inside:
        assert float(text) == pytest.approx(value, rel=1e-12)  # "0.5", never a bare "5"
    assert len({t for _, t in inside}) == len(inside)
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v) & (v > 0)]
    low, high = axis["range"]
    assert low <= math.log10(v.min()) and math.log10(v.max()) <= high


@pytest.mark.parametrize(
    "values",
    [
        [1.0, 1.035],  # a single BN run's variance: must not fill the chart
        [0.999, 1.0],
        [0.5],
        [2.3, 2.3],
        [0.05, 2.3],
        [0.01, 900.0],
        [1e-9, 3e-9],
        [7e-4, 9e-4],
        [1e-12, 1e12],
        [3.0, 30.0, 300.0],
        [0.2, 0.3],
    ],
)
def test_log_axis_has_three_readable_labels_on_any_range(values):
    check_readable(log_axis(values), values)


@settings(max_examples=300, deadline=None)
@given(
    st.floats(min_value=-15, max_value=15, allow_nan=False),
    st.floats(min_value=0, max_value=25, allow_nan=False),
)
def test_log_axis_is_readable_for_random_ranges(exponent, decades):
    values = [10.0**exponent, 10.0 ** (exponent + decades)]
    check_readable(log_axis(values), values)


def test_log_axis_keeps_a_small_change_small():
    axis = log_axis([1.0, 1.035])
    low, high = axis["range"]
    assert high - low >= 1.0  # at least a decade: 1 → 1.035 takes under 2% of the height
    assert math.log10(1.035) / (high - low) < 0.02
    assert labelled_inside(axis) == [(0.5, "0.5"), (1.0, "1"), (2.0, "2")]


def test_log_axis_labels_1_2_5_over_a_short_range_and_decades_over_a_long_one():
    short = log_axis([0.05, 2.3])
    assert [t for _, t in labelled_inside(short)] == ["0.05", "0.1", "0.2", "0.5", "1", "2"]
    long = log_axis([0.01, 900.0, float("nan"), 0.0])  # 4.95 decades; NaN and 0 have no place on a log axis
    assert [t for _, t in labelled_inside(long)] == ["0.01", "0.1", "1", "10", "100", "1000"]
    huge = log_axis([1e-12, 1e12])
    assert [t for _, t in labelled_inside(huge)] == ["1e-12", "1e-8", "0.0001", "1", "10000", "1e8", "1e12"]
    assert log_axis([]) == {"type": "log"}


def test_linear_range_has_a_smallest_span_centred_on_the_values():
    assert linear_range([0.0, 0.01], min_span=0.5, pad=0.0) == pytest.approx([-0.245, 0.255])
    assert linear_range([-2.0, 3.0], min_span=0.5, pad=0.0) == [-2.0, 3.0]  # wide data: untouched
    low, high = linear_range([-2.0, 3.0], min_span=0.5)
    assert low == pytest.approx(-2.25) and high == pytest.approx(3.25)
    assert linear_range([float("nan")], min_span=1.0) is None


def hand_ema(values, weight):
    """TensorBoard's scalar smoothing, written out: last = last·w + (1 − w)·v, divided by 1 − w^(i+1)."""
    out, last = [], 0.0
    for i, v in enumerate(values):
        last = last * weight + (1 - weight) * v
        out.append(last / (1 - weight ** (i + 1)))
    return out


@pytest.mark.parametrize("weight", [0.0, 0.3, 0.6, 0.9, 0.99])
def test_ema_is_tensorboards_debiased_moving_average(weight):
    values = np.random.default_rng(1).normal(2.0, 1.0, 200)
    np.testing.assert_allclose(ema(values, weight), hand_ema(values, weight), rtol=1e-10)


def test_ema_first_point_is_not_pulled_towards_zero():
    smoothed = ema([5.0, 5.0, 5.0], 0.9)
    np.testing.assert_allclose(smoothed, [5.0, 5.0, 5.0])  # without debiasing: 0.5, 0.95, ...
    assert ema([1.0, 3.0], 0.5)[1] == pytest.approx((0.5 * 1.0 * 0.5 + 0.5 * 3.0) / (1 - 0.25))


def test_step_axis_starts_at_zero_and_the_divergence_note_is_inside_the_panel():
    fig = step_axis(go.Figure(go.Scatter(x=[0], y=[2.3])), 30)
    diverged_note(fig, "plain", 1, steps=30)
    assert list(fig.layout.xaxis.range) == [0, 30]
    (note,) = fig.layout.annotations
    assert note.text == "no BN diverged at step 1" and note.x == 1 and note.xanchor == "left"
    assert note.yref == "y domain" and note.y == 1
    late = step_axis(go.Figure(), 30)
    diverged_note(late, "bn", 29, steps=30)
    assert late.layout.annotations[0].xanchor == "right"  # near the right edge, written leftwards
