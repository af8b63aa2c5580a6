"""Training configuration: one frozen dataclass that the UI edits, the CLI parses and caches key on."""

from __future__ import annotations

import math
import reprlib
from dataclasses import asdict, dataclass, replace

ACTIVATIONS = ("relu", "sigmoid", "tanh")
INITS = ("default", "xavier", "kaiming", "gaussian")
BN_PLACEMENTS = ("before", "after")  # BatchNorm before or after the nonlinearity
NORMS = ("bn", "plain", "noisy_bn")  # what follows each hidden Linear
MNIST_TRAIN = 60_000  # training images of MNIST
FIT_EVAL_MODE = "train_set"  # evals' mode of the whole training subset (eval mode), for runs with a train_size


class ConfigError(ValueError):
    """A setting out of its valid range; the message names the setting and the range."""


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines one training run. Frozen, so it is hashable and can key a cache."""

    norm: str = "bn"  # "bn", "plain" or "noisy_bn"
    hidden: tuple[int, ...] = (256,)  # widths of the hidden layers; (256,) is the documented Net
    activation: str = "relu"
    bn_placement: str = "before"
    init: str = "default"
    init_std: float = 0.01  # standard deviation when init == "gaussian"
    lr: float = 0.1  # plain SGD, no momentum: the setting of both papers
    batch_size: int = 128
    steps: int = 500
    seed: int = 0
    eval_every: int = 0  # 0: choose so that about 25 evaluations happen
    eval_size: int = 2000  # held-out test images used during training
    record_every: int = 0  # 0: every step up to max_records, then thinned
    max_records: int = 1000  # bound on recorded steps, so a long run cannot fill memory
    tracked_unit: int = 0  # unit whose 15/50/85th percentiles are recorded
    noise_scale: float = 1.0  # strength of the injected shift of noisy BN
    train_size: int = 0  # training images: 0 for all 60,000, else a fixed class-stratified subset of that size
    dropout: float = 0.0  # probability of zeroing each hidden unit's output while training (0: no dropout)

    def __post_init__(self) -> None:
        object.__setattr__(self, "hidden", _widths(self.hidden))
        _check_choice("norm", self.norm, NORMS)
        _check_choice("activation", self.activation, ACTIVATIONS)
        _check_choice("bn_placement", self.bn_placement, BN_PLACEMENTS)
        _check_choice("init", self.init, INITS)
        _check_range("lr", self.lr, 1e-6, 100.0)
        _check_range("init_std", self.init_std, 1e-6, 100.0)
        _check_whole("batch_size", self.batch_size, 1, 60000)
        if self.norm != "plain" and self.batch_size < 2:
            raise ConfigError(
                "batch_size: BatchNorm needs at least 2 examples per batch in training mode "
                "(the variance of one example is 0); choose 2 to 60000, or switch BatchNorm off"
            )
        _check_whole("steps", self.steps, 1, 200_000)
        _check_whole("seed", self.seed, 0, 2**31 - 1)
        _check_whole("eval_every", self.eval_every, 0, 200_000)
        _check_whole("eval_size", self.eval_size, 10, 10000)
        _check_whole("record_every", self.record_every, 0, 200_000)
        _check_whole("max_records", self.max_records, 10, 100_000)
        _check_whole("tracked_unit", self.tracked_unit, 0, min(self.hidden) - 1)
        _check_range("noise_scale", self.noise_scale, 0.0, 100.0)
        _check_whole("train_size", self.train_size, 0, MNIST_TRAIN)
        if 0 < self.train_size < self.batch_size:
            raise ConfigError(f"train_size: {self.train_size} images cannot fill a batch of {self.batch_size}")
        _check_range("dropout", self.dropout, 0.0, 0.9)

    @property
    def uses_bn(self) -> bool:
        return self.norm != "plain"

    @property
    def effective_record_every(self) -> int:
        return self.record_every or max(1, math.ceil(self.steps / self.max_records))

    @property
    def effective_eval_every(self) -> int:
        return self.eval_every or max(1, self.steps // 25)

    def with_(self, **changes) -> TrainConfig:
        return replace(self, **changes)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["hidden"] = list(self.hidden)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def _shown(value: object) -> str:
    """A value as a message can quote it: short, even for a huge int or a long list."""
    try:
        return reprlib.repr(value)
    except ValueError:  # an int too long to print
        return f"an integer of {value.bit_length()} bits"


def _widths(hidden: object) -> tuple[int, ...]:
    if not isinstance(hidden, tuple | list) or not 1 <= len(hidden) <= 8:
        raise ConfigError(f"hidden: give 1 to 8 hidden layer widths, got {_shown(hidden)}")
    for width in hidden:
        _check_whole("hidden layer width", width, 1, 4096)
    return tuple(hidden)


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if not isinstance(value, str) or value not in choices:
        raise ConfigError(f"{name}: unknown value {_shown(value)}; choose one of {', '.join(choices)}")


def _check_range(name: str, value: float, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):  # float: numpy's float64 too
        raise ConfigError(f"{name}: {_shown(value)} is not a number; valid range is {low} to {high}")
    if not low <= value <= high:  # NaN fails the comparison too
        raise ConfigError(f"{name}: {_shown(value)} is out of range; valid range is {low} to {high}")


def _check_whole(name: str, value: int, low: int, high: int) -> None:
    """An integer setting: a fractional value is refused, not truncated."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name}: {_shown(value)} is not a whole number; valid range is {low} to {high}")
    _check_range(name, value, low, high)


# ---- named configurations a lesson starts from ------------------------------------------------------------

# The network of the user's note: Linear(784,256) -> BatchNorm1d(256) -> ReLU -> Linear(256,10).
NOTE_NET = TrainConfig()

# Ioffe & Szegedy (2015), section 4.1: MNIST, 3 fully connected hidden layers of 100 sigmoid units,
# weights from a small random Gaussian, minibatches of 60, 50,000 steps. The paper gives neither the
# learning rate nor the std: 0.5 and 0.05 train both nets (a std of 0.01 leaves the plain net stuck near
# chance for thousands of steps, which would be a lesson about initialization, not BN). 15,000 steps, a
# paired BN / plain run, took 30 s on two shared CPU cores (18 s for 10,000 when they were less busy).
IOFFE_2015 = TrainConfig(
    hidden=(100, 100, 100),
    activation="sigmoid",
    init="gaussian",
    init_std=0.05,
    lr=0.5,
    batch_size=60,
    steps=15000,
)
