"""Batch jobs: a whole study (one or several groups) executed block by block, resumably.

``execute_study`` lays every group of the study out, skips the blocks whose parts a previous (interrupted)
execution left in ``<output>.parts``, runs the others here or on a dask cluster, writes each
finished block as a part, then assembles the final netCDF file (one netCDF group per group of a
study with ``[[runs]]``) and removes the parts. Killing it at any point loses at most the blocks in
flight; running the same command again continues.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass

import netCDF4

from .._version import __version__
from ..progress import progress_bar
from ..engine.allocation import launch_bytes
from ..io import atomic_output
from ..output_size import format_bytes, output_bytes
from ..provenance import study_attrs
from .executor import iterate_tasks, plan_tasks
from .store import PartStore, assemble, inputs_hash


@dataclass
class JobPlan:
    """What an execution will do: per study group, the plan and its tasks."""

    study: object
    output: str
    chunk_size: int | None
    groups: list  # [(study group, plan, tasks)]

    @property
    def trajectory_steps(self) -> int:
        return sum(task.block.size * plan.steps for _, plan, tasks in self.groups for task in tasks)

    def memory_estimate(self) -> dict:
        """Bytes: the largest block's working memory (what one launch of it allocates,
        :func:`simdyn.engine.allocation.launch_bytes`), and the final file's variables
        (:func:`simdyn.output_size.output_bytes`, recordings and observers included)."""
        largest, output = 0, 0
        for _, plan, tasks in self.groups:
            output += output_bytes(plan)
            block = max(task.block.size for task in tasks)
            for launch in plan.launches:
                largest = max(largest, launch_bytes(launch.request, launch.inputs, block))
        return {"largest_block": largest, "output": output}

    def describe(self) -> str:
        lines = [f"study {self.study.name}: output {self.output}"]
        for group, plan, tasks in self.groups:
            n = plan.launches[0].inputs.size
            blocks = len(tasks) // len(plan.launches)
            lines.append(
                f"  group {group.name or '(single)'}: landscape {plan.landscape.name}, optimizers "
                f"{', '.join(r.optimizer.name for r in plan.launches)}, {n:,} trajectories x {plan.steps:,} steps each, "
                f"{len(tasks)} chunk(s) ({len(plan.launches)} optimizer(s) x {blocks} of <= "
                f"{max(t.block.size for t in tasks):,} trajectories), target {plan.target}"
            )
        mem = self.memory_estimate()
        lines.append(f"  memory: ~{format_bytes(mem['largest_block'])} per chunk in flight; "
                     f"output: ~{format_bytes(mem['output'])} of variables")
        lines.append(f"  total: {self.trajectory_steps:,} trajectory-steps")
        return "\n".join(lines)


def plan_job(study, output: str, chunk_size: int | None = None) -> JobPlan:
    """Lay out every group of ``study`` in blocks of at most ``chunk_size`` trajectories."""
    from ..plan import make_plan

    groups = []
    for group in study.groups:
        plan = make_plan(**study.simulate_kwargs(group))
        groups.append((group, plan, plan_tasks(plan, chunk_size)))
    return JobPlan(study, os.fspath(output), chunk_size, groups)


@contextlib.contextmanager
def connect(scheduler: str | None, n_workers: int | None = None):
    """A dask client for ``scheduler``: None (no cluster), "local" (a LocalCluster of
    ``n_workers`` single-threaded worker processes) or a scheduler address."""
    if scheduler is None:
        yield None
        return
    from dask.distributed import Client, LocalCluster

    if scheduler == "local":
        with LocalCluster(n_workers=n_workers or 2, threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster, Client(cluster) as client:
            yield client
    else:
        with Client(scheduler) as client:
            yield client


def execute_study(study, output: str, chunk_size: int | None = None, scheduler: str | None = None,
                  n_workers: int | None = None, progress=None) -> JobPlan:
    """Run ``study`` into the netCDF file ``output``, resuming from its parts if any."""
    job = plan_job(study, output, chunk_size)
    digest = inputs_hash_of_job(job)
    store = PartStore(job.output, digest, chunk_size)
    pending = [(group, plan, [t for t in tasks if not store.done(group.name, t)]) for group, plan, tasks in job.groups]
    done_steps = job.trajectory_steps - sum(t.block.size * plan.steps for _, plan, tasks in pending for t in tasks)
    bar = progress_bar(job.trajectory_steps, progress, done=done_steps)
    try:
        with connect(scheduler, n_workers) as client:
            for group, plan, tasks in pending:
                for task, ds in iterate_tasks(plan, tasks, client):
                    store.write(group.name, task, ds)
                    if bar is not None:
                        bar.update(task.block.size * plan.steps)
    finally:
        if bar is not None:
            bar.close()
    _write_final(job, store, digest, scheduler)
    store.remove()
    return job


def inputs_hash_of_job(job: JobPlan) -> str:
    extra = job.study.toml + repr(sorted(job.study.overrides.items()))
    return inputs_hash(job.groups[0][1], extra + "".join(inputs_hash(plan) for _, plan, _ in job.groups))


def _provenance(job: JobPlan, store: PartStore, digest: str, scheduler, n_tasks: int) -> dict:
    import numba

    study = job.study
    return {
        "created": store.manifest["started"],
        "numba_version": numba.__version__,
        "simdyn_version": __version__,
        "chunk_size": -1 if job.chunk_size is None else int(job.chunk_size),
        "n_chunks": n_tasks,
        "scheduler": scheduler or "none",
        "inputs_hash": digest,
        "study_name": study.name,
        "study_description": study.description,
        "study_toml": study.toml,
        "study_overrides": "; ".join(f"{k}={v}" for k, v in study.overrides.items()) or "none",
    }


def _write_final(job: JobPlan, store: PartStore, digest: str, scheduler) -> None:
    with atomic_output(job.output) as tmp, netCDF4.Dataset(tmp, "w", format="NETCDF4") as nc:
        grouped = job.study.grouped
        for group, plan, tasks in job.groups:
            attrs = study_attrs(plan)
            attrs.update(_provenance(job, store, digest, scheduler, len(tasks)))
            attrs["study_run"] = group.name
            attrs["history"] = f"{attrs['created']} simdyn {__version__}: study {job.study.name}, group {group.name}"
            target = nc.createGroup(group.name) if grouped else nc
            assemble(plan, store, group.name, tasks, target, attrs)
        if grouped:
            root = _provenance(job, store, digest, scheduler, sum(len(t) for _, _, t in job.groups))
            root["groups"] = ", ".join(group.name for group, _, _ in job.groups)
            nc.setncatts(root)

__all__ = ["JobPlan", "connect", "execute_study", "plan_job"]
