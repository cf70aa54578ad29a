"""LossTrace and Trainability on learning-rate × learning-rate grids of GD, CPU.

Oracle: an independent NumPy GD loop that logs L(w_0) … L(w_{T−1}) and stops where the engine
freezes a trajectory (``naive.gd_losses``), and the trainability paper's ``convergence_measure``
transcribed from its reference notebook (``naive.convergence_measure``). The grids span
trainable, untrainable-but-finite and diverging points (asserted, so the oracle is exercised
on each kind).
"""

import numpy as np
import pytest

import naive
import simdyn as sd
from loss_landscapes import bowl, bowl_numpy, least_squares_landscape, ls_numpy

LRS = np.geomspace(0.1, 10.0, 4)
LS_START = np.array([[0.5, -1.0, 2.0]])
BOWL_START = np.array([[1.2, -0.7]])
BOWL_LRS = {"x": np.array([0.3, 1.0, 3.0, 10.0]), "y": np.array([0.3, 1.0, 1.5, 3.5])}
WINDOW, CAP, EVERY = 5, 1e3, 4


def observers():
    return [sd.observe.LossTrace(every=EVERY), sd.observe.Trainability(window=WINDOW, cap=CAP)]


def run_least_squares(steps, with_value_grad=True):
    return sd.simulate("sgd", least_squares_landscape(with_value_grad), LS_START, steps,
                       hyper={"lr": {"a": LRS, "b": LRS}}, observers=observers(), progress=False)


def assert_matches_numpy(ds, loss, grad, start, lr_of, dims, steps):
    """Every grid point of ``ds`` against the NumPy oracle; returns the set of kinds seen."""
    kinds = set()
    for i, a in enumerate(ds[dims[0]].values):
        for j, b in enumerate(ds[dims[1]].values):
            v, stop = naive.gd_losses(loss, grad, start, lr_of(a, b), steps)
            trainable, score = naive.convergence_measure(v, WINDOW, CAP)
            got = ds.isel({dims[0]: i, dims[1]: j}).squeeze()
            assert int(got.trainable) == int(trainable), (a, b)
            np.testing.assert_allclose(float(got.trainability_score), score, rtol=1e-12)
            np.testing.assert_allclose(got.loss_trace.values, v[::EVERY], rtol=1e-12, atol=1e-14)
            assert int(got.stop_step) == (stop if stop else -1)
            kinds.add("diverged" if stop else "trainable" if trainable else "untrainable")
    return kinds


@pytest.fixture(scope="module")
def least_squares_run():
    return run_least_squares(30)


def test_array_form_with_value_grad_equals_numpy_gd_on_lr_grid(least_squares_run):
    loss, grad = ls_numpy()
    kinds = assert_matches_numpy(least_squares_run, loss, grad, LS_START[0], lambda a, b: np.array([a, b, b]),
                                 ("lr_a", "lr_b"), 30)
    assert kinds == {"diverged", "trainable", "untrainable"}
    assert least_squares_run.loss_trace.dims[-1] == "loss_step"
    assert least_squares_run.sizes["loss_step"] == 8  # L(w_0), L(w_4), …, L(w_28)
    np.testing.assert_array_equal(least_squares_run.loss_step, np.arange(0, 29, EVERY))  # the step s of L(w_s)


def test_trainability_averages_every_loss_when_the_run_is_shorter_than_window(least_squares_run):
    ds = run_least_squares(3)  # the same kernel: steps and buffer sizes are run-time values
    loss, grad = ls_numpy()
    for i, a in enumerate(LRS):
        v, _ = naive.gd_losses(loss, grad, LS_START[0], np.array([a, LRS[0], LRS[0]]), 3)
        trainable, score = naive.convergence_measure(v, WINDOW, CAP)
        got = ds.isel(lr_a=i, lr_b=0).squeeze()
        assert int(got.trainable) == int(trainable)
        np.testing.assert_allclose(float(got.trainability_score), score, rtol=1e-12)


@pytest.mark.slow  # a kernel of its own; the CUDA-simulator module runs the same generated lines by default
def test_array_form_without_value_grad_evaluates_loss_and_grad_separately():
    ds = run_least_squares(30, with_value_grad=False)
    loss, grad = ls_numpy()
    kinds = assert_matches_numpy(ds, loss, grad, LS_START[0], lambda a, b: np.array([a, b, b]), ("lr_a", "lr_b"), 30)
    assert "diverged" in kinds


def test_tuple_form_equals_numpy_gd_on_lr_grid():
    ds = sd.simulate("sgd", bowl(), BOWL_START, 40, hyper={"lr": BOWL_LRS},
                     observers=observers(), progress=False)
    loss, grad = bowl_numpy()
    kinds = assert_matches_numpy(ds, loss, grad, BOWL_START[0], lambda a, b: np.array([a, b]), ("lr_x", "lr_y"), 40)
    assert kinds == {"diverged", "trainable", "untrainable"}


@pytest.mark.parametrize("make, message", [
    (lambda: sd.observe.Trainability(window=0), "window"),
    (lambda: sd.observe.Trainability(cap=-1.0), "cap"),
    (lambda: sd.observe.Trainability(cap=float("inf")), "cap"),
    (lambda: sd.observe.LossTrace(every=0), "every"),
    (lambda: sd.observe.LossTrace(every=1.5), "every"),
])
def test_bad_settings_are_refused_by_name(make, message):
    with pytest.raises(ValueError, match=message):
        make()
