"""The output size a plan predicts (``simdyn run --dry-run``) against what a run writes."""

import numpy as np
import pytest

import simdyn as sd
from simdyn.output_size import format_bytes, output_bytes, output_variables, recording_bytes
from simdyn.plan import make_plan

X0 = np.random.default_rng(0).uniform(-1, 1, (5, 2))
CASES = {
    "recorded": (("adam", "valley", X0, 20), dict(record_every=3, hyper={"lr": [0.01, 0.1]})),
    "observers_float32": (
        (["sgd", "adam"], "double_well", sd.grid(x=(-1, 1, 4), y=(-1, 1, 3)), 30),
        dict(dtype="float32", observers=[
            sd.observe.Period(8, orbit=True), sd.observe.Hitting(tol=1e-3, target="nearest_minimum"),
            sd.observe.Exit((0.0, 0.0), 0.5), sd.observe.PathLength(), sd.observe.MaxStep(), sd.observe.Tail(4),
        ]),
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_output_variables_match_the_dataset_a_run_returns(case):
    """Oracle: the variables (shape, dtype, bytes) of the Dataset ``sd.simulate`` returns."""
    args, kwargs = CASES[case]
    predicted = output_variables(make_plan(*args, **kwargs))
    ds = sd.simulate(*args, progress=False, **kwargs)
    assert {name: (tuple(shape), np.dtype(dtype)) for name, (shape, dtype) in predicted.items()} == \
        {name: (var.shape, var.dtype) for name, var in ds.data_vars.items()}
    assert output_bytes(make_plan(*args, **kwargs)) == sum(var.nbytes for var in ds.data_vars.values())


def test_recording_bytes_is_the_closed_form():
    """Oracle: (T // k + 1) records x d x batch x optimizers x itemsize, by hand."""
    plan = make_plan(["sgd", "adam"], "valley", X0, 20, record_every=3, hyper={"lr": [0.01, 0.1, 0.2]}, dtype="float32")
    assert recording_bytes(plan) == (20 // 3 + 1) * 2 * (3 * 5) * 2 * 4
    assert recording_bytes(make_plan("sgd", "valley", X0, 20)) == 0


def test_format_bytes():
    assert format_bytes(512) == "512 B"
    assert format_bytes(1.5 * 2**20) == "1.5 MiB"
    assert format_bytes(3 * 2**40) == "3 TiB"


STUDY = """
name = "sized"
optimizers = ["sgd", "adam"]
landscape = "valley"
steps = 400
record_every = 1
observers = ["period"]
[x0]
grid = { x = [-1.0, 1.0, 12], y = [-1.0, 1.0, 10] }
"""


def test_dry_run_estimate_is_the_size_of_the_written_file(tmp_path):
    """Oracle: the size of the netCDF file the same study writes (data plus a little metadata)."""
    from simdyn.distributed.job import execute_study, plan_job
    from simdyn.study import load_study

    study = load_study(STUDY)
    out = tmp_path / "sized.nc"
    job = plan_job(study, out)
    estimate = job.memory_estimate()["output"]
    assert f"output: ~{format_bytes(estimate)} of variables" in job.describe()
    execute_study(study, out, progress=False)
    written = out.stat().st_size
    assert estimate <= written <= 1.1 * estimate + 2**16, (estimate, written)
