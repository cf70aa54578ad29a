"""``Period`` and ``basins`` on array-form landscapes (any d).

Landscape: the separable double well L(w) = Σ_k ¼·a_k·(w_k² − 1)², gradient a_k·w_k·(w_k² − 1),
written once on arrays (``wells``) and, for d ≤ 4, once on tuples (``tuple_wells``) with the same
arithmetic. Under gradient descent each coordinate follows the map x ↦ x − c·x·(x² − 1),
c = lr·a_k: it converges to ±1 (the sign of x₀, while |x₀| < √(1 + 1/c)) for c < 1 and settles
on a 2-cycle around ±1 for 1 < c < 1.23 (the map's first period doubling at c = 1, where the
slope 1 − 2c at x = 1 passes −1), so the period of w is the lcm of the coordinates' periods.

Oracles: for d ≤ 4 the tuple form of the same observer on the tuple twin (itself tested in
test_period.py), bit for bit; at d = 50 NumPy period detection on a recording of every step
(and, for ``on="state"``, a NumPy heavy ball); for ``basins`` at d = 20 the sign pattern of the
initial point; on CUDA (simulator, and compiled to PTX) the CPU kernel.
"""

import os

import numpy as np
import pytest

import simdyn as sd
from simdyn.engine.allocation import launch_bytes
from simdyn.plan import make_plan


def wells_grad(w, p, data, t, g):
    a = data[0]
    for k in range(w.shape[0]):
        g[k] = a[k] * w[k] * (w[k] * w[k] - 1.0)


def wells_loss(w, p, data, t):
    a = data[0]
    total = 0.0
    for k in range(w.shape[0]):
        u = w[k] * w[k] - 1.0
        total += 0.25 * a[k] * u * u
    return total


def wells(a):
    """The double well on arrays, curvatures ``a`` as data."""
    a = np.asarray(a, dtype=float)
    return sd.Landscape("wells", a.size, wells_grad, wells_loss, form="array", data={"a": a},
                        formula="sum_k a_k (w_k^2 - 1)^2 / 4")


def tuple_wells(a):
    """The same landscape on tuples (source written for d = len(a)), curvatures as parameter ``a``."""
    d = len(a)
    grad = ", ".join(f"p[{k}] * w[{k}] * (w[{k}] * w[{k}] - 1.0)" for k in range(d))
    loss = "".join(f"    u = w[{k}] * w[{k}] - 1.0\n    total += 0.25 * p[{k}] * u * u\n" for k in range(d))
    source = f"def grad(w, p, t):\n    return ({grad},)\n\ndef loss(w, p, t):\n    total = 0.0\n{loss}    return total\n"
    namespace = {}
    exec(compile(source, f"<tuple_wells {d}>", "exec"), namespace)
    return sd.Landscape("wells", d, namespace["grad"], namespace["loss"], params={"a": np.asarray(a, dtype=float)},
                        formula="sum_k a_k (w_k^2 - 1)^2 / 4")


#: Curvatures of the d ≤ 4 cases: the coordinates with a = 1.1 are 2-cycles under SGD at lr 1 and
#: the heavy ball (μ = 0.3) at lr 1.2 (lr·2a = 2.64 > 2(1 + μ)), the others fixed points.
CURVATURES = {1: [1.1], 2: [0.5, 1.1], 4: [0.5, 1.1, 0.8, 1.1]}


def starts(d, n, seed):
    """n points with every |w_k| in [0.3, 1.3] and random signs, and one that diverges (w_0 = 3)."""
    rng = np.random.default_rng(seed)
    x0 = rng.uniform(0.3, 1.3, size=(n, d)) * rng.choice([-1.0, 1.0], size=(n, d))
    x0[-1, 0] = 3.0
    return x0


#: The variables of Period, compared bit for bit (NaN where there is no period).
PERIOD_VARIABLES = ("period", "transient", "cycle_amplitude", "cycle_center", "orbit", "status", "w", "loss")


def assert_same(got, expected, names):
    for name in names:
        np.testing.assert_array_equal(got[name].values, expected[name].values, err_msg=name)


