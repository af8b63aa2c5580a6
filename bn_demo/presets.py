"""Named configurations a lesson starts from."""

from __future__ import annotations

from bn_demo.config import TrainConfig

# The network of the user's note: Linear(784,256) -> BatchNorm1d(256) -> ReLU -> Linear(256,10).
NOTE_NET = TrainConfig()

# Ioffe & Szegedy (2015), section 4.1: MNIST, 3 fully connected hidden layers of 100 sigmoid units,
# weights from a small random Gaussian, minibatches of 60, 50,000 steps. Our default step count is
# short enough for about a minute on two CPU cores; the teacher can raise it.
IOFFE_2015 = TrainConfig(
    hidden=(100, 100, 100),
    activation="sigmoid",
    init="gaussian",
    init_std=0.1,
    lr=0.5,
    batch_size=60,
    steps=3000,
)
