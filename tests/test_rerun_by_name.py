"""A file made with a landscape built from arguments (``random_quadratic``) reruns by name.

Oracle: the first run itself — the landscape rebuilt from the saved file's attributes, or from a
study TOML naming it with the same arguments, has the same Hessian and gives the same final
points bit for bit.
"""

import json

import numpy as np
import pytest

import simdyn as sd
from simdyn.landscapes import get_landscape
from simdyn.study import load_study, run_study

X0 = np.array([[1.0, -0.5, 0.25], [0.2, 0.3, -0.4]])
EIGENVALUES = [0.5, 1.0, 3.0]


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    land = sd.landscapes.random_quadratic(3, EIGENVALUES, seed=4)
    ds = sd.simulate("sgd", land, X0, 30, hyper={"lr": 0.1}, progress=False)
    path = tmp_path_factory.mktemp("rerun") / "rq.nc"
    ds.simdyn.save(path)
    return land, sd.load(path)


def test_a_saved_random_quadratic_reruns_from_its_attributes(saved):
    land, ds = saved
    assert ds.attrs["landscape"] == "random_quadratic"
    assert json.loads(ds.attrs["landscape_arguments"]) == {"d": 3, "eigenvalues": EIGENVALUES, "seed": 4, "form": "tuple"}
    call = json.loads(ds.attrs["simdyn_call"])
    rebuilt = get_landscape(call["landscape"])
    np.testing.assert_array_equal(rebuilt.hessian, land.hessian)
    again = sd.simulate(call["optimizer"], rebuilt, X0, call["steps"], hyper={"lr": 0.1}, progress=False)
    np.testing.assert_array_equal(again.w.values, ds.w.values)


def test_a_study_names_a_random_quadratic_by_its_arguments(saved):
    _, ds = saved
    study = load_study("""
optimizer = "sgd"
landscape = { name = "random_quadratic", d = 3, eigenvalues = [0.5, 1.0, 3.0], seed = 4 }
steps = 30
[hyper]
lr = 0.1
[x0]
points = [[1.0, -0.5, 0.25], [0.2, 0.3, -0.4]]
""")
    assert study.groups[0].name == "random_quadratic"
    np.testing.assert_array_equal(run_study(study, progress=False).w.values, ds.w.values)


def test_a_built_landscape_needs_its_arguments():
    with pytest.raises(ValueError, match=r"'random_quadratic' is built from arguments \(d, eigenvalues, seed=0"):
        get_landscape("random_quadratic")
    with pytest.raises(TypeError, match="landscape: random_quadratic takes d, eigenvalues"):
        get_landscape({"name": "random_quadratic", "d": 3})
    with pytest.raises(ValueError, match="one of random_quadratic"):
        get_landscape({"name": "valley"})


def test_a_study_names_the_loss_and_tangent_observers():
    # Oracle: the same run through sd.simulate with the observers constructed in Python.
    study = load_study("""
optimizer = "sgd"
landscape = { name = "random_quadratic", d = 3, eigenvalues = [0.5, 1.0, 3.0], seed = 4 }
steps = 30
observers = [{ name = "loss_trace", every = 10 }, { name = "trainability", window = 5 }, { name = "sharpness", every = 10 }]
[hyper]
lr = [0.1, 0.7]
[x0]
points = [[1.0, -0.5, 0.25], [0.2, 0.3, -0.4]]
""")
    got = run_study(study, progress=False)
    land = sd.landscapes.random_quadratic(3, EIGENVALUES, seed=4)
    want = sd.simulate("sgd", land, X0, 30, hyper={"lr": [0.1, 0.7]}, progress=False,
                       observers=[sd.observe.LossTrace(every=10), sd.observe.Trainability(window=5),
                                  sd.observe.Sharpness(every=10)])
    for name in ("loss_trace", "trainable", "trainability_score", "sharpness"):
        np.testing.assert_array_equal(got[name].values, want[name].values)
    np.testing.assert_allclose(got.sharpness.values[..., -1], 3.0, rtol=1e-8)  # λ_max(H) = 3


def test_a_study_names_the_lyapunov_observer():
    study = load_study("""
optimizer = "sgd"
landscape = "valley"
steps = 200
observers = [{ name = "lyapunov", transient = 20 }]
[hyper]
lr = 0.1
[x0]
points = [[0.5, 0.5]]
""")
    got = run_study(study, progress=False)
    want = sd.simulate("sgd", "valley", np.array([[0.5, 0.5]]), 200, hyper={"lr": 0.1}, progress=False,
                       observers=[sd.observe.Lyapunov(transient=20)])
    np.testing.assert_array_equal(got.lyapunov.values, want.lyapunov.values)
