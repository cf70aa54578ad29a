"""Smoke test of the engine benchmark script (scripts/bench_engine.py): it runs end to end.

Never asserts on wall-clock time (DESIGN.md §5): only that every baseline row was measured and
that the hand-written kernel, the oracle of the benchmark, agrees with NumPy's same formulas.
"""

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "bench_engine.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_engine", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_bench_engine_quick_float64_runs_end_to_end():
    bench = load_bench()
    try:
        rows = bench.main(["--quick", "--dtype", "float64", "--repeats", "1"])
    except ImportError as exc:  # a simdyn piece the benchmark needs is not there yet
        pytest.skip(f"simdyn not importable yet: {exc}")
    by_name = {row["name"]: row for row in rows}
    hand = by_name["hand_tiled_numba"]
    assert hand["dtype"] == "float64" and hand["rate"] > 0
    assert by_name["numpy"]["rate"] > 0
    assert by_name["numpy"]["diff"] <= 1e-12      # same formulas, same order: agree to the ulp
    assert by_name["bound_sqrt_div"]["rate"] > 0
    assert "simdyn" in by_name                    # measured, or its error recorded in the row


def _load(name):
    spec = importlib.util.spec_from_file_location(name, SCRIPT.parent / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_bench_highd_quick_runs_end_to_end(capsys):
    _load("bench_highd").main(["--quick"])
    out = capsys.readouterr().out
    for row in ("compile", "grid", "quadratic d=10", "quadratic d=100", "network", "adam 2-D"):
        assert row in out


def test_bench_highd_hand_kernels_agree_with_numpy():
    # The benchmark's baselines must compute Adam on the quadratic: both hand kernels against a
    # NumPy loop of the same formula.
    import numpy as np

    bench = _load("bench_highd")
    h = bench.random_spd(7)
    x0 = np.random.default_rng(0).normal(size=(5, 7))
    w, m, v = x0.copy(), np.zeros_like(x0), np.zeros_like(x0)
    for t in range(1, 31):
        g = w @ h
        m += (1 - bench.BETA1) * (g - m)
        v = bench.BETA2 * v + (1 - bench.BETA2) * g * g
        w -= (1e-2 / (1 - bench.BETA1 ** t)) * m / (np.sqrt(v) / np.sqrt(1 - bench.BETA2 ** t) + bench.EPS)
    for kernel, extra in ((bench._hand_per_trajectory, ()), (bench._hand_tile_dot, (2,))):
        ours = x0.copy()
        kernel(ours, np.zeros_like(x0), np.zeros_like(x0), h, 1e-2, 30, *extra)
        np.testing.assert_allclose(ours, w, rtol=1e-10)


def test_bench_gpu_says_when_there_is_no_gpu(capsys):
    bench = _load("bench_gpu")
    if bench.gpu_name() is not None:
        pytest.skip("a GPU is present: bench_gpu measures instead")
    assert bench.main([]) == 0
    assert "no CUDA GPU" in capsys.readouterr().out
    assert bench.main(["--require-gpu"]) == 1


@pytest.mark.slow
def test_bench_highd_network_baseline_computes_the_losses_simdyn_computes():
    # The torch baseline of the network row must do simdyn's work: its per-pair losses equal
    # sd.observe.LossTrace on sd.landscapes.mlp over the same per-layer learning-rate grid.
    import numpy as np

    import simdyn as sd

    pytest.importorskip("torch")
    bench = _load("bench_highd")
    x, y, w0 = bench.network_data()
    lr = {"layer1": np.array([1e2, 1e5]), "layer2": np.array([1.0, 50.0])}
    ds = sd.simulate("sgd", sd.landscapes.mlp(x, y, width=16), w0, 6, hyper={"lr": lr},
                     observers=[sd.observe.LossTrace()], progress=False)
    ours = ds.loss_trace.isel(traj=0).transpose("lr_layer1", "lr_layer2", "loss_step").values.reshape(4, 6)
    np.testing.assert_allclose(bench.torch_network_losses(x, y, w0, lr, 6).T, ours, rtol=1e-10)
