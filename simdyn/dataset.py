"""Datasets from batch results: dims, coordinates, variables and the study's attributes.

Conventions (DESIGN.md §2): dims are the swept names (in order), then the initial set's dims
(``traj`` or the grid's ``x0``, ``y0``, …), then ``coord`` (and ``step`` for recordings);
``optimizer`` leads when several optimizers run. Variables ``w0``, ``w``, ``loss``, ``status``
(CF flags), ``stop_step``, ``trajectory`` and the observers' variables. Everything here is array
bookkeeping: the engine computed the numbers (the final loss included) before they arrive.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from .initial import coord_labels
from .chunks import Block
from .provenance import study_attrs
from .status import status_attrs, status_codes


def batch_shape(plan) -> tuple[int, ...]:
    """Shape of one optimizer's batch: (*sweep dims, *initial-set dims)."""
    return plan.sweep.shape + plan.initial.shape


def batch_dims(plan) -> tuple[str, ...]:
    return tuple(plan.sweep.names) + plan.initial.dims


def batch_coords(plan, block: Block | None = None) -> dict:
    """Coordinates of the batch dims (restricted to ``block``), ``coord`` and nothing else."""
    coords = {name: values for name, values in zip(plan.sweep.names, plan.sweep.values)}
    coords.update(plan.initial.coords)
    if block is not None:
        coords = {dim: np.asarray(coords[dim])[sl] for dim, sl in zip(batch_dims(plan), block.index)}
    coords["coord"] = coord_labels(plan.landscape.dim)
    return coords


def optimizer_dataset(plan, launch, result, loss: np.ndarray, block: Block | None = None) -> xr.Dataset:
    """The dataset of one optimizer's batch, or of one ``block`` of it (no ``optimizer`` dim).

    ``result`` holds the trajectories of the block (the whole batch when ``block`` is None) and
    ``loss`` (N,) their final losses, computed on the engine's side
    (:func:`simdyn.engine.loss.final_loss`).
    """
    d = plan.landscape.dim
    if block is None:
        block = Block(0, launch.inputs.size, tuple(slice(0, n) for n in batch_shape(plan)))
    dims = batch_dims(plan)
    shape = block.shape()

    def per_traj(values: np.ndarray) -> np.ndarray:  # (N,) -> block shape
        return values.reshape(shape)

    def per_coord(values: np.ndarray) -> np.ndarray:  # (d, N) -> block shape + (d,)
        return np.moveaxis(values, 0, -1).reshape(shape + (d,))

    frozen = result.frozen
    status = status_codes(frozen, result.w, result.w_prev, plan.converge_tol)
    data = {
        "w": (dims + ("coord",), per_coord(result.w), {"long_name": "final point w_T"}),
        "loss": (dims, per_traj(np.asarray(loss)), {"long_name": "loss at the final point"}),
        "status": (dims, per_traj(status), status_attrs()),
        "stop_step": (
            dims,
            per_traj(np.where(frozen != 0, np.abs(frozen), -1).astype(np.int64)),
            {"long_name": "step at which a diverged/non-finite trajectory was frozen (-1: never)"},
        ),
    }
    if result.records is not None:
        records = np.moveaxis(result.records, (0, 1), (-2, -1))  # (N, n_rec, d)
        data["trajectory"] = (
            dims + ("step", "coord"),
            records.reshape(shape + records.shape[-2:]),
            {"long_name": "recorded states w_t", "record_every": plan.record_every},
        )
    offset = 0
    if launch.request.observers:  # w_0 of every trajectory (N, d), not carried in slots: x0[g mod n_ic]
        start_points = launch.inputs.x0[np.arange(block.start, block.start + result.w.shape[1]) % launch.inputs.x0.shape[0]]
    for obs, buffer in zip(launch.request.observers, result.observer_buffers):
        names = obs.slots(d)
        state = {name: result.observer_state[offset + i] for i, name in enumerate(names)}
        state.update(w0=start_points, wT=result.w.T)
        offset += len(names)
        outputs = obs.finalize(state, d) if buffer is None else obs.finalize(state, d, buffer)
        for var, value in outputs.items():
            if var == "status":
                verdict = np.asarray(value, dtype=np.uint8)
                status = np.where(frozen == 0, verdict, status).astype(np.uint8)
                continue
            extra_dims, values, *attrs = value
            values = np.asarray(values)
            data[var] = (dims + tuple(extra_dims), values.reshape(shape + values.shape[1:]), *(attrs or [{}]))
    for obs, series in zip(launch.inputs.probes, result.probe_series):  # (measurements, N) each
        for var, (extra_dims, values, *attrs) in obs.finalize({obs.name: series.T}, d).items():
            values = np.asarray(values)
            data[var] = (dims + tuple(extra_dims), values.reshape(shape + values.shape[1:]), *(attrs or [{}]))
    data["status"] = (dims, per_traj(status), data["status"][2])
    coords = batch_coords(plan, block)
    for obs in (*launch.request.observers, *launch.inputs.probes):
        coords.update(obs.dim_coords(plan.steps))
    if result.records is not None:
        coords["step"] = np.arange(result.records.shape[0]) * plan.record_every
    return xr.Dataset(data, coords=coords)


def build_dataset(plan, results, losses) -> xr.Dataset:
    """The study's dataset: one per optimizer, stacked on ``optimizer`` when several ran
    (``losses``: the final losses of each optimizer's batch)."""
    parts = [optimizer_dataset(plan, launch, result, loss) for launch, result, loss in zip(plan.launches, results, losses)]
    if plan.stacked:
        ds = xr.concat(parts, dim="optimizer", data_vars="all", coords="minimal", compat="override", join="exact")
        ds = ds.assign_coords(optimizer=[launch.optimizer.name for launch in plan.launches])
    else:
        ds = parts[0]
    return finish_dataset(plan, ds, float(sum(r.seconds for r in results)))


def initial_points(plan) -> xr.DataArray:
    """Variable ``w0``: the initial set on its own dims."""
    points = plan.initial.points.reshape(plan.initial.shape + (plan.landscape.dim,))
    return xr.DataArray(points, dims=plan.initial.dims + ("coord",), attrs={"long_name": "initial point w_0"})


def finish_dataset(plan, ds: xr.Dataset, elapsed: float) -> xr.Dataset:
    """Add ``w0`` and the study's attributes to the dataset of the trajectories."""
    ds["w0"] = initial_points(plan)
    ds.attrs.update(study_attrs(plan))
    ds.attrs["elapsed_seconds"] = float(elapsed)
    return ds
