"""``sd.simulate``: one call from a study description to a self-describing Dataset."""

from __future__ import annotations


import numpy as np
import xarray as xr

from .dataset import build_dataset
from .engine.landscape_check import check_landscape_compiles
from .engine.loss import final_loss
from .engine.allocation import launch_bytes
from .engine.run import concatenate_results, run_batch
from .output_size import format_bytes, variable_bytes
from .plan import make_plan
from .progress import progress_bar


def simulate(
    optimizer,
    landscape,
    x0,
    steps,
    hyper=None,
    params=None,
    observers=(),
    record_every=None,
    noise=None,
    dtype="float64",
    target="cpu",
    *,
    converge_tol=1e-9,
    diverge_threshold=1e10,
    progress=None,
    max_memory=None,
    chunk_size=None,
    client=None,
) -> xr.Dataset:
    """Simulate optimizers as discrete dynamical systems over a batch of initial points.

    Every (initial point × hyperparameter combination × landscape-parameter combination) is
    advanced ``steps`` steps in lockstep by one fused, compiled kernel per optimizer.

    Parameters
    ----------
    optimizer : str, sd.Optimizer or list of them
        A registered name (``sd.OPTIMIZERS``); a list adds the dim ``optimizer``.
    landscape : str or sd.Landscape
        A registered name (``sd.LANDSCAPES``) or a user landscape.
    x0 : (n, d) array, sd.grid(...) or sd.ball(...)
        Initial points: dim ``traj`` for arrays and balls, ``x0``, ``y0``, … for grids.
    steps : int
        Number of optimizer steps T ≥ 1; step t uses the gradient at w_{t-1}.
    hyper : dict
        Hyperparameters and flags (defaults: torch.optim's). Scalars fix a value, 1-D arrays are
        swept (one dim each, named after the hyperparameter). ``lr`` may be an ``sd.schedule``.
    params : dict
        Landscape parameters, same rule.
    observers : list of sd.observe observers
        Streaming analyses fused into the kernel; each adds its variables.
    record_every : int, optional
        Record every k-th state (step 0 included) as variable ``trajectory`` (dims …, step, coord).
    noise : sd.noise.Gaussian, optional
        Additive gradient noise from a counter-based generator.
    dtype : "float64" or "float32"
    target : "cpu", "cuda" or "auto"
    converge_tol : float
        ``status`` is ``converged`` when ‖w_T − w_{T−1}‖∞ ≤ converge_tol·max(1, ‖w_T‖∞).
    diverge_threshold : float
        A trajectory with some |w_k| > diverge_threshold is frozen and flagged ``diverged``.
    progress : bool, optional
        Show a progress bar (default: when stderr is a terminal).
    max_memory : int, optional
        Bytes the run may hold (default: half the available memory): one launch's arrays (state,
        recording, history buffers; with ``chunk_size``, one chunk's), and the results it returns
        (the Dataset's variables, whatever the chunking). A run over it is refused before
        anything is compiled or allocated, with the argument to change named.
    chunk_size : int, optional
        Run the flattened batch (combinations × initial points) in chunks of this many
        trajectories, one after another: the working state stays O(chunk_size). Results are
        identical to an unchunked run, noise included.
    client : dask.distributed.Client, optional
        Run the chunks as tasks on this cluster's workers (each worker compiles its kernel once)
        and gather the result here. Default chunking: about four chunks per worker.

    Returns
    -------
    xarray.Dataset with ``w0``, ``w``, ``loss``, ``status``, ``stop_step`` (and ``trajectory``,
    observer variables); attributes record every value used. Save with ``ds.simdyn.save(path)``.
    """
    check_execution(chunk_size, client)
    plan = make_plan(
        optimizer, landscape, x0, steps, hyper=hyper, params=params, observers=observers,
        record_every=record_every, noise=noise, dtype=dtype, target=target,
        converge_tol=converge_tol, diverge_threshold=diverge_threshold, max_memory=max_memory,
    )
    return run_plan(plan, progress=progress, chunk_size=chunk_size, client=client)


def check_execution(chunk_size=None, client=None) -> None:
    """Reject a bad ``chunk_size`` or ``client`` (before anything is compiled or shown)."""
    if chunk_size is not None and (isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer))
                                   or chunk_size < 1):
        raise ValueError(f"chunk_size must be None or an integer >= 1, got {chunk_size!r}")
    if client is not None and (not hasattr(client, "submit") or not hasattr(client, "scatter")):
        raise TypeError(f"client must be a dask.distributed.Client, got {type(client).__name__}")