def compare_forms(d):
    """Array form against tuple form at dimension d: SGD with Period on w (all coordinates, then
    ``coords``), the heavy ball with Period on the full state."""
    a = CURVATURES[d]
    x0 = starts(d, 7, d)
    cases = [
        ("sgd", {"lr": [0.5, 1.0]}, dict(max_period=8, orbit=True)),
        ("sgd", {"lr": [0.5, 1.0]}, dict(max_period=8, orbit=True, coords=[0])),
        ("momentum", {"lr": [0.5, 1.2], "momentum": 0.3}, dict(max_period=8, on="state", orbit=True)),
    ]
    for optimizer, hyper, settings in cases:
        runs = {form: sd.simulate(optimizer, land, x0, 400, hyper=hyper, observers=[sd.observe.Period(**settings)],
                                  progress=False)
                for form, land in (("tuple", tuple_wells(a)), ("array", wells(a)))}
        assert np.any(runs["tuple"].period.values >= 1), settings
        assert np.any(runs["tuple"].status.values == sd.status.STATUS["diverged"])
        names = PERIOD_VARIABLES + (("orbit_state",) if settings.get("on") == "state" else ())
        assert_same(runs["array"], runs["tuple"], names)
        yield optimizer, settings, runs


def test_period_on_array_form_equals_tuple_form_bit_for_bit():
    periods = {}
    for optimizer, settings, runs in compare_forms(2):
        periods[optimizer, "coords" in settings] = runs["array"].period.values
    # lr 1: coordinate 1 (c = 1.1) is a 2-cycle, coordinate 0 (c = 0.5) a fixed point
    assert np.all(periods["sgd", False][1, :-1] == 2) and np.all(periods["sgd", True][1, :-1] == 1)
    assert np.all(periods["sgd", False][0, :-1] == 1)
    np.testing.assert_array_equal(periods["momentum", False][:, :-1], [[1] * 6, [2] * 6])


def test_array_form_at_d1_with_optimizer_slots_equals_the_same_coordinate_at_d2():
    """The landscape is separable: coordinate 1 of a d = 2 run is a d = 1 run from its own start
    (same kernel; d = 1 once handed the kernel a read-only slot array)."""
    x0 = starts(2, 7, 2)[:-1]
    kwargs = dict(hyper={"lr": [0.5, 1.2], "momentum": 0.3}, progress=False,
                  observers=[sd.observe.Period(max_period=8, on="state", orbit=True)])
    two = sd.simulate("momentum", wells(CURVATURES[2]), x0, 400, **kwargs)
    one = sd.simulate("momentum", wells(CURVATURES[2][1:]), x0[:, 1:], 400, **kwargs)
    np.testing.assert_array_equal(one.w.values, two.w.values[..., 1:])
    np.testing.assert_array_equal(one.orbit.values, two.orbit.values[..., 1:])
    np.testing.assert_array_equal(one.period.values, [[1] * 6, [2] * 6])


@pytest.mark.slow
@pytest.mark.parametrize("d", [1, 4])
def test_period_on_array_form_equals_tuple_form_at_d_1_and_4(d):
    for _ in compare_forms(d):
        pass


def numpy_period(path, max_period, atol, rtol, window):
    """Smallest p ≤ max_period with |w_{t+p} − w_t| ≤ atol + rtol·|w_t| (every coordinate) for
    every t of the last ``window`` steps of ``path`` (steps, d); 0 if none."""
    for p in range(1, max_period + 1):
        old, new = path[-window - p:-p], path[-window:]
        if np.all(np.abs(new - old) <= atol + rtol * np.abs(old)):
            return p
    return 0


def numpy_regime_start(path, p, atol, rtol):
    """First step s from which w_{s+kp} agrees with w_s for every k (the periodic regime)."""
    steps = path.shape[0]
    start = steps - 1
    for s in range(steps - 1, -1, -1):
        later = path[s + p::p]
        if not np.all(np.abs(later - path[s]) <= atol + rtol * np.abs(path[s])):
            break
        start = s
    return start


D50 = 50
D50_CURVATURES = np.resize([0.5, 0.8, 1.1], D50)  # at lr 1: fixed, fixed, 2-cycle: period 2


@pytest.fixture(scope="module")
def d50_run():
    x0 = starts(D50, 6, 50)
    observer = sd.observe.Period(max_period=6, atol=1e-9, rtol=1e-9, orbit=True)
    kwargs = dict(hyper={"lr": 1.0}, observers=[observer], record_every=1, progress=False)
    return x0, kwargs, sd.simulate("sgd", wells(D50_CURVATURES), x0, 300, **kwargs)


