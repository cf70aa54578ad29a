"""Scale-out: blocks, a real dask LocalCluster, resumable batch jobs, bounded memory."""

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import xarray as xr

import simdyn as sd
from simdyn.chunks import plan_blocks

NOISE = sd.noise.Gaussian(0.01, seed=3)


@pytest.mark.parametrize("shape, chunk", [((7,), 3), ((3, 5), 4), ((2, 3, 4), 5), ((4, 1, 6), 6), ((5, 4), 100)])
def test_blocks_are_contiguous_rectangles_covering_the_batch(shape, chunk):
    covered = np.zeros(shape, dtype=int)
    flat = np.arange(int(np.prod(shape))).reshape(shape)
    previous_stop = 0
    for block in plan_blocks(shape, chunk):
        assert block.start == previous_stop
        previous_stop = block.stop
        covered[block.index] += 1
        np.testing.assert_array_equal(flat[block.index].ravel(), np.arange(block.start, block.stop))
        assert block.size <= max(chunk, int(np.prod(shape[-1:])))
    assert previous_stop == flat.size
    assert np.all(covered == 1)


def test_gathered_blocks_equal_one_call_and_no_blocks_is_a_clear_error():
    """Oracle: the unchunked ``sd.simulate`` of the same inputs."""
    from simdyn.distributed import gather, iterate_tasks, plan_tasks
    from simdyn.plan import make_plan

    x0 = np.random.default_rng(1).uniform(-1, 1, (13, 2))
    kwargs = dict(hyper={"lr": [0.01, 0.1]}, noise=NOISE, record_every=4)
    plan = make_plan(["sgd", "adam"], "valley", x0, 12, **kwargs)
    ds = gather(plan, iterate_tasks(plan, plan_tasks(plan, 5)))
    ref = sd.simulate(["sgd", "adam"], "valley", x0, 12, progress=False, **kwargs)
    for name in ref.data_vars:
        np.testing.assert_array_equal(ds[name].values, ref[name].values, err_msg=name)
    with pytest.raises(ValueError, match="gather: finished holds no"):
        gather(plan, [])


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        with distributed.Client(cluster) as c:
            yield c


def test_local_cluster_gives_the_single_process_result(client):
    x0 = np.random.default_rng(0).uniform(-1, 1, (50, 2))
    kwargs = dict(hyper={"lr": [0.01, 0.1]}, noise=NOISE, record_every=5, progress=False)
    ref = sd.simulate(["sgd", "adam"], "valley", x0, 30, **kwargs)
    ds = sd.simulate(["sgd", "adam"], "valley", x0, 30, client=client, chunk_size=40, **kwargs)
    for name in ref.data_vars:
        np.testing.assert_array_equal(ds[name].values, ref[name].values, err_msg=name)
    assert list(ds.optimizer.values) == ["sgd", "adam"]
    assert ds.attrs["simdyn_call"] == ref.attrs["simdyn_call"]


def test_array_form_on_a_cluster_gives_the_single_process_result(client):
    # The registered quadratic takes the array form at d = 12; its blocks run on the workers.
    rng = np.random.default_rng(3)
    a = rng.normal(size=(12, 12))
    h = a @ a.T / 12 + np.eye(12)
    x0 = rng.normal(size=(9, 12))
    kwargs = dict(hyper={"lr": [0.01, 0.1]}, params={"h": h}, record_every=5, progress=False)
    ref = sd.simulate("adam", "quadratic", x0, 30, **kwargs)
    ds = sd.simulate("adam", "quadratic", x0, 30, client=client, chunk_size=4, **kwargs)
    for name in ref.data_vars:
        np.testing.assert_array_equal(ds[name].values, ref[name].values, err_msg=name)


