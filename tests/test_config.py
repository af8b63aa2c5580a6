import dataclasses
import json
import math
import re
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bn_demo.core.config import ConfigError, TrainConfig


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"lr": -0.1}, "lr"),
        ({"lr": float("nan")}, "lr"),
        ({"steps": 0}, "steps"),
        ({"init": "zeros"}, "init"),
        ({"activation": "gelu"}, "activation"),
        ({"batch_size": 0}, "batch_size"),
        ({"hidden": ()}, "hidden"),
        ({"tracked_unit": 256}, "tracked_unit"),
    ],
)
def test_out_of_range_settings_are_refused_naming_the_setting(changes, named):
    with pytest.raises(ConfigError) as e:
        TrainConfig(**changes)
    message = str(e.value)
    assert message.startswith(named)
    assert "range" in message or "choose" in message or "give" in message


def test_batch_size_one_is_refused_with_bn_and_allowed_without():
    with pytest.raises(ConfigError, match="BatchNorm needs at least 2"):
        TrainConfig(norm="bn", batch_size=1)
    assert TrainConfig(norm="plain", batch_size=1).batch_size == 1


def test_config_round_trips_through_a_dict_and_is_hashable():
    c = TrainConfig(hidden=(100, 100, 100), activation="sigmoid", lr=0.5)
    assert TrainConfig.from_dict(c.to_dict()) == c
    assert len({c, TrainConfig.from_dict(c.to_dict())}) == 1


def test_automatic_record_and_eval_intervals_bound_the_tables():
    c = TrainConfig(steps=50_000, max_records=1000)
    assert c.steps / c.effective_record_every <= 1000
    assert TrainConfig(steps=500).effective_eval_every == 20


INT_FIELDS = ("batch_size", "steps", "seed", "eval_every", "eval_size", "record_every", "max_records", "tracked_unit")
FLOAT_FIELDS = ("lr", "init_std", "noise_scale")
CHOICE_FIELDS = ("norm", "activation", "bn_placement", "init")
anything = st.one_of(
    st.integers(),
    st.integers(min_value=-(10**5000), max_value=10**5000),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.text(max_size=8),
    st.sampled_from(["bn", "plain", "relu", "gaussian", "before", "500", "nan", "1e999"]),
    st.lists(st.integers(-5, 5000), max_size=10),
    st.tuples(st.floats()),
    st.tuples(st.tuples(st.integers(1, 9))),
    st.sampled_from([np.int64(7), np.float64(0.5), np.float32(0.5), np.array([1, 2]), np.nan, Fraction(1, 3)]),
    st.sampled_from([Decimal("0.1"), b"bytes", {"a": 1}, 10**5000, 2.0**1023 * 2 - 1]),
)


def check_valid(c: TrainConfig) -> None:
    """What a config that was accepted promises: right types, finite, in range, JSON round trip, hashable."""
    assert isinstance(c.hidden, tuple) and 1 <= len(c.hidden) <= 8
    assert all(type(w) is int and 1 <= w <= 4096 for w in c.hidden)
    assert all(type(getattr(c, f)) is int for f in INT_FIELDS)
    assert all(isinstance(getattr(c, f), int | float) and not isinstance(getattr(c, f), bool) for f in FLOAT_FIELDS)
    assert all(math.isfinite(getattr(c, f)) for f in FLOAT_FIELDS)
    assert all(isinstance(getattr(c, f), str) for f in CHOICE_FIELDS)
    assert 0 <= c.tracked_unit < min(c.hidden)
    assert TrainConfig.from_dict(json.loads(json.dumps(c.to_dict()))) == c
    assert hash(c) == hash(TrainConfig.from_dict(c.to_dict()))


def valid_or_config_error(**values) -> TrainConfig | None:
    try:
        config = TrainConfig(**values)
    except ConfigError as e:
        assert str(e) and "\n" not in str(e) and len(str(e)) < 300
        assert str(e).split(":")[0] in {*values, "hidden layer width"}  # the message names the setting
        return None
    check_valid(config)
    return config


@settings(max_examples=500, deadline=None)
@given(field=st.sampled_from([f.name for f in dataclasses.fields(TrainConfig)]), value=anything)
def test_any_value_for_any_setting_is_valid_or_a_config_error(field, value):
    valid_or_config_error(**{field: value})


@settings(max_examples=200, deadline=None)
@given(values=st.dictionaries(st.sampled_from([f.name for f in dataclasses.fields(TrainConfig)]), anything))
def test_any_combination_is_valid_or_a_config_error(values):
    valid_or_config_error(**values)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"steps": 500.7}, "steps: 500.7 is not a whole number"),
        ({"steps": 500.0}, "steps: 500.0 is not a whole number"),  # refused, not silently made 500
        ({"steps": True}, "steps: True is not a whole number"),
        ({"seed": 10**5000}, "seed: an integer of 16610 bits is out of range"),
        ({"lr": math.inf}, "lr: inf is out of range"),
        ({"lr": "0.1"}, "lr: '0.1' is not a number"),
        ({"hidden": 5}, "hidden: give 1 to 8 hidden layer widths, got 5"),
        ({"hidden": "256"}, "hidden: give 1 to 8 hidden layer widths, got '256'"),
        ({"hidden": ((3,),)}, "hidden layer width: (3,) is not a whole number"),
        ({"hidden": (math.nan,)}, "hidden layer width: nan is not a whole number"),
        ({"hidden": (1e999,)}, "hidden layer width: inf is not a whole number"),
        ({"hidden": (100,) * 9}, "hidden: give 1 to 8"),
        ({"norm": np.array([1, 2])}, "norm: unknown value array([1, 2])"),
        ({"norm": ["bn"]}, "norm: unknown value ['bn']"),
    ],
)
def test_wrong_types_are_named_and_never_converted(changes, message):
    with pytest.raises(ConfigError, match="^" + re.escape(message)):
        TrainConfig(**changes)


def test_accepted_edges_keep_their_types():
    c = TrainConfig(hidden=[100, 50], lr=1, steps=200_000, seed=2**31 - 1, tracked_unit=49)
    assert c.hidden == (100, 50) and c.lr == 1 and c.steps == 200_000
    check_valid(c)
    with pytest.raises(ConfigError, match="tracked_unit"):
        TrainConfig(hidden=[100, 50], tracked_unit=50)