def test_d50_period_equals_numpy_detection_on_a_recording(d50_run):
    x0, kwargs, ds = d50_run
    paths = ds.trajectory.transpose("traj", "step", "coord").values
    atol = rtol = 1e-9
    for i, path in enumerate(paths[:-1]):
        p = numpy_period(path, 6, atol, rtol, window=20)
        assert p == 2 and ds.period.values[i] == p
        start = numpy_regime_start(path, p, atol, rtol)
        assert ds.transient.values[i] - 6 < start <= ds.transient.values[i]
        cycle = path[-p:]
        np.testing.assert_array_equal(ds.cycle_amplitude.values[i], cycle.max(axis=0) - cycle.min(axis=0))
        np.testing.assert_allclose(ds.cycle_center.values[i], cycle.mean(axis=0), rtol=1e-15, atol=1e-15)
        np.testing.assert_array_equal(ds.orbit.values[i], path[-6:])
        # the 2-cycle sits on the coordinates with c = 1.1 only
        assert np.all(ds.cycle_amplitude.values[i][D50_CURVATURES == 1.1] > 0.1)
        assert np.all(ds.cycle_amplitude.values[i][D50_CURVATURES != 1.1] == 0.0)
    assert ds.status.values[-1] == sd.status.STATUS["diverged"] and ds.period.values[-1] == 0


def test_d50_period_with_coords_and_chunks(d50_run):
    x0, kwargs, whole = d50_run
    chunked = sd.simulate("sgd", wells(D50_CURVATURES), x0, 300, chunk_size=4, **kwargs)
    for name in whole.data_vars:
        np.testing.assert_array_equal(chunked[name].values, whole[name].values, err_msg=name)
    fixed = [k for k in range(D50) if D50_CURVATURES[k] != 1.1]
    kwargs = dict(kwargs, observers=[sd.observe.Period(max_period=6, orbit=True, coords=fixed)])
    on_fixed = sd.simulate("sgd", wells(D50_CURVATURES), x0, 300, **kwargs)
    assert np.all(on_fixed.period.values[:-1] == 1)


@pytest.mark.slow
def test_d50_period_on_the_state_equals_a_numpy_heavy_ball():
    """Oracle: the heavy ball (torch.optim.SGD with momentum: v ← μv + g, w ← w − lr·v) iterated
    in NumPy, its period detected on z = (w, v)."""
    d, steps, lr, mu = D50, 400, 1.0, 0.3
    a = np.resize([0.5, 1.35, 0.8], d)  # c·h = 2.7 > 2(1 + μ): a 2-cycle on every third coordinate
    x0 = starts(d, 4, 51)[:-1]
    ds = sd.simulate("momentum", wells(a), x0, steps, hyper={"lr": lr, "momentum": mu}, progress=False,
                     observers=[sd.observe.Period(max_period=8, on="state", orbit=True)])
    for i, w in enumerate(x0):
        w, v, states = w.copy(), np.zeros(d), []
        for _ in range(steps):
            v = mu * v + a * w * (w * w - 1.0)
            w = w - lr * v
            states.append(np.concatenate([w, v]))
        p = numpy_period(np.array(states), 8, 1e-9, 1e-9, window=20)
        assert p == 2 and ds.period.values[i] == p
        np.testing.assert_allclose(ds.orbit_state.values[i], np.array(states[-8:]), rtol=1e-12, atol=1e-12)


def test_period_buffer_is_counted_by_the_memory_check():
    """The (max_period + 1, d·(1 + slots)) buffer per trajectory is in launch_bytes, so a run
    that does not fit is refused before anything is allocated or compiled, naming chunk_size."""
    d, n = 1000, 64
    land = sd.landscapes.quadratic(np.eye(d), form="array")
    x0 = np.zeros((n, d))
    plain = make_plan("momentum", land, x0, 10).launches[0]
    for on, width in (("w", d), ("state", 2 * d)):
        plan = make_plan("momentum", land, x0, 10, observers=[sd.observe.Period(max_period=64, on=on)])
        launch = plan.launches[0]
        extra = launch_bytes(launch.request, launch.inputs, n) - launch_bytes(plain.request, plain.inputs, n)
        buffer = n * 8 * 65 * width
        # the buffer, plus the observer's three slots (and their returned copy) and its parameter table
        assert buffer + n * 2 * 8 * 3 <= extra <= buffer + n * 2 * 8 * 3 + 8 * 2 * (width + 8)
    with pytest.raises(ValueError, match=r"chunk_size: one launch of 64 trajectories x 1000 coords needs .*\(chunk_size=\d+\)"):
        sd.simulate("momentum", land, x0, 10, observers=[sd.observe.Period(max_period=64, on="state")],
                    max_memory=40 * 2**20, progress=False)