def test_period_scan_on_a_cluster(client):
    # Oracle: sgd on x² + a·y² maps x to (1 − 2η)x: η = 1 flips x (a 2-cycle ±x₀), η = 0.25 halves
    # it (the fixed point 0). The client and chunk_size go to simulate, not to the plan.
    x0 = np.array([[0.5, 0.1], [-0.2, 0.3], [0.7, -0.4]])
    ds = sd.period_scan("sgd", "valley", x0, hyper={"lr": np.array([0.25, 1.0])}, steps=200, max_period=8,
                        coords=["x"], client=client, chunk_size=2, progress=False)
    np.testing.assert_array_equal(ds.period.values, [[1, 1, 1], [2, 2, 2]])
    np.testing.assert_allclose(ds.cycle_amplitude.values[1, :, 0], 2 * np.abs(x0[:, 0]), rtol=1e-12)


STUDY = """
name = "resume"
optimizers = ["sgd", "adam"]
landscape = "valley"
steps = {steps}
record_every = {record}
[hyper]
lr = [0.01, 0.1]
[x0]
grid = {{ x = [-1.0, 1.0, {n}], y = [-1.0, 1.0, {n}] }}
[noise]
sigma = 0.01
seed = 5
[execution]
chunk_size = {chunk}
"""


def _run_cli(args, **kwargs):
    return subprocess.run([sys.executable, "-m", "simdyn", *args], capture_output=True, text=True, **kwargs)


def _assert_same_file(a_path, b_path):
    a, b = sd.load(a_path), sd.load(b_path)
    xr.testing.assert_identical(a.drop_attrs(), b.drop_attrs())
    skip = {"created", "elapsed_seconds", "history"}
    assert set(a.attrs) == set(b.attrs)
    for key in set(a.attrs) - skip:
        assert np.array_equal(a.attrs[key], b.attrs[key]), key


