"""The attributes that describe a study completely: enough to rerun it from its file alone.

Every value used (defaults included), the optimizers' references and formulas, the landscape's
formula and parameters, the observers' settings, the noise model, a ``simdyn_call`` attribute
holding the call as JSON, and a CF ``history`` line.
"""

from __future__ import annotations

import datetime
import hashlib
import json

import numpy as np

from ._version import __version__


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
        "optimizer": ", ".join(launch.optimizer.name for launch in plan.launches),
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
    for name, array in getattr(land, "data", {}).items():  # data: its shape and digest, not its values
        attrs[f"data_{name}_shape"] = _attr_value(np.asarray(array.shape))
        attrs[f"data_{name}_sha256"] = hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()
    arguments = getattr(land, "arguments", None)  # a landscape built from arguments: they rebuild it
    if arguments:
        attrs["landscape_arguments"] = json.dumps(arguments)
    if getattr(land, "groups", None):
        attrs["landscape_groups"] = json.dumps({k: [v.start, v.stop] for k, v in land.groups.items()})
    call = {
        "optimizer": [launch.optimizer.name for launch in plan.launches] if plan.stacked else plan.launches[0].optimizer.name,
        "landscape": {"name": land.name, **arguments} if arguments else land.name,
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
    for launch in plan.launches:
        prefix = f"hyper_{launch.optimizer.name}_"
        attrs[prefix + "lr_schedule"] = launch.schedule.kind
        attrs[prefix + "lr_formula"] = launch.schedule.formula
        for pname, dim in zip(launch.schedule.params, launch.schedule.param_names):
            attrs[prefix + dim] = _attr_value(launch.schedule.params[pname])
        for name, value in launch.hyper_used.items():
            if name != "lr":
                attrs[prefix + name] = _attr_value(value)
        call["hyper"][launch.optimizer.name] = {
            "lr_schedule": {"kind": launch.schedule.kind, **{k: _jsonable(v) for k, v in launch.schedule.params.items()}},
            **{k: _jsonable(v) for k, v in launch.hyper_used.items() if k != "lr"},
        }
        attrs[f"optimizer_{launch.optimizer.name}_reference"] = launch.optimizer.reference
        attrs[f"optimizer_{launch.optimizer.name}_formula"] = launch.optimizer.formula
    for obs in plan.observers:
        for key, value in obs.attrs().items():
            attrs[f"{obs.name}_{key}"] = _attr_value(value)
    attrs["simdyn_call"] = json.dumps(call)
    attrs["history"] = f"{attrs['created']} simdyn {__version__}: simulate({attrs['optimizer']} on {land.name}, {plan.steps} steps)"
    return attrs
