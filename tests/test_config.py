import pytest

from bn_demo.config import ConfigError, TrainConfig


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
