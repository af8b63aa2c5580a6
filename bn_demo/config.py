"""Training configuration: one frozen dataclass that the UI edits, the CLI parses and caches key on."""

from __future__ import annotations

import math
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
        object.__setattr__(self, "hidden", tuple(int(w) for w in self.hidden))
        _check_choice("norm", self.norm, NORMS)
        _check_choice("activation", self.activation, ACTIVATIONS)
        _check_choice("bn_placement", self.bn_placement, BN_PLACEMENTS)
        _check_choice("init", self.init, INITS)
        if not self.hidden or len(self.hidden) > 8:
            raise ConfigError(f"hidden: give 1 to 8 hidden layers, got {len(self.hidden)}")
        for width in self.hidden:
            _check_range("hidden layer width", width, 1, 4096)
        _check_range("lr", self.lr, 1e-6, 100.0)
        _check_range("init_std", self.init_std, 1e-6, 100.0)
        _check_range("batch_size", self.batch_size, 1, 60000)
        if self.norm != "plain" and self.batch_size < 2:
            raise ConfigError(
                "batch_size: BatchNorm needs at least 2 examples per batch in training mode "
                "(the variance of one example is 0); choose 2 to 60000, or switch BatchNorm off"
            )
        _check_range("steps", self.steps, 1, 200_000)
        _check_range("seed", self.seed, 0, 2**31 - 1)
        _check_range("eval_every", self.eval_every, 0, 200_000)
        _check_range("eval_size", self.eval_size, 10, 10000)
        _check_range("record_every", self.record_every, 0, 200_000)
        _check_range("max_records", self.max_records, 10, 100_000)
        _check_range("tracked_unit", self.tracked_unit, 0, min(self.hidden) - 1)
        _check_range("noise_scale", self.noise_scale, 0.0, 100.0)
        _check_range("train_size", self.train_size, 0, MNIST_TRAIN)
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
        if "hidden" in known:
            known["hidden"] = tuple(known["hidden"])
        return cls(**known)


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ConfigError(f"{name}: unknown value {value!r}; choose one of {', '.join(choices)}")


def _check_range(name: str, value: float, low: float, high: float) -> None:
    bad_type = isinstance(value, bool) or not isinstance(value, int | float)
    if bad_type or not math.isfinite(value) or value < low or value > high:
        raise ConfigError(f"{name}: {value!r} is out of range; valid range is {low} to {high}")
