"""What lessons 1 (Train & compare), 2 (Internal covariate shift) and 8 (Regularisation) train: their
settings, and a pure builder per lesson from settings to the job that trains them (key, work, progress
total, and the steps × runs the budget counts). The builders call no Streamlit, so one command can
regenerate every lesson's stored default from `default_job(page)`.

A job's key holds every run's config and the seeds, so identical requests share one training (a pair
trained on page 1 is shown on page 2 with the same settings), and different seeds never collide.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from bn_demo.core.config import ACTIVATIONS, INITS, MNIST_TRAIN, TrainConfig
from bn_demo.core.seeds import seed_list
from bn_demo.serving.jobs import seeded_training_work
from lab_ui.params import BATCH_SIZES, LEARNING_RATES, Param, defaults, seeds_param

NORM_CHOICES = {"both": ("bn", "plain"), "on": ("bn",), "off": ("plain",)}
INIT_STDS = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
WIDTH = 256  # the note's hidden layer
MAX_STEPS = 100_000  # the widget allows more than the budget, so that the budget's message can be seen
ICS_DEPTH = 3  # page 2: three hidden layers, so that the deepest layer's input comes from layers that learn
TRAIN_SIZES = (500, 1000, 2000, 5000, 10000)
DROPOUT_RATES = (0.1, 0.2, 0.3, 0.5)


@dataclass(frozen=True)
class JobSpec:
    """A lesson's training request: what `live.start` needs."""

    key: Hashable  # ("paired", ((name, TrainConfig), ...), seeds)
    work: Callable[[Any], Any]  # jobs.Job -> SeedResults
    total: int  # progress units: steps of every seed
    steps: int  # per run, for the budget
    runs: int  # runs over all seeds, for the budget

    @property
    def configs(self) -> dict[str, TrainConfig]:
        return dict(self.key[1])

    @property
    def seeds(self) -> tuple[int, ...]:
        return self.key[2]

    @property
    def trained(self) -> tuple[TrainConfig, ...]:
        """Every run over all seeds: what the server's budget costs."""
        return tuple(c.with_(seed=s) for s in self.seeds for c in self.configs.values())


def paired_job(configs: dict[str, TrainConfig], seeds: int) -> JobSpec:
    """The job for `configs` (sharing their first seed) repeated over `seeds` seeds."""
    first = next(iter(configs.values()))
    seed_tuple = seed_list(first.seed, seeds)
    key = ("paired", tuple(configs.items()), seed_tuple)
    return JobSpec(
        key,
        seeded_training_work(configs, seed_tuple),
        first.steps * seeds,
        first.steps,
        len(configs) * seeds,
    )


# ---- settings ------------------------------------------------------------------------------------------------


def comparison_params(layers: int = 1, seeds: int = 3) -> list[Param]:
    """The settings of a paired comparison; `layers` is the page's default number of hidden layers."""
    return [
        Param("bn", "BatchNorm", "both", options=tuple(NORM_CHOICES), help="Train with BN, without, or both paired"),
        Param("lr", "Learning rate (log scale)", 0.1, options=LEARNING_RATES, help="Plain SGD, no momentum"),
        Param("batch_size", "Batch size", 128, options=BATCH_SIZES),
        Param(
            "steps",
            "Training steps",
            500,
            low=10,
            high=MAX_STEPS,
            help=f"SGD updates, one batch each; an epoch is {MNIST_TRAIN:,} // batch size full batches "
            f"({MNIST_TRAIN // 128} at 128: the last partial batch is dropped)",
        ),
        Param("layers", f"Hidden layers of {WIDTH} units", layers, options=(1, 2, 3, 4)),
        Param("activation", "Hidden activation", "relu", options=ACTIVATIONS),
        Param("init", "Weight initialization", "default", options=INITS, widget="selectbox"),
        Param(
            "init_std", "Gaussian init std", 0.01, options=INIT_STDS, help="Used when the initialization is gaussian"
        ),
        Param("seed", "First seed", 0, low=0, high=10_000, help="Same seed: same initial weights and minibatches"),
        seeds_param(seeds),
    ]


