"""Observers on array-form landscapes (Exit, Hitting, PathLength, MaxStep, Tail; Period in test_array_period).

Oracles: for d ≤ 4 the same observer on the tuple-form quadratic (itself tested against closed
forms in test_observers / test_path_observers); at d = 50, where the tuple form does not
compile, NumPy computations of each definition from a recording of every step
(``record_every=1``); on CUDA (simulator, and compiled to PTX) the CPU kernel.
"""

import os

import numpy as np
import pytest

import simdyn as sd
from cudasim_helpers import both_targets
from simdyn.engine.kernels import compile_ptx
from simdyn.plan import make_plan

def spd(d, rng):
    a = rng.normal(size=(d, d))
    return a @ a.T / d + np.eye(d)


def observers(d):
    return [
        sd.observe.Exit(center=0.1 * np.arange(d), radius=1.2),
        sd.observe.Hitting(tol=0.05),  # the quadratic's known minimum, 0
        sd.observe.PathLength(),
        sd.observe.MaxStep(),
        sd.observe.Tail(k=7),
    ]


OBSERVER_VARIABLES = ("exit_step", "exit_point", "hit_step", "path_length", "displacement", "max_step", "tail")
STEP_VARIABLES = ("exit_step", "hit_step", "hit_target", "status", "stop_step")


def assert_same_variables(got, expected, names):
    for name in names:
        if name in STEP_VARIABLES:
            np.testing.assert_array_equal(got[name].values, expected[name].values, err_msg=name)
        else:
            np.testing.assert_allclose(got[name].values, expected[name].values, rtol=1e-12, atol=1e-15,
                                       equal_nan=True, err_msg=name)


@pytest.mark.parametrize("d", [1, 2, 4])
def test_array_form_observers_equal_tuple_form(d):
    rng = np.random.default_rng(d)
    h = spd(d, rng)
    x0 = rng.normal(size=(9, d)) * 1.5
    runs = {form: sd.simulate("adam", sd.landscapes.quadratic(h, form=form), x0, 150,
                              hyper={"lr": [0.02, 0.2]}, observers=observers(d), progress=False)
            for form in ("tuple", "array")}
    assert np.any(runs["tuple"].exit_step.values >= 0) and np.any(runs["tuple"].hit_step.values >= 0)
    assert_same_variables(runs["array"], runs["tuple"], OBSERVER_VARIABLES)


def test_linf_exit_several_targets_and_divergence_equal_tuple_form():
    """The max-norm ball, several hitting targets (hit_target) and trajectories frozen by the
    divergence threshold (lr 3 on SGD diverges on this H) give the tuple form's variables."""
    d, rng = 3, np.random.default_rng(5)
    h = spd(d, rng)
    x0 = rng.normal(size=(8, d))
    targets = np.array([np.zeros(d), x0[0] * 0.5])
    obs = [sd.observe.Exit(center=0.0, radius=0.8, norm="linf"), sd.observe.Hitting(target=targets, tol=0.3),
           sd.observe.PathLength(), sd.observe.MaxStep(), sd.observe.Tail(k=4)]
    runs = {form: sd.simulate("sgd", sd.landscapes.quadratic(h, form=form), x0, 120,
                              hyper={"lr": [0.05, 3.0]}, observers=obs, progress=False)
            for form in ("tuple", "array")}
    assert np.any(runs["tuple"].status.values == sd.status.STATUS["diverged"])
    assert np.any(runs["tuple"].hit_target.values == 1)
    assert_same_variables(runs["array"], runs["tuple"], OBSERVER_VARIABLES + ("hit_target", "status"))


