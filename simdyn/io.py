"""Datasets: construction from batch results, attributes/provenance, netCDF save and load.

Conventions (DESIGN.md §2): dims are the swept names (in order), then the initial set's dims
(``traj`` or the grid's ``x0``, ``y0``, …), then ``coord`` (and ``step`` for recordings);
``optimizer`` leads when several optimizers run. Variables ``w0``, ``w``, ``loss``, ``status``
(CF flags), ``stop_step``, ``trajectory`` and the observers' variables.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import tempfile

import numpy as np
import xarray as xr

from ._version import __version__
from .engine.kernels import get_loss_kernel
from .engine.run import per_trajectory
from .initial import coord_labels
from .chunks import Block

STATUS_MEANINGS = ("converged", "periodic", "bounded", "diverged", "nonfinite")
STATUS = {name: np.uint8(i) for i, name in enumerate(STATUS_MEANINGS)}


def status_codes(frozen: np.ndarray, w: np.ndarray, w_prev: np.ndarray, converge_tol: float) -> np.ndarray:
    """Per-trajectory status from the frozen codes and the last step.

    diverged: some |w_k| exceeded ``diverge_threshold`` (frozen at the last finite state);
    nonfinite: a step produced inf/NaN; converged: ‖w_T − w_{T−1}‖∞ ≤ converge_tol·max(1, ‖w_T‖∞);
    bounded: anything else (``periodic`` is set by the period detector).
    """
    last_step = np.max(np.abs(w - w_prev), axis=0)
    scale = np.maximum(1.0, np.max(np.abs(w), axis=0))
    status = np.where(last_step <= converge_tol * scale, STATUS["converged"], STATUS["bounded"])
    status = np.where(frozen > 0, STATUS["diverged"], status)
    status = np.where(frozen < 0, STATUS["nonfinite"], status)
    return status.astype(np.uint8)


def _attr_value(value):
    """A netCDF-safe attribute value (str, number or 1-D numeric array)."""
    if isinstance(value, (bool, np.bool_)):
        return np.int8(value)
    if isinstance(value, (int, float, str, np.integer, np.floating)):
        return value
    arr = np.asarray(value)
    if arr.dtype.kind in "iuf":
        return arr.ravel()
    return str(value)


def _jsonable(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return value.item()
    return value


def study_attrs(plan) -> dict:
    """Attributes that describe the study completely: enough to rerun it from the file."""
    land = plan.landscape
    attrs = {
        "simdyn_version": __version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "optimizer": ", ".join(run.optimizer.name for run in plan.runs),
        "landscape": land.name,
        "landscape_formula": land.formula,
        "landscape_dim": land.dim,
        "steps": plan.steps,
        "dtype": plan.dtype,
        "target": plan.target,
        "record_every": plan.record_every,
        "converge_tol": plan.converge_tol,
        "diverge_threshold": plan.diverge_threshold,
        "initial_set": plan.initial.description,
        "noise": "none",
        "noise_sigma": 0.0,
        "noise_seed": 0,
        "observers": ", ".join(obs.name for obs in plan.observers) or "none",
    }
    if plan.noise is not None:
        attrs.update(plan.noise.attrs())
    for name, value in plan.param_values.items():
        attrs[f"param_{name}"] = _attr_value(value)
    call = {
        "optimizer": [run.optimizer.name for run in plan.runs] if plan.stacked else plan.runs[0].optimizer.name,
        "landscape": land.name,
        "steps": plan.steps,
        "params": {k: _jsonable(v) for k, v in plan.param_values.items()},
        "record_every": plan.record_every or None,
        "dtype": plan.dtype,
        "target": plan.target,
        "converge_tol": plan.converge_tol,
        "diverge_threshold": plan.diverge_threshold,
        "noise": None if plan.noise is None else {"sigma": plan.noise.sigma, "seed": plan.noise.seed},
        "hyper": {},
    }
    for run in plan.runs:
        prefix = f"hyper_{run.optimizer.name}_"
        attrs[prefix + "lr_schedule"] = run.schedule.kind
        attrs[prefix + "lr_formula"] = run.schedule.formula
        for pname, dim in zip(run.schedule.params, run.schedule.param_names):
            attrs[prefix + dim] = _attr_value(run.schedule.params[pname])
        for name, value in run.hyper_used.items():
            if name != "lr":
                attrs[prefix + name] = _attr_value(value)
        call["hyper"][run.optimizer.name] = {
            "lr_schedule": {"kind": run.schedule.kind, **{k: _jsonable(v) for k, v in run.schedule.params.items()}},
            **{k: _jsonable(v) for k, v in run.hyper_used.items() if k != "lr"},
        }
        attrs[f"optimizer_{run.optimizer.name}_reference"] = run.optimizer.reference
        attrs[f"optimizer_{run.optimizer.name}_formula"] = run.optimizer.formula
    for obs in plan.observers:
        for key, value in obs.attrs().items():
            attrs[f"{obs.name}_{key}"] = _attr_value(value)
    attrs["simdyn_call"] = json.dumps(call)
    attrs["history"] = f"{attrs['created']} simdyn {__version__}: simulate({attrs['optimizer']} on {land.name}, {plan.steps} steps)"
    return attrs


def _final_loss(plan, run, w: np.ndarray, start: int) -> np.ndarray:
    inputs = run.inputs
    n_ic = plan.initial.points.shape[0]
    first, last = start // n_ic, (start + w.shape[1] - 1) // n_ic + 1
    kernel = get_loss_kernel(plan.landscape, plan.landscape.dim, inputs.params.shape[0], plan.dtype)
    out = np.empty(w.shape[1], dtype=w.dtype)
    params = np.ascontiguousarray(inputs.params[:, first:last], dtype=w.dtype)
    kernel(np.ascontiguousarray(w), params, n_ic, start, plan.steps, out)
    return out


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


def optimizer_dataset(plan, run, result, block: Block | None = None) -> xr.Dataset:
    """The dataset of one optimizer's batch, or of one ``block`` of it (no ``optimizer`` dim).

    ``result`` holds the trajectories of the block (the whole batch when ``block`` is None).
    """
    d = plan.landscape.dim
    if block is None:
        block = Block(0, run.inputs.size, tuple(slice(0, n) for n in batch_shape(plan)))
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
        "loss": (dims, per_traj(_final_loss(plan, run, result.w, block.start)), {"long_name": "loss at the final point"}),
        "status": (
            dims,
            per_traj(status),
            {
                "long_name": "final state of the trajectory",
                "flag_values": np.arange(len(STATUS_MEANINGS), dtype=np.uint8),
                "flag_meanings": " ".join(STATUS_MEANINGS),
            },
        ),
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
    if run.request.observers:  # w_0 of every trajectory, (N, d): the engine's, not carried in slots
        start_points = np.empty((d, result.w.shape[1]))
        per_trajectory(run.inputs.x0, None, block.start, block.start + result.w.shape[1], start_points)
    for obs, buffer in zip(run.request.observers, result.observer_buffers):
        names = obs.slots(d)
        state = {name: result.observer_state[offset + i] for i, name in enumerate(names)}
        state.update(w0=start_points.T, wT=result.w.T)
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
    data["status"] = (dims, per_traj(status), data["status"][2])
    coords = batch_coords(plan, block)
    if result.records is not None:
        coords["step"] = np.arange(result.records.shape[0]) * plan.record_every
    return xr.Dataset(data, coords=coords)


def build_dataset(plan, results) -> xr.Dataset:
    """The study's dataset: one per optimizer, stacked on ``optimizer`` when several ran."""
    parts = [optimizer_dataset(plan, run, result) for run, result in zip(plan.runs, results)]
    if plan.stacked:
        ds = xr.concat(parts, dim="optimizer", data_vars="all", coords="minimal", compat="override", join="exact")
        ds = ds.assign_coords(optimizer=[run.optimizer.name for run in plan.runs])
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


