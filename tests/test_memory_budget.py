"""One memory budget: :func:`simdyn.engine.allocation.launch_bytes` is what ``run_batch`` allocates.

Oracle: the ``nbytes`` of the arrays ``run_batch`` actually makes — the kernel's arguments as
``_allocate`` hands them over and the result arrays that are not views of them — for tuple- and
array-form launches, observers with history buffers, a recording, and a hyperparameter grid whose
tiles reorder the trajectories. The kernel is replaced by a no-op (allocation is the same and
nothing is compiled).
"""

import numpy as np
import pytest

import simdyn as sd
from simdyn.engine import allocation
from simdyn.plan import make_plan

from allocation_spy import allocated_arrays

X0 = np.random.default_rng(1).uniform(-1, 1, (7, 2))
CASES = {
    "tuple": (("adam", "valley", X0, 20), dict(hyper={"lr": [0.01, 0.1]})),
    "tuple_recorded_float32": (("momentum", "valley", X0, 20), dict(record_every=3, dtype="float32")),
    "tuple_buffers": (("adam", "double_well", sd.grid(x=(-1, 1, 5), y=(-1, 1, 3)), 30),
                      dict(observers=[sd.observe.Period(8, orbit=True), sd.observe.Tail(4), sd.observe.PathLength()])),
    # lr is the lane dim (600 >= the tiling's group target), beta1 the tile group: groups 0 1 0 1 …
    "tuple_grid_reordered": (("adam", "valley", np.array([[0.3, 0.2]]), 10),
                             dict(hyper={"lr": np.linspace(0.01, 0.1, 600), "beta1": [0.8, 0.9]})),
    "array_recorded": (("adam", sd.landscapes.quadratic(np.diag([1.0, 2.0, 3.0]), form="array"),
                        np.ones((5, 3)), 12), dict(record_every=4, hyper={"lr": [0.01, 0.1]})),
    "array_float32_data_copy": (("sgd", sd.landscapes.quadratic(np.diag([1.0, 2.0, 3.0]), form="array"),
                                 np.ones((4, 3)), 12), dict(dtype="float32")),
}


def measured_bytes(monkeypatch, launch) -> int:
    """Bytes of the distinct arrays run_batch allocates for the whole launch: the kernel's array
    arguments (not the tile table, not the landscape's own data) and the result's own arrays."""
    made, result = allocated_arrays(monkeypatch, launch)
    data = launch.request.landscape.data_arrays
    kernel = [a for name, a in made.items() if isinstance(a, np.ndarray) and name != "T"
              and not any(a is d for d in data)]
    # the slots are gathered only when asked (BatchResult.state): on the CPU the run holds no copy
    # of them; from a GPU it holds their host copy, which .state is a view of
    slots = result.state if launch.request.target == "cuda" else None
    returned = [a for a in (result.w, result.w_prev, result.frozen, result.observer_state, result.records,
                            slots, *result.observer_buffers)
                if a is not None and not any(np.shares_memory(a, k) for k in kernel)]
    owners = {id(a if a.base is None else a.base): (a if a.base is None else a.base) for a in returned}
    return sum(a.nbytes for a in kernel) + sum(a.nbytes for a in owners.values())


@pytest.mark.parametrize("case", list(CASES))
def test_launch_bytes_is_what_run_batch_allocates(case, monkeypatch):
    args, kwargs = CASES[case]
    plan = make_plan(*args, **kwargs)
    (launch,) = plan.launches
    if case.endswith("reordered"):
        assert allocation.reordered(launch.request, launch.inputs)
    budget = allocation.launch_bytes(launch.request, launch.inputs, launch.inputs.size)
    assert budget == measured_bytes(monkeypatch, launch)


@pytest.mark.cudasim
@pytest.mark.parametrize("case", ["tuple_recorded_float32", "tuple_buffers", "array_recorded"])
def test_launch_bytes_on_cuda_counts_the_host_copies(case, monkeypatch):
    """Under the simulator: the host arrays plus the result fetched back from the device."""
    args, kwargs = CASES[case]
    (launch,) = make_plan(*args, target="cuda", **kwargs).launches
    budget = allocation.launch_bytes(launch.request, launch.inputs, launch.inputs.size)
    assert budget == measured_bytes(monkeypatch, launch)


def test_the_recording_check_uses_the_recording_the_launches_allocate():
    """Oracle: a budget one byte short of the allocated recordings fails, the exact size passes."""
    args = (["sgd", "adam"], "valley", X0, 50)
    plan = make_plan(*args, record_every=1)
    need = sum(allocation.recording_bytes(launch.request, launch.inputs, launch.inputs.size)
               for launch in plan.launches)
    assert need >= 51 * 2 * 7 * 2 * 8  # at least records x coords x trajectories x optimizers x itemsize
    make_plan(*args, record_every=1, max_memory=need)
    with pytest.raises(ValueError, match="record_every=1: the recording needs"):
        make_plan(*args, record_every=1, max_memory=need - 1)


def test_a_dry_run_sizes_a_block_as_the_run_check_does():
    """Oracle: the largest block's estimate is launch_bytes of that block, the number
    simulate's check compares with max_memory."""
    from simdyn.distributed.job import plan_job
    from simdyn.study import load_study

    study = load_study('name = "m"\noptimizers = ["adam"]\nlandscape = "valley"\nsteps = 10\n'
                       '[x0]\ngrid = { x = [-1.0, 1.0, 8], y = [-1.0, 1.0, 5] }\n')
    job = plan_job(study, "m.nc", chunk_size=16)
    (_, plan, tasks), = job.groups
    (launch,) = plan.launches
    block = max(task.block.size for task in tasks)
    assert 1 < block <= 16
    assert job.memory_estimate()["largest_block"] == allocation.launch_bytes(launch.request, launch.inputs, block)


def test_results_that_do_not_fit_are_refused_whatever_the_chunking(monkeypatch):
    """Oracle: the Dataset's own size (``loss_trace`` is T·N float64). Each chunk fits, the results
    returned in memory do not: ``max_memory`` is named before anything is compiled (the kernel
    getter fails the test if reached)."""
    from simdyn.engine import run
    from simdyn.output_size import output_bytes

    monkeypatch.setattr(run, "get_kernel", lambda req: pytest.fail("compiled before the memory check"))
    args = ("sgd", "valley", np.random.default_rng(0).uniform(-1, 1, (4000, 2)), 100)
    kwargs = dict(hyper={"lr": 0.1}, observers=[sd.observe.LossTrace(every=1)], chunk_size=500, progress=False)
    need = output_bytes(make_plan(*args[:4], hyper=kwargs["hyper"], observers=kwargs["observers"]))
    assert need >= 4000 * 100 * 8
    with pytest.raises(ValueError, match=r"max_memory: the run's results take .* \(loss_trace"):
        sd.simulate(*args, max_memory=need - 1, **kwargs)
