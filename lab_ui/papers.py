"""The two paper lessons' settings and the builders that turn them into a job: settings -> research.JobRequest
(key, work, total). They live here, not in the pages, so that one command can rebuild each lesson's default
result by calling the same builder with `defaults(...)`; the key holds the experiment's name, its configs and
its seeds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import streamlit as st

from bn_demo.core.config import IOFFE_2015, TrainConfig
from bn_demo.core.train import compare_configs
from bn_demo.experiments import research
from bn_demo.views.research_text import EXPERIMENT_TITLES
from lab_ui import comparison
from lab_ui.params import Param, seeds_param

IOFFE_PAGE = "ioffe"
RESEARCH_PAGE = "research"
IOFFE_STEPS = 10_000  # x 2 runs x 3 seeds: this server's whole budget of 60,000 step-runs (the paper: 50,000)
RESEARCH_STEPS = 3_000
LAYER = len(IOFFE_2015.hidden)  # the last hidden layer, as in the paper's Figure 1(b, c)


@dataclass(frozen=True)
class OnlyFor(Param):
    """A setting drawn only while another setting of the page has a given value (noise strength: only for the
    noise experiment). Hidden, it keeps its value, so the link and the job key stay the same."""

    only_for: tuple[str, Any] = ("", None)  # (widget key of the other setting, the value it must have)

    def render(self, container, key: str) -> Any:
        other, value = self.only_for
        if st.session_state.get(other) != value:
            return st.session_state.get(key, self.default)
        return super().render(container, key)


IOFFE_PARAMS = [
    Param("steps", "Training steps", IOFFE_STEPS, low=10, high=comparison.MAX_STEPS, help="Paper: 50,000"),
    comparison.IOFFE_LR,
    Param("init_std", "Gaussian init std", IOFFE_2015.init_std, options=(0.01, 0.02, 0.05, 0.1, 0.2)),
    Param("unit", "Tracked unit of layer 3", 0, low=0, high=IOFFE_2015.hidden[-1] - 1),
    Param("seed", "First seed", 0, low=0, high=10_000, help="Same seed: same initial weights and minibatches"),
    seeds_param(),
]
RESEARCH_PARAMS = [
    Param(
        "experiment",
        "Experiment",
        research.NOISE,
        options=tuple(EXPERIMENT_TITLES),
        labels=tuple(EXPERIMENT_TITLES.values()),
        widget="selectbox",
    ),
    Param("steps", "Training steps", RESEARCH_STEPS, low=10, high=comparison.MAX_STEPS),
    comparison.IOFFE_LR,
    OnlyFor(
        "noise_scale",
        "Noise strength a (noisy BN)",
        1.0,
        options=(0.25, 0.5, 1.0, 2.0),
        only_for=(f"{RESEARCH_PAGE}:experiment", research.NOISE),
    ),
    Param("seed", "First seed", 0, low=0, high=10_000),
    seeds_param(),
]


def ioffe_config(settings: dict[str, Any]) -> TrainConfig:
    """Ioffe & Szegedy's net with the page's settings; ConfigError names a setting that cannot be trained."""
    return IOFFE_2015.with_(
        steps=settings["steps"],
        lr=settings["lr"],
        init_std=settings["init_std"],
        tracked_unit=settings["unit"],
        seed=settings["seed"],
    )


def ioffe_job(settings: dict[str, Any], data=None) -> research.JobRequest:
    """Page 6: BN and no BN, paired within each seed."""
    configs = compare_configs(ioffe_config(settings))
    return research.training_request(research.IOFFE, configs, settings["seeds"], data)


def research_config(settings: dict[str, Any]) -> TrainConfig:
    # the noise strength only matters to noisy BN: left out of the probe experiments' configs (and keys)
    noise = settings["noise_scale"] if settings["experiment"] == research.NOISE else IOFFE_2015.noise_scale
    return IOFFE_2015.with_(steps=settings["steps"], lr=settings["lr"], noise_scale=noise, seed=settings["seed"])


def research_job(settings: dict[str, Any], data=None) -> research.JobRequest:
    """Page 7, by the experiment's name: noisy BN (three nets trained paired) or a probe experiment."""
    config, name, seeds = research_config(settings), settings["experiment"], settings["seeds"]
    if name == research.NOISE:
        return research.training_request(name, research.noise_configs(config), seeds, data)
    return research.probed_request(name, config, seeds, data=data)