def test_basins_at_d20_are_the_sign_patterns_of_the_initial_points():
    """Gradient descent with c = lr·a < 1 keeps every coordinate on its side of the hump and
    converges to ±1: the attractor of w₀ is sign(w₀), four patterns × three points each."""
    d, rng = 20, np.random.default_rng(20)
    patterns = rng.choice([-1.0, 1.0], size=(4, d))
    x0 = np.repeat(patterns, 3, axis=0) * rng.uniform(0.3, 1.3, size=(12, d))
    ds = sd.basins("sgd", wells(np.full(d, 0.9)), x0, 300, hyper={"lr": [0.5, 1.0]}, progress=False)
    labels = ds.attractor.values  # (lr, traj)
    assert labels.shape == (2, 12) and np.all(labels >= 0)
    assert ds.attractor_id.size == 4 and np.all(ds.attractor_period.values == 1)
    for row in labels:
        location = ds.attractor_location.values[row]
        np.testing.assert_allclose(location, np.repeat(patterns, 3, axis=0), atol=float(ds.attrs["basins_tol"]))
    np.testing.assert_array_equal(labels[0], labels[1])  # the same minima at both learning rates
    np.testing.assert_allclose(ds.basin_fraction.values, 0.25)
    np.testing.assert_allclose(ds.attractor_loss.values, 0.0, atol=1e-12)


def test_basins_on_array_form_equal_tuple_form_at_d2():
    """Fixed points (lr 0.5) and 2-cycles (lr 1: c = 1.1 on the second coordinate) on a grid."""
    a = CURVATURES[2]
    grid = sd.grid(x=(-1.3, 1.3, 7), y=(-1.3, 1.3, 7))
    runs = {form: sd.basins("sgd", land, grid, 400, hyper={"lr": [0.5, 1.0]}, progress=False)
            for form, land in (("tuple", tuple_wells(a)), ("array", wells(a)))}
    assert set(runs["tuple"].attractor_kind.values) == {"fixed_point", "cycle"}
    for name in runs["tuple"].data_vars:
        np.testing.assert_array_equal(runs["array"][name].values, runs["tuple"][name].values, err_msg=name)


@pytest.mark.cudasim
@pytest.mark.parametrize("on", ["w", "state"])
def test_period_on_array_form_on_cuda_equals_cpu(on):
    """Oracle: the CPU kernel (per-trajectory gradient loop on both targets: the same points).
    Heavy ball at lr 0.5 (fixed points), 1.3 (2-cycles, settled by step 50); the last start diverges."""
    from cudasim_helpers import both_targets

    a = CURVATURES[4]
    cpu, gpu = both_targets("momentum", wells(a), starts(4, 3, 9), 120, hyper={"lr": [0.5, 1.3], "momentum": 0.3},
                            observers=[sd.observe.Period(max_period=4, on=on, orbit=True)])
    assert np.any(cpu.period.values == 2) and np.any(cpu.status.values == sd.status.STATUS["diverged"])
    names = PERIOD_VARIABLES + (("orbit_state",) if on == "state" else ())
    for name in names:
        np.testing.assert_allclose(gpu[name].values, cpu[name].values, rtol=1e-12, atol=1e-14, equal_nan=True,
                                   err_msg=name)


@pytest.mark.skipif(os.environ.get("NUMBA_ENABLE_CUDASIM") == "1", reason="compile_ptx needs the real CUDA compiler")
def test_array_form_kernel_with_period_on_the_state_compiles_to_ptx():
    pytest.importorskip("numba.cuda")
    from simdyn.engine.kernels import compile_ptx

    req = make_plan("momentum", wells(CURVATURES[4]), starts(4, 2, 3), 3,
                    observers=[sd.observe.Period(max_period=4, on="state")]).launches[0].request
    ptx = compile_ptx(req)
    assert ".entry" in ptx and ".target sm_90" in ptx


