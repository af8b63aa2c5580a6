"""The training core: the note's network, real MNIST, paired and instrumented training, results and seeds.

Public surface: `config` (TrainConfig, ConfigError), `data` (MNIST), `models` (MLP), `train` (PairedTraining),
`results` (RunResult), `seeds` (SeededRun, SeedResults, paired_gap). Imports nothing from the other wings.
`config`, `results` and `seeds` never import torch: the views read results without it.
"""
