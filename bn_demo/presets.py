"""Named configurations a lesson starts from."""

from __future__ import annotations

from bn_demo.config import TrainConfig

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
