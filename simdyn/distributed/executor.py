"""Run a planned study block by block, in this process or as tasks on a dask.distributed cluster.

A block (:mod:`simdyn.chunks`) is a contiguous, rectangular piece of one optimizer's batch. Each
block is an independent task: it runs the fused kernel on its flat range of trajectories (the
kernel is compiled once per worker process and cached there) and returns the block's Dataset.
Results do not depend on the blocking, the worker or the order: noise is keyed by the global
trajectory index.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np
import xarray as xr

from ..dataset import batch_coords, batch_dims, batch_shape, finish_dataset, optimizer_dataset
from ..engine.loss import final_loss
from ..engine.run import run_batch
from ..chunks import Block, plan_blocks


@dataclass(frozen=True)
class Task:
    """Block ``block`` of the batch of optimizer ``plan.launches[optimizer_index]``; ``index`` counts
    the blocks of that optimizer; ``key`` names the task in part stores."""

    optimizer_index: int
    index: int
    block: Block

    @property
    def key(self) -> str:
        return f"{self.optimizer_index}-{self.index}"


def plan_tasks(plan, chunk_size: int | None) -> list[Task]:
    """Every block of every optimizer of ``plan``, in order."""
    blocks = plan_blocks(batch_shape(plan), chunk_size)
    return [Task(r, i, block) for r in range(len(plan.launches)) for i, block in enumerate(blocks)]


def run_task(plan, task: Task) -> xr.Dataset:
    """Simulate one block and return its Dataset (``optimizer`` dim of length 1 when stacked)."""
    launch = plan.launches[task.optimizer_index]
    result = run_batch(launch.request, launch.inputs, start=task.block.start, stop=task.block.stop)
    loss = final_loss(plan.landscape, launch.inputs, result.w, task.block.start, plan.dtype)
    ds = optimizer_dataset(plan, launch, result, loss, task.block)
    ds.attrs["elapsed_seconds"] = float(result.seconds)
    if plan.stacked:
        ds = ds.expand_dims(optimizer=[launch.optimizer.name])
    return ds


def iterate_tasks(plan, tasks: list[Task], client=None) -> Iterator[tuple[Task, xr.Dataset]]:
    """Yield ``(task, dataset)`` as tasks finish: in order in this process, or as completed on a
    dask ``client`` (the plan is shipped to the workers once)."""
    if client is None:
        for task in tasks:
            yield task, run_task(plan, task)
        return
    from dask.distributed import as_completed

    plan_future = client.scatter(plan, broadcast=True)
    futures = {client.submit(run_task, plan_future, task, pure=False, key=f"simdyn-{task.key}-{id(plan)}"): task
               for task in tasks}
    try:
        for future in as_completed(futures):
            yield futures[future], future.result()
            future.release()
    finally:
        for future in futures:
            future.cancel()


def full_shape(plan, part: xr.Dataset, name: str) -> tuple[int, ...]:
    """Shape of variable ``name`` over the whole study, from one block's dataset."""
    sizes = dict(zip(batch_dims(plan), batch_shape(plan)))
    if plan.stacked:
        sizes["optimizer"] = len(plan.launches)
    var = part[name]
    return tuple(sizes.get(dim, var.sizes[dim]) for dim in var.dims)


def part_index(plan, task: Task, var: xr.DataArray) -> tuple:
    """Where block ``task`` lies inside variable ``var`` of the whole study."""
    lead = (slice(task.optimizer_index, task.optimizer_index + 1),) if plan.stacked else ()
    return lead + task.block.index + (slice(None),) * (var.ndim - len(lead) - len(task.block.index))


def gather(plan, finished) -> xr.Dataset:
    """The whole study's Dataset (in memory) from ``(task, dataset)`` pairs, in any order.

    ``ValueError`` when ``finished`` is empty: there is nothing to build the variables from."""
    arrays: dict = {}
    specs: dict = {}
    recorded_steps: dict = {}
    elapsed = 0.0
    for task, part in finished:
        elapsed += part.attrs.get("elapsed_seconds", 0.0)
        for name, var in part.data_vars.items():
            if name not in arrays:
                arrays[name] = np.empty(full_shape(plan, part, name), dtype=var.dtype)
                specs[name] = (var.dims, var.attrs)
            arrays[name][part_index(plan, task, var)] = var.values
        if "step" in part.coords:
            recorded_steps["step"] = part["step"].values
    if not arrays:
        raise ValueError("gather: finished holds no (task, dataset) pair; there is no result to gather")
    coords = batch_coords(plan)
    coords.update(recorded_steps)
    ds = xr.Dataset({name: (specs[name][0], arrays[name], specs[name][1]) for name in arrays}, coords=coords)
    if plan.stacked:
        ds = ds.assign_coords(optimizer=[launch.optimizer.name for launch in plan.launches])
    return finish_dataset(plan, ds, elapsed)
