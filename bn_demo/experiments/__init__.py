"""The experiments: sweeps, the papers' experiments, calibration of BN's inference statistics, and the ICS and
loss-landscape probes. Built on `bn_demo.core` only; they know nothing of jobs, servers or pages.

Public surface: `sweeps`, `research`, `calibration`, `ics`, `landscape`.
"""