def _study_text(h: np.ndarray) -> str:
    rows = ", ".join("[" + ", ".join(repr(float(x)) for x in row) + "]" for row in h)
    center = ", ".join("0.0" for _ in range(h.shape[0]))
    return f"""
name = "array_period"
optimizer = "momentum"
landscape = "quadratic"
steps = 200
observers = [{{ name = "period", max_period = 8, on = "state", orbit = true }}]
[params]
h = [{rows}]
[hyper]
lr = [0.1, 0.5]
momentum = 0.3
[x0]
ball = {{ center = [{center}], radius = 1.0, n = 10, seed = 1 }}
[execution]
chunk_size = 4
"""


def test_interrupted_toml_study_on_array_form_resumes_to_the_uninterrupted_file(tmp_path, monkeypatch):
    """The registered quadratic with a 12 × 12 h (array form) and Period on the full state: a
    study stopped after two of its chunks resumes from the chunks on disk (only the others run)
    and writes the file an uninterrupted run writes."""
    import xarray as xr

    from simdyn.distributed import store
    from simdyn.distributed.job import execute_study
    from simdyn.study import load_study

    rng = np.random.default_rng(12)
    q = rng.normal(size=(12, 12))
    study = load_study(_study_text(q @ q.T / 12 + np.eye(12)))
    assert make_plan(**study.simulate_kwargs(study.groups[0])).landscape.form == "array"
    write = store.PartStore.write
    written = []

    def write_then_stop(self, *args, **kwargs):
        if len(written) == 2:
            raise KeyboardInterrupt  # as Ctrl-C would, after two chunks are on disk
        write(self, *args, **kwargs)
        written.append(1)

    monkeypatch.setattr(store.PartStore, "write", write_then_stop)
    out = tmp_path / "resumed.nc"
    with pytest.raises(KeyboardInterrupt):
        execute_study(study, str(out), chunk_size=4, progress=False)
    assert not out.exists()
    assert len([f for _, _, files in os.walk(tmp_path / "resumed.nc.parts") for f in files if f.startswith("part-")]) == 2

    def counted_write(self, *args, **kwargs):
        write(self, *args, **kwargs)
        written.append(1)

    monkeypatch.setattr(store.PartStore, "write", counted_write)
    execute_study(study, str(out), chunk_size=4, progress=False)
    resumed_chunks = len(written) - 2
    assert not (tmp_path / "resumed.nc.parts").exists()
    whole = tmp_path / "whole.nc"
    execute_study(study, str(whole), chunk_size=4, progress=False)
    assert len(written) - 2 - resumed_chunks == 2 + resumed_chunks  # the resumed run skipped the two chunks
    a, b = sd.load(out), sd.load(whole)
    xr.testing.assert_identical(a.drop_attrs(), b.drop_attrs())
    assert np.all(a.period.values == 1) and "orbit_state" in a
    for key in set(a.attrs) - {"created", "elapsed_seconds", "history"}:
        assert np.array_equal(a.attrs[key], b.attrs[key]), key


@pytest.mark.slow
def test_period_on_array_form_on_a_dask_cluster_gives_the_single_process_result():
    """The registered quadratic at d = 12 (array form), Period on the full state, blocks on two
    worker processes."""
    distributed = pytest.importorskip("dask.distributed")
    rng = np.random.default_rng(13)
    q = rng.normal(size=(12, 12))
    kwargs = dict(hyper={"lr": [0.1, 0.5], "momentum": 0.3}, params={"h": q @ q.T / 12 + np.eye(12)}, progress=False,
                  observers=[sd.observe.Period(max_period=8, on="state", orbit=True)])
    x0 = rng.normal(size=(9, 12))
    ref = sd.simulate("momentum", "quadratic", x0, 200, **kwargs)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        with distributed.Client(cluster) as client:
            ds = sd.simulate("momentum", "quadratic", x0, 200, client=client, chunk_size=4, **kwargs)
    assert np.all(ref.period.values == 1)
    for name in ref.data_vars:
        np.testing.assert_array_equal(ds[name].values, ref[name].values, err_msg=name)
