"""Scale-out: studies run block by block, locally or on a dask.distributed cluster, with
resumable part stores (see :mod:`simdyn.distributed.executor` and :mod:`simdyn.distributed.store`)."""

from .executor import Task, gather, iterate_tasks, plan_tasks, run_task

__all__ = ["Task", "gather", "iterate_tasks", "plan_tasks", "run_task"]