def configs_from(settings: dict, **extra) -> dict[str, TrainConfig]:
    """Name -> config of every run to train paired; ConfigError names a setting that cannot be trained."""
    base = TrainConfig(
        hidden=(WIDTH,) * settings["layers"],
        activation=settings["activation"],
        init=settings["init"],
        init_std=settings["init_std"],
        lr=settings["lr"],
        batch_size=settings["batch_size"],
        steps=settings["steps"],
        seed=settings["seed"],
        **extra,
    )
    return {norm: base.with_(norm=norm) for norm in NORM_CHOICES[settings.get("bn", "both")]}


def train_params() -> list[Param]:
    return comparison_params(layers=1)


def train_job(settings: dict) -> JobSpec:
    """Page 1: the note's network (or deeper), BN and/or no BN."""
    return paired_job(configs_from(settings), settings["seeds"])


def ics_params() -> list[Param]:
    return [
        *(p for p in comparison_params(layers=ICS_DEPTH) if p.key != "bn"),  # always both, paired
        Param("unit", "Tracked unit", 0, low=0, high=WIDTH - 1, help="Whose percentiles are recorded"),
    ]


def ics_job(settings: dict) -> JobSpec:
    """Page 2: BN and no BN, always both, with a tracked unit."""
    return paired_job(configs_from({**settings, "bn": "both"}, tracked_unit=settings["unit"]), settings["seeds"])


# Page 8: 1,000 images, 1,000 steps of 32 (32 epochs) fit every training image (100% train accuracy) in
# about 4 s per seed for the three nets on one free core, with a train–test gap of about 9 points.
REGULARISATION_DEFAULTS = {"train_size": 1000, "steps": 1000, "batch_size": 32, "lr": 0.1, "dropout": 0.5}


def regularisation_params() -> list[Param]:
    d = REGULARISATION_DEFAULTS
    return [
        Param(
            "train_size",
            "Training images",
            d["train_size"],
            options=TRAIN_SIZES,
            help="A fixed subset of the 60,000, with each digit in its share",
        ),
        Param("steps", "Training steps", d["steps"], low=10, high=MAX_STEPS),
        Param("batch_size", "Batch size", d["batch_size"], options=BATCH_SIZES),
        Param("lr", "Learning rate (log scale)", d["lr"], options=LEARNING_RATES, help="Plain SGD, no momentum"),
        Param("dropout", "Dropout rate of the reference run", d["dropout"], options=DROPOUT_RATES),
        Param("seed", "First seed", 0, low=0, high=10_000, help="Same seed: same initial weights and minibatches"),
        seeds_param(3),
    ]


def regularisation_job(settings: dict) -> JobSpec:
    """Page 8: on a small fixed subset, BN, no BN, and no BN with dropout as a reference regulariser."""
    base = TrainConfig(
        train_size=settings["train_size"],
        steps=settings["steps"],
        batch_size=settings["batch_size"],
        lr=settings["lr"],
        seed=settings["seed"],
    )
    configs = {
        "bn": base,
        "plain": base.with_(norm="plain"),
        "dropout": base.with_(norm="plain", dropout=settings["dropout"]),
    }
    return paired_job(configs, settings["seeds"])


LESSON_JOBS: dict[str, tuple[Callable[[], list[Param]], Callable[[dict], JobSpec]]] = {
    "train": (train_params, train_job),
    "ics": (ics_params, ics_job),
    "regularisation": (regularisation_params, regularisation_job),
}


def default_job(page: str) -> JobSpec:
    """The job a lesson trains at its default settings (what a stored default must reproduce)."""
    params, build = LESSON_JOBS[page]
    return build(defaults(params()))