def test_d50_observers_equal_numpy_definitions_on_a_recording():
    """At d = 50 each variable equals its definition evaluated in NumPy on w_0 … w_T."""
    d, steps, rng = 50, 80, np.random.default_rng(50)
    h = spd(d, rng)
    x0 = rng.normal(size=(5, d)) * np.array([0.05, 0.1, 0.15, 0.3, 0.3])[:, None]
    center, radius, tol = 0.05 * np.ones(d), 1.6, 0.5
    ds = sd.simulate("adam", sd.landscapes.quadratic(h, form="array"), x0, steps, hyper={"lr": 0.05},
                     record_every=1, progress=False,
                     observers=[sd.observe.Exit(center=center, radius=radius), sd.observe.Hitting(tol=tol),
                                sd.observe.PathLength(), sd.observe.MaxStep(), sd.observe.Tail(k=6)])
    path = ds.trajectory.transpose("traj", "step", "coord").values  # (traj, T + 1, d)
    assert path.shape == (5, steps + 1, d)
    t = np.arange(steps + 1)
    outside = (np.sum((path - center) ** 2, axis=2) > radius ** 2) & (t >= 1)
    exit_step = np.where(outside.any(axis=1), outside.argmax(axis=1), -1)
    within = np.sqrt(np.sum(path ** 2, axis=2)) <= tol
    hit_step = np.where(within.any(axis=1), within.argmax(axis=1), -1)
    assert np.any(exit_step >= 0) and np.any(exit_step < 0) and np.any(hit_step >= 0)
    np.testing.assert_array_equal(ds.exit_step.values, exit_step)
    np.testing.assert_array_equal(ds.hit_step.values, hit_step)
    exited = exit_step >= 0
    np.testing.assert_allclose(ds.exit_point.values[exited], path[exited, exit_step[exited]], rtol=1e-12)
    assert np.all(np.isnan(ds.exit_point.values[~exited]))
    steps_taken = np.diff(path, axis=1)
    np.testing.assert_allclose(ds.path_length.values, np.linalg.norm(steps_taken, axis=2).sum(axis=1), rtol=1e-12)
    np.testing.assert_allclose(ds.displacement.values, np.linalg.norm(path[:, -1] - path[:, 0], axis=1), rtol=1e-12)
    np.testing.assert_allclose(ds.max_step.values, np.abs(steps_taken).max(axis=1), rtol=1e-12)
    np.testing.assert_array_equal(ds["tail"].transpose("traj", "tail_step", "coord").values, path[:, -6:])


def test_array_form_observers_do_not_depend_on_chunking():
    d, rng = 6, np.random.default_rng(6)
    h = spd(d, rng)
    x0 = rng.normal(size=(7, d))
    kwargs = dict(hyper={"lr": [0.03, 0.1, 0.3]}, observers=observers(d), progress=False)
    land = sd.landscapes.quadratic(h, form="array")
    whole = sd.simulate("adam", land, x0, 60, **kwargs)
    chunked = sd.simulate("adam", land, x0, 60, chunk_size=5, **kwargs)
    for name in OBSERVER_VARIABLES:
        np.testing.assert_array_equal(chunked[name].values, whole[name].values, err_msg=name)


class TupleOnly(sd.observe.Observer):
    """An observer without array functions (``array_functions`` returns None)."""

    name = "tuple_only"


def test_unsupported_observers_are_refused_by_name_on_array_form():
    land = sd.landscapes.quadratic(spd(3, np.random.default_rng(3)), form="array")
    with pytest.raises(ValueError, match=r"observers: TupleOnly not yet available on array-form"):
        sd.simulate("adam", land, np.zeros((1, 3)), 5, observers=[TupleOnly(), sd.observe.PathLength()])


@pytest.mark.cudasim
def test_array_form_observers_on_cuda_equal_cpu():
    """Oracle: the CPU kernel. Both take the per-trajectory gradient loop on this landscape, so the
    observers see the same points (rtol 1e-12; steps exact); SGD at lr 3 diverges (frozen rows)."""
    d, rng = 5, np.random.default_rng(7)
    land = sd.landscapes.quadratic(spd(d, rng), form="array")
    x0 = rng.normal(size=(3, d))
    cpu, gpu = both_targets("sgd", land, x0, 30, hyper={"lr": [0.1, 3.0]}, observers=observers(d))
    assert np.any(cpu.status.values == sd.status.STATUS["diverged"])
    assert_same_variables(gpu, cpu, OBSERVER_VARIABLES + ("status",))


@pytest.mark.skipif(os.environ.get("NUMBA_ENABLE_CUDASIM") == "1", reason="compile_ptx needs the real CUDA compiler")
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_array_form_kernel_with_observers_compiles_to_ptx(dtype):
    pytest.importorskip("numba.cuda")
    d = 4
    obs = observers(d)
    obs[0] = sd.observe.Exit(radius=1.0, norm="linf")
    obs[1] = sd.observe.Hitting(target=np.eye(d)[:2], tol=0.1)
    rng = np.random.default_rng(8)
    req = make_plan("adam", sd.landscapes.quadratic(spd(d, rng), form="array"), rng.normal(size=(2, d)), 3,
                    dtype=dtype, observers=obs).launches[0].request
    ptx = compile_ptx(req)
    assert ".entry" in ptx and ".target sm_90" in ptx
