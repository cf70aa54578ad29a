"""A hyperparameter swept beside several optimizers applies to those that have it.

An optimizer without it (SGD beside Adam's β₁ sweep) is run once per value of its own
hyperparameters and its results are repeated along the other dims, so the work is not
duplicated; the same hyperparameter on a lone optimizer without it is an error. Oracle: the
lone optimizer's own run, and a count of the trajectories the engine advanced.
"""

import numpy as np
import pytest

import simdyn as sd
from simdyn.engine import run as engine_run

X0 = np.random.default_rng(0).uniform(-1, 1, (20, 2))
BETAS = np.linspace(0.0, 0.9, 7)


def test_an_optimizer_ignoring_a_swept_dim_runs_once_and_is_repeated_along_it(monkeypatch):
    advanced = []
    original = engine_run._run_trajectories

    def counting(req, inp, g, contiguous, progress):
        advanced.append((req.optimizer.name, g.size))
        return original(req, inp, g, contiguous, progress)

    monkeypatch.setattr(engine_run, "_run_trajectories", counting)
    ds = sd.simulate(["sgd", "adam"], "valley", X0, 100, hyper={"lr": [0.01, 0.1], "beta1": BETAS},
                     record_every=10, progress=False)
    counts = dict(advanced)
    assert counts["sgd"] == 2 * len(X0)                  # once per lr, not once per (lr, β₁)
    assert counts["adam"] == 2 * len(BETAS) * len(X0)
    lone = sd.simulate("sgd", "valley", X0, 100, hyper={"lr": [0.01, 0.1]}, record_every=10, progress=False)
    for name in ("w", "trajectory", "status", "stop_step", "loss"):
        for k in range(len(BETAS)):
            np.testing.assert_array_equal(ds[name].sel(optimizer="sgd").isel(beta1=k).values, lone[name].values)


def test_chunked_runs_of_repeated_trajectories_equal_the_whole_run():
    kwargs = dict(hyper={"lr": [0.01, 0.1], "beta1": BETAS}, progress=False)
    whole = sd.simulate(["sgd", "adam"], "valley", X0, 50, **kwargs)
    chunked = sd.simulate(["sgd", "adam"], "valley", X0, 50, chunk_size=33, **kwargs)
    for name in ("w", "status", "loss"):
        np.testing.assert_array_equal(chunked[name].values, whole[name].values)


def test_the_hyperparameter_on_a_lone_optimizer_without_it_is_an_error():
    with pytest.raises(ValueError, match="beta1"):
        sd.simulate("sgd", "valley", X0, 5, hyper={"beta1": BETAS}, progress=False)


def test_noisy_copies_are_independent_runs():
    # Noise is keyed by the trajectory's index, so with noise the SGD trajectories along β₁ are
    # independent noisy runs (replicates), not copies.
    ds = sd.simulate(["sgd", "adam"], "valley", X0[:3], 30, hyper={"beta1": [0.5, 0.9]},
                     noise=sd.noise.Gaussian(0.1, 1), progress=False)
    sgd = ds.w.sel(optimizer="sgd")
    assert not np.array_equal(sgd.isel(beta1=0).values, sgd.isel(beta1=1).values)
