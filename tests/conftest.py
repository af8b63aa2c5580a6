"""Shared fixtures: MNIST is loaded once per test session (the app loads it once per process too)."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bn_demo.config import TrainConfig  # noqa: E402
from bn_demo.data import load_mnist  # noqa: E402


@pytest.fixture(scope="session")
def mnist():
    return load_mnist()


@pytest.fixture
def tiny() -> TrainConfig:
    """A configuration small enough for a unit test: a few dozen steps of the note's network."""
    return TrainConfig(steps=30, batch_size=64, eval_size=200, eval_every=10)
