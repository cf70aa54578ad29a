"""Every argument of ``sd.simulate`` is checked before anything is compiled or shown.

Oracle: the counters of the compiler (pieces prepared by ``compile_scalar``, kernels built) and
of the progress bar, which must not move when an argument is rejected.
"""

import importlib

import numpy as np
import pytest

import simdyn as sd
from simdyn.engine import compile as engine_compile


def _grad(w, p, t):
    return (2.0 * w[0] + 0.125, 2.0 * w[1])


def _loss(w, p, t):
    return w[0] * w[0] + w[1] * w[1] + 0.125 * w[0]


@pytest.mark.parametrize("kwargs, error", [
    ({"chunk_size": 0}, ValueError),
    ({"chunk_size": 2.5}, ValueError),
    ({"chunk_size": True}, ValueError),
    ({"client": object()}, TypeError),
])
def test_bad_execution_arguments_are_rejected_before_compiling_or_showing_progress(kwargs, error, monkeypatch):
    opened = []
    monkeypatch.setattr(importlib.import_module("simdyn.simulate"), "progress_bar", lambda *a, **k: opened.append(1))
    landscape = sd.Landscape("fresh_bowl_checks", dim=2, grad=_grad, loss=_loss)  # never compiled before
    prepared, built = engine_compile.prepared_count(), sd.cache_info()["builds"]
    with pytest.raises(error, match="chunk_size" if "chunk_size" in kwargs else "client"):
        sd.simulate("adam", landscape, np.zeros((3, 2)), 5, progress=True, **kwargs)
    assert engine_compile.prepared_count() == prepared, "a piece was compiled before the argument was rejected"
    assert sd.cache_info()["builds"] == built
    assert not opened, "a progress bar was opened before the argument was rejected"


def test_a_tuple_form_landscape_too_big_to_compile_is_refused_first():
    # The tuple-form quadratic at d = 300 took more than 8 GB and minutes to compile; the array
    # form has no such limit (tests/test_array_form.py).
    big = sd.Landscape("big_tuple", dim=300, grad=_grad, loss=_loss)
    prepared, built = engine_compile.prepared_count(), sd.cache_info()["builds"]
    with pytest.raises(ValueError, match=r"dimension 300 is above 24"):
        sd.simulate("adam", big, np.zeros((2, 300)), 5)
    with pytest.raises(ValueError, match=r"dimension 300 is above 24"):
        sd.simulate("adam", sd.landscapes.quadratic(np.eye(300), form="tuple"), np.zeros((2, 300)), 5)
    assert engine_compile.prepared_count() == prepared and sd.cache_info()["builds"] == built
