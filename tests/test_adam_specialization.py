"""Adam's specialised update (no decay, β₁ > 1/2) is the general update, bit for bit.

Oracle: the general ``update`` compiled into the same kernel and run on the same batch; the
states must be equal byte for byte (signed zeros included), frozen codes too.
"""

import dataclasses

import numpy as np
import pytest

from simdyn.engine.run import run_batch
from simdyn.optimizers import adam
from simdyn.plan import make_plan


@pytest.mark.parametrize("values, expected", [
    ({"beta1": [0.9], "weight_decay": [0.0]}, adam.update_without_decay_beta1_above_half),
    ({"beta1": [0.6, 0.99], "weight_decay": [0.0, 0.0]}, adam.update_without_decay_beta1_above_half),
    ({"beta1": [0.9, 0.9], "weight_decay": [0.0, 1e-4]}, adam.update),
    ({"beta1": [0.5], "weight_decay": [0.0]}, adam.update),  # |1 − β₁| < 1/2 fails: lerp's second form
])
def test_specialize_picks_the_update_its_values_allow(values, expected):
    table = {"beta2": np.array([0.999]), "eps": np.array([1e-8]),
             **{name: np.array(v)[None, :] for name, v in values.items()}}
    assert adam.specialize(table) is expected


def test_the_kernel_compiles_the_specialised_update_only_when_it_applies():
    x0 = np.zeros((1, 2))
    assert make_plan("adam", "valley", x0, 3).launches[0].request.optimizer.update \
        is adam.update_without_decay_beta1_above_half
    assert make_plan("adam", "valley", x0, 3, hyper={"weight_decay": [0.0, 0.1]}).launches[0].request.optimizer.update \
        is adam.update


def test_specialised_kernel_equals_the_general_one_bit_for_bit():
    x0 = np.random.default_rng(0).uniform(-3, 3, (64, 2))
    x0[:4] = [[-0.0, 0.0], [0.0, -0.0], [-0.0, -0.0], [1e-300, -1e-300]]  # signed zeros, tiny steps
    (launch,) = make_plan("adam", "rosenbrock", x0, 200, hyper={"lr": [1e-3, 0.2, 2.0]}).launches
    inputs = dataclasses.replace(launch.inputs, threshold=5.0)  # at lr 2 some leave |w| <= 5 and freeze
    assert launch.request.optimizer.update is adam.update_without_decay_beta1_above_half
    general = dataclasses.replace(launch.request, optimizer=dataclasses.replace(launch.request.optimizer,
                                                                                 update=adam.update))
    special, plain = run_batch(launch.request, inputs), run_batch(general, inputs)
    assert np.any(special.frozen != 0) and np.any(special.frozen == 0)
    for name in ("w", "w_prev", "state", "frozen"):
        assert getattr(special, name).tobytes() == getattr(plain, name).tobytes(), name