def check_memory(plan, chunk_size=None) -> None:
    """Refuse a run whose launches would allocate more than the plan's memory limit, naming
    ``chunk_size``, or whose results (every variable of the Dataset it returns,
    :func:`simdyn.output_size.output_variables`) would not fit in it whatever the chunking,
    naming ``max_memory``; before anything is allocated."""
    for launch in plan.launches:
        n = launch.inputs.size if chunk_size is None else min(int(chunk_size), launch.inputs.size)
        need = launch_bytes(launch.request, launch.inputs, n)
        if need > plan.memory_limit:
            per_traj = need / n
            fits = int(plan.memory_limit // per_traj)
            raise ValueError(
                f"chunk_size: one launch of {n:,} trajectories x {plan.landscape.dim} coords needs "
                f"{need / 2**30:.3g} GiB, more than the {plan.memory_limit / 2**30:.3g} GiB available (max_memory); "
                + (f"run in chunks of at most {fits:,} trajectories (chunk_size={fits})" if fits >= 1 else
                   "a single trajectory does not fit: lower the dimension or the recording (record_every)")
            )
    sizes = variable_bytes(plan)
    if sum(sizes.values()) > plan.memory_limit:
        largest = max(sizes, key=sizes.get)
        raise ValueError(
            f"max_memory: the run's results take {format_bytes(sum(sizes.values()))} ({largest}: "
            f"{format_bytes(sizes[largest])}), more than the {format_bytes(plan.memory_limit)} available, and they are "
            "returned in memory whatever the chunk_size; keep less per trajectory (a larger LossTrace every, a "
            "shorter Tail, orbit=False, record less often) or fewer trajectories, or run it as a study "
            "(simdyn run), which writes each chunk to its output file"
        )


def run_plan(plan, *, progress=None, chunk_size=None, client=None) -> xr.Dataset:
    """Run a plan made by :func:`simdyn.plan.make_plan` and build its Dataset.

    Drivers that inspect the plan first (its memory, its observers) build it once and run it
    here; :func:`simulate` is ``make_plan`` followed by ``run_plan``.
    """
    check_execution(chunk_size, client)
    check_memory(plan, chunk_size)
    check_landscape_compiles(plan.landscape, plan.initial.points[0], plan.launches[0].inputs.params[:, 0], plan.dtype)
    total = plan.n_trajectories * plan.steps
    bar = progress_bar(total, progress)
    done = [0]

    def advance(count_in_chunk):
        bar.update(done[0] + count_in_chunk - bar.n)

    if client is not None:
        return _simulate_on_cluster(plan, client, chunk_size, bar)
    results = []
    try:
        for launch in plan.launches:
            size = launch.inputs.size
            step = size if chunk_size is None else int(chunk_size)
            parts = []
            for start in range(0, size, step):
                stop = min(size, start + step)
                parts.append(run_batch(launch.request, launch.inputs, progress=advance if bar is not None else None,
                                       start=start, stop=stop))
                done[0] += (stop - start) * plan.steps
            results.append(concatenate_results(parts))
    finally:
        if bar is not None:
            bar.close()
    losses = [final_loss(plan.landscape, launch.inputs, result.w, 0, plan.dtype) for launch, result in zip(plan.launches, results)]
    return build_dataset(plan, results, losses)


def _simulate_on_cluster(plan, client, chunk_size, bar) -> xr.Dataset:
    """Run the plan's blocks as tasks on a dask cluster and gather them into one Dataset."""
    from .distributed.executor import gather, iterate_tasks, plan_tasks

    if chunk_size is None:
        workers = max(1, len(client.scheduler_info().get("workers", {})))
        per_run = plan.n_trajectories // len(plan.launches)
        chunk_size = max(1, -(-per_run // (4 * workers)))
    tasks = plan_tasks(plan, int(chunk_size))

    def finished():
        for task, ds in iterate_tasks(plan, tasks, client):
            if bar is not None:
                bar.update(task.block.size * plan.steps)
            yield task, ds

    try:
        return gather(plan, finished())
    finally:
        if bar is not None:
            bar.close()