@contextlib.contextmanager
def atomic_output(path):
    """Yield a temporary path next to ``path``; on success give it the usual file mode (mkstemp
    makes 0600) and rename it to ``path``, on any failure or interrupt remove it.

    An interrupted or failed write therefore never leaves a truncated file under ``path``.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".simdyn-", suffix=".nc.part", dir=folder)
    os.close(fd)
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def save(ds: xr.Dataset, path, group: str | None = None) -> str:
    """Write ``ds`` to netCDF4 atomically (see :func:`atomic_output`)."""
    with atomic_output(path) as tmp:
        ds.to_netcdf(tmp, engine="netcdf4", format="NETCDF4", group=group)
    return os.fspath(path)


def load(path, group: str | None = None) -> xr.Dataset:
    """Read a dataset written by :func:`save` (or one ``group`` of a multi-study file) fully into
    memory; the file is closed afterwards."""
    with xr.open_dataset(path, engine="netcdf4", group=group) as ds:
        return ds.load()


@xr.register_dataset_accessor("simdyn")
class SimdynAccessor:
    """``ds.simdyn.save(path)``: atomic netCDF write; ``ds.simdyn.summary()``: status counts."""

    def __init__(self, ds: xr.Dataset):
        self._ds = ds

    def save(self, path, group: str | None = None) -> str:
        return save(self._ds, path, group=group)

    def status_counts(self) -> dict:
        """Number of trajectories per status meaning (over every dim except ``optimizer``)."""
        status = self._ds["status"]
        if "optimizer" in status.dims:
            return {
                str(opt): {m: int((status.sel(optimizer=opt) == i).sum()) for i, m in enumerate(STATUS_MEANINGS)}
                for opt in status["optimizer"].values
            }
        return {m: int((status == i).sum()) for i, m in enumerate(STATUS_MEANINGS)}