KILL_AFTER_THREE_PARTS = """
import os, signal, sys
from simdyn.distributed import store
write = store.PartStore.write
written = []
def write_then_die(self, *args, **kwargs):
    write(self, *args, **kwargs)
    written.append(1)
    if len(written) == 3:
        os.kill(os.getpid(), signal.SIGKILL)  # as a crash or `kill -9` would, mid-study
store.PartStore.write = write_then_die
from simdyn.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _parts(folder):
    return [name for _, _, files in os.walk(folder) for name in files if name.startswith("part-")]


def test_killed_run_resumes_to_the_identical_file(tmp_path):
    study = tmp_path / "study.toml"
    study.write_text(STUDY.format(steps=3000, record=1000, n=12, chunk=24))
    out = tmp_path / "killed.nc"
    killed = subprocess.run([sys.executable, "-c", KILL_AFTER_THREE_PARTS, "run", str(study), "-o", str(out), "-q"],
                            capture_output=True, text=True, timeout=600)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert not out.exists() and len(_parts(tmp_path / "killed.nc.parts")) == 3
    resumed = _run_cli(["run", str(study), "-o", str(out), "-q"], timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    assert not (tmp_path / "killed.nc.parts").exists()
    whole = tmp_path / "whole.nc"
    assert _run_cli(["run", str(study), "-o", str(whole), "-q"], timeout=600).returncode == 0
    _assert_same_file(out, whole)
    ds = sd.load(out)
    assert int(ds.attrs["n_chunks"]) == 24 and int(ds.attrs["chunk_size"]) == 24
    assert ds.attrs["numba_version"] and len(ds.attrs["inputs_hash"]) == 64


def test_chunked_job_file_equals_simulate(tmp_path):
    from simdyn.distributed.job import execute_study
    from simdyn.study import load_study, run_study

    study = load_study(STUDY.format(steps=30, record=10, n=9, chunk=10))
    execute_study(study, tmp_path / "job.nc", chunk_size=10, progress=False)
    job = sd.load(tmp_path / "job.nc")
    ref = run_study(study, progress=False)
    ref.simdyn.save(tmp_path / "ref.nc")
    ref = sd.load(tmp_path / "ref.nc")
    xr.testing.assert_identical(job.drop_attrs(), ref.drop_attrs())


def test_changed_study_does_not_reuse_old_parts(tmp_path):
    from simdyn.distributed.store import PartStore

    out = str(tmp_path / "x.nc")
    store = PartStore(out, "hash-a", 10)
    os.makedirs(os.path.join(store.folder, "_"))
    (tmp_path / "x.nc.parts" / "_" / "part-0-0.nc").write_text("stale")
    PartStore(out, "hash-b", 10)
    assert not (tmp_path / "x.nc.parts" / "_" / "part-0-0.nc").exists()


def test_dry_run_prints_the_plan(tmp_path):
    study = tmp_path / "study.toml"
    study.write_text(STUDY.format(steps=100, record=50, n=30, chunk=200))
    result = _run_cli(["run", str(study), "-o", str(tmp_path / "o.nc"), "--dry-run"], timeout=120)
    assert result.returncode == 0, result.stderr
    assert "1,800 trajectories x 100 steps" in result.stdout and "chunk(s)" in result.stdout
    assert "per chunk in flight; output: ~" in result.stdout and "of variables" in result.stdout
    assert not (tmp_path / "o.nc").exists()


@pytest.mark.parametrize(
    "table, message",
    [
        ("[execution]\nchunks = 3\n", r"unknown key 'chunks' in \[execution\]"),
        ("[execution]\nchunk_size = 'big'\n", r"execution.chunk_size"),
        ("[execution]\nchunk_size = 0\n", r"execution.chunk_size"),
        ("[execution]\nn_workers = 1.5\n", r"execution.n_workers"),
    ],
)
def test_bad_execution_tables_name_the_key(tmp_path, table, message):
    base = STUDY.format(steps=10, record=5, n=4, chunk=10).split("[execution]")[0]
    study = tmp_path / "bad.toml"
    study.write_text(base + table)
    result = _run_cli(["run", str(study), "--dry-run"], timeout=120)
    assert result.returncode == 2
    assert __import__("re").search(message, result.stderr), result.stderr


BIG = """
name = "big"
optimizer = "sgd"
landscape = "valley"
steps = 5
dtype = "float32"
observers = ["hitting", "max_step"]
[hyper]
lr = {lrs}
[x0]
grid = {{ x = [-1.0, 1.0, 1000], y = [-1.0, 1.0, 100] }}
[execution]
chunk_size = 1000000
"""


def test_ten_million_trajectories_stay_in_bounded_memory(tmp_path):
    lrs = [round(float(x), 4) for x in np.linspace(0.01, 0.5, 100)]
    study = tmp_path / "big.toml"
    study.write_text(BIG.format(lrs=lrs))
    script = textwrap.dedent(f"""
        import resource, sys
        from simdyn.cli import main
        code = main(["run", {str(study)!r}, "-o", {str(tmp_path / 'big.nc')!r}, "-q"])
        print("PEAK_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
        sys.exit(code)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr
    peak_gib = int(result.stdout.split("PEAK_KB")[1].split()[0]) / 2**20
    assert peak_gib < 2.0, f"peak RSS {peak_gib:.2f} GiB"
    with xr.open_dataset(tmp_path / "big.nc") as ds:
        assert ds.sizes["lr"] * ds.sizes["x0"] * ds.sizes["y0"] == 10**7
        # Oracle: sgd on x² + a·y² moves x by 2η(1 − 2η)⁴|x₀| ≥ 1.8e-5 at step 5 (|x₀| ≥ 1/999 on this
        # grid, η ≤ 0.0149), far above converge_tol, and nothing diverges: every trajectory of the
        # first two learning rates is "bounded". An unwritten block would read 0, "converged".
        bounded = list(ds.status.attrs["flag_meanings"].split()).index("bounded")
        assert int((ds.status.isel(lr=slice(0, 2)) == bounded).sum()) == 2 * 10**5
        assert ds.hit_step.dims == ("lr", "x0", "y0") and ds.max_step.dims == ("lr", "x0", "y0", "coord")
