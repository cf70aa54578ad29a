"""How large a run's output is, from its plan alone (nothing is compiled or run).

:func:`output_variables` lists every variable a run of ``plan`` writes, with its shape and dtype,
as :func:`simdyn.io.optimizer_dataset` and :func:`simdyn.io.finish_dataset` build them:

* per trajectory: ``w`` (d floats), ``loss`` (1 float), ``status`` (uint8), ``stop_step`` (int64);
* ``trajectory`` when recorded: (T // record_every + 1) records × d floats per trajectory
  (:func:`recording_bytes`; in memory the run holds it as the kernel's padded recording ``R``,
  which :func:`simdyn.engine.allocation.recording_bytes` sizes and :func:`simdyn.plan.make_plan`
  checks against :func:`simdyn.plan.memory_budget`);
* each observer's variables, sized by calling its ``finalize`` on the slots of one trajectory;
* ``w0``: the initial set (d float64 per initial point).

Floats are of the run's dtype; a batch of B trajectories per optimizer and K optimizers gives
each per-trajectory variable K·B rows. :func:`output_bytes` sums them: the size of the data in
the netCDF file (uncompressed), which ``simdyn run --dry-run`` reports.
"""

from __future__ import annotations

import numpy as np

from .dataset import batch_shape
from .engine.allocation import nbytes


def recording_bytes(plan) -> int:
    """Bytes of the output's ``trajectory`` variable: (T // k + 1) · d · B · K · itemsize for
    ``record_every`` = k, T steps, d coordinates, B trajectories per optimizer and K optimizers
    (0 when nothing is recorded)."""
    if not plan.record_every:
        return 0
    return nbytes({"trajectory": output_variables(plan)["trajectory"]})


def _observer_variables(launch, dim: int, float_dtype) -> dict:
    """``name -> (per-trajectory shape, dtype)`` of the variables ``launch``'s observers write."""
    out = {}
    one = np.zeros((1, dim))
    for obs in launch.request.observers:
        state = {name: np.zeros(1) for name in obs.slots(dim)}
        state.update(w0=one, wT=one.astype(float_dtype))
        shape = obs.buffer(dim)
        if shape is None:
            outputs = obs.finalize(state, dim)
        else:
            outputs = obs.finalize(state, dim, np.zeros(tuple(shape) + (1,)))
        for var, value in outputs.items():
            if var == "status":  # refines the status variable, adds none
                continue
            values = np.asarray(value[1])
            out[var] = (values.shape[1:], values.dtype)
    for obs in launch.inputs.probes:
        series = np.zeros((1, obs.series_length(launch.inputs.steps)))
        for var, value in obs.finalize({obs.name: series}, dim).items():
            out[var] = (np.asarray(value[1]).shape[1:], np.dtype(np.float64))
    return out


def output_variables(plan) -> dict:
    """Every variable a run of ``plan`` writes: ``name -> (shape, numpy dtype)``."""
    d = plan.landscape.dim
    floats = np.dtype(plan.dtype)
    lead = ((len(plan.launches),) if plan.stacked else ()) + batch_shape(plan)
    per_trajectory = {
        "w": ((d,), floats),
        "loss": ((), floats),
        "status": ((), np.dtype(np.uint8)),
        "stop_step": ((), np.dtype(np.int64)),
    }
    if plan.record_every:
        per_trajectory["trajectory"] = ((plan.steps // plan.record_every + 1, d), floats)
    for launch in plan.launches:
        for name, (shape, dtype) in _observer_variables(launch, d, floats).items():
            if name in per_trajectory:  # the same variable from another optimizer: the wider dtype
                dtype = np.promote_types(dtype, per_trajectory[name][1])
            per_trajectory[name] = (shape, dtype)
    variables = {name: (lead + shape, dtype) for name, (shape, dtype) in per_trajectory.items()}
    points = plan.initial.points
    variables["w0"] = (plan.initial.shape + (d,), points.dtype)
    return variables


def variable_bytes(plan) -> dict:
    """``name -> bytes`` of each variable of :func:`output_variables`."""
    return {name: nbytes({name: spec}) for name, spec in output_variables(plan).items()}


def output_bytes(plan) -> int:
    """Bytes of all the variables of :func:`output_variables` (the data of the output file)."""
    return sum(variable_bytes(plan).values())


def format_bytes(n: float) -> str:
    """``n`` bytes in B, KiB, MiB, GiB or TiB, three significant digits."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024:
            return f"{n:.3g} {unit}"
        n /= 1024
    return f"{n:.3g} TiB"
