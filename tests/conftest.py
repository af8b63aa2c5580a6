"""Shared fixtures: MNIST is loaded once per test session (the app loads it once per process too)."""

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# the app's result store: a fresh one per test session, so that no test finds a result of an earlier run
os.environ["BN_DEMO_STORE"] = tempfile.mkdtemp(prefix="bn_demo_store_")
atexit.register(shutil.rmtree, os.environ["BN_DEMO_STORE"], True)

from bn_demo.core.config import TrainConfig  # noqa: E402
from bn_demo.core.data import load_mnist  # noqa: E402


@pytest.fixture(scope="session")
def mnist():
    return load_mnist()


@pytest.fixture
def tiny() -> TrainConfig:
    """A configuration small enough for a unit test: a few dozen steps of the note's network."""
    return TrainConfig(steps=30, batch_size=64, eval_size=200, eval_every=10)
