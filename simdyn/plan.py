"""Validate a study's arguments and lay it out as kernel launches (no compilation happens here).

Every bad argument raises ``ValueError``/``TypeError`` naming it, before anything is compiled.
Swept values (1-D arrays) of hyperparameters, schedule parameters and landscape parameters
become dimensions, in the order given (hyperparameters, then landscape parameters); the batch
of one optimizer is the outer product of those sweeps with the initial set, flattened
combination-major.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field

import numpy as np

from .engine.allocation import recording_bytes
from .engine.codegen import KernelLayout
from .engine.kernels import KernelRequest
from .engine.run import BatchInputs
from .engine.tiling import lane_layout, representatives
from .initial import InitialSet, as_initial_set
from .landscapes import Landscape, get_landscape
from .noise import Gaussian
from .observe.base import Observer
from .optimizers import Optimizer, get_optimizer
from .output_size import format_bytes
from .schedule import Schedule, as_schedule

DTYPES = ("float64", "float32")
#: Largest dimension of a tuple-form landscape: its kernel's source, compile time and compile
#: memory grow with d (and the d² parameters of a quadratic), without bound.
MAX_TUPLE_DIM = 24
TARGETS = ("cpu", "cuda", "auto")


@dataclass
class Sweep:
    """The swept names (dims) in order and their values."""

    names: list[str] = field(default_factory=list)
    values: list[np.ndarray] = field(default_factory=list)

    def add(self, name: str, values: np.ndarray):
        if name in self.names:
            raise ValueError(f"{name}: swept twice (as a hyperparameter and a landscape/schedule parameter)")
        self.names.append(name)
        self.values.append(values)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(v) for v in self.values)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.values else 1

    def column(self, name: str) -> np.ndarray:
        """The value of swept ``name`` for every combination (C order over the sweep dims)."""
        axis = self.names.index(name)
        shape = [1] * len(self.names)
        shape[axis] = -1
        return np.broadcast_to(np.asarray(self.values[axis]).reshape(shape), self.shape).ravel()


@dataclass
class OptimizerLaunch:
    """One optimizer's launch: what it uses, the kernel request and the batch inputs (a plan has
    one per optimizer; "run" is kept for the act of running)."""

    optimizer: Optimizer
    hyper_used: dict  # every hyperparameter and flag value (scalar or swept array)
    schedule: Schedule
    request: KernelRequest
    inputs: BatchInputs


@dataclass
class Plan:
    launches: list[OptimizerLaunch]
    stacked: bool  # several optimizers -> dim "optimizer"
    landscape: Landscape
    param_values: dict
    initial: InitialSet
    sweep: Sweep
    steps: int
    record_every: int
    noise: Gaussian | None
    observers: tuple
    dtype: str
    target: str
    converge_tol: float
    diverge_threshold: float
    memory_limit: float = math.inf  # bytes a launch may allocate (memory_budget(max_memory))

    @property
    def n_trajectories(self) -> int:
        return self.sweep.size * self.initial.points.shape[0] * len(self.launches)


def _is_int(x) -> bool:
    return not isinstance(x, bool) and isinstance(x, (int, np.integer))


def _sweep_value(name: str, value, finite: bool = True):
    """``value`` as a float scalar or a 1-D float array (a sweep)."""
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name}: expected a number or a 1-D array of numbers, got {value!r}")
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: expected a number or a 1-D array of numbers, got {value!r}") from None
    if arr.ndim > 1 or arr.size == 0:
        raise ValueError(f"{name}: expected a scalar or a non-empty 1-D array, got shape {arr.shape}")
    if finite and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: values must be finite, got {value!r}")
    return arr if arr.ndim == 1 else float(arr)


def _resolve_dtype(dtype) -> str:
    """'float64' or 'float32' from a name, a numpy dtype or a numpy scalar type."""
    try:
        name = np.dtype(dtype).name if not isinstance(dtype, str) else dtype
    except TypeError:
        name = None
    if name not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
    return name


def _cuda_available() -> bool:
    try:
        from numba import cuda

        return bool(cuda.is_available())
    except Exception:  # numba-cuda missing or no driver
        return False


def _resolve_target(target: str) -> str:
    if not isinstance(target, str) or target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
    if target == "auto":
        return "cuda" if _cuda_available() else "cpu"
    if target == "cuda" and not _cuda_available():
        raise ValueError(
            "target='cuda' but no CUDA GPU is available to numba (numba.cuda.is_available() is False); "
            "use target='cpu' or 'auto', or on a GPU host install the CUDA extra: pip install 'simdyn[cuda]'"
        )
    return target


def _check_hyper_range(opt: Optimizer, name: str, value):
    spec = opt.hypers[name]
    for v in np.atleast_1d(value):
        if not spec.contains(float(v)):
            raise ValueError(
                f"{name}: {opt.name} needs {name} in {spec.describe_range()} ({spec.doc}), got {float(v)!r}"
            )


def _optimizer_list(optimizer) -> tuple[list[Optimizer], bool]:
    if isinstance(optimizer, (list, tuple)):
        if not optimizer:
            raise ValueError("optimizer: the list is empty")
        opts = [get_optimizer(o) for o in optimizer]
        names = [o.name for o in opts]
        if len(set(names)) != len(names):
            raise ValueError(f"optimizer: names must be unique, got {names}")
        return opts, True
    return [get_optimizer(optimizer)], False


def _available_memory() -> int:
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 8 * 2**30


def memory_budget(max_memory=None) -> float:
    """Bytes a run may hold for recordings or history buffers: ``max_memory``, or half the
    memory available now."""
    return max_memory if max_memory is not None else 0.5 * _available_memory()


def make_plan(
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
    converge_tol=1e-9,
    diverge_threshold=1e10,
    max_memory=None,
) -> Plan:
    """Check every argument of :func:`simdyn.simulate` and lay the study out as launches.

    Four stages, each its own function: validate the arguments (:func:`_validated`), resolve
    the sweeps (:func:`_sweeps`), lay out one launch per optimizer (:func:`_launch`; its tables
    are per combination, not per trajectory) and check the memory of recordings
    (:func:`_check_recording`). Nothing is compiled or allocated per trajectory.
    """
    args = _validated(optimizer, landscape, x0, steps, hyper, params, observers, record_every, noise, dtype, target,
                      converge_tol, diverge_threshold)
    sweeps = _sweeps(args)
    observers = tuple(obs.bind(args.landscape, sweeps.param_values).for_steps(args.steps) for obs in args.observers)
    param_table = _param_table(args.landscape, sweeps.param_values, sweeps.sweep)
    launches = [_launch(opt, args, sweeps, observers, param_table) for opt in args.optimizers]
    _check_recording(launches, args, max_memory)
    return Plan(
        launches, args.stacked, args.landscape, sweeps.param_values, args.initial, sweeps.sweep, args.steps,
        args.record_every, args.noise, observers, args.dtype, args.target, float(converge_tol),
        float(diverge_threshold), memory_budget(max_memory),
    )


@dataclass
class _Arguments:
    """The arguments of a study, validated and normalised (stage 1 of :func:`make_plan`)."""

    optimizers: list
    stacked: bool
    landscape: Landscape
    initial: InitialSet
    steps: int
    hyper: dict
    params: dict
    observers: tuple
    record_every: int
    noise: Gaussian | None
    dtype: str
    target: str
    diverge_threshold: float


@dataclass
class _Sweeps:
    """The swept dims and the value of every name (stage 2 of :func:`make_plan`)."""

    sweep: Sweep
    schedule: Schedule | None
    hyper_values: dict  # name -> scalar, swept array or flag
    group_values: dict  # name -> {group: scalar or swept array}
    param_values: dict  # landscape parameter -> value (defaults filled in)


def _validated(optimizer, landscape, x0, steps, hyper, params, observers, record_every, noise, dtype, target,
               converge_tol, diverge_threshold) -> _Arguments:
    """Stage 1: every argument checked (errors name it) and normalised."""
    dtype = _resolve_dtype(dtype)
    target = _resolve_target(target)
    if not _is_int(steps) or steps < 1:
        raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
    steps = int(steps)
    if dtype == "float32" and steps > np.iinfo(np.int32).max:
        raise ValueError(f"steps must be <= {np.iinfo(np.int32).max} with dtype='float32' (int32 step codes), got {steps}")
    if record_every is not None and (not _is_int(record_every) or record_every < 1):
        raise ValueError(f"record_every must be None or an integer >= 1, got {record_every!r}")
    if noise is not None and not isinstance(noise, Gaussian):
        raise TypeError(f"noise must be None or an sd.noise.Gaussian, got {type(noise).__name__}")
    for name, value in (("converge_tol", converge_tol), ("diverge_threshold", diverge_threshold)):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)) \
                or not (value > 0) or math.isnan(value):
            raise ValueError(f"{name} must be a number > 0, got {value!r}")
    hyper = dict(hyper or {})
    params = dict(params or {})
    for label, mapping in (("hyper", hyper), ("params", params)):
        for key in mapping:
            if not isinstance(key, str):
                raise TypeError(f"{label}: keys must be names (str), got {key!r}")
    if isinstance(observers, Observer):
        observers = (observers,)
    observers = tuple(observers or ())
    for obs in observers:
        if not isinstance(obs, Observer):
            raise TypeError(f"observers: expected sd.observe observers, got {type(obs).__name__}")
    if len({obs.name for obs in observers}) != len(observers):
        raise ValueError("observers: each observer may appear once")

    opts, stacked = _optimizer_list(optimizer)
    land = get_landscape(landscape, params)
    if land.form == "array" and isinstance(landscape, str) and "h" in params and "h" not in land.params:
        params.pop("h")  # the array-form quadratic holds H as data
    unsupported = [type(obs).__name__ for obs in observers
                   if obs.array_functions() is None and not getattr(obs, "between_segments", False)]
    if land.form == "array" and unsupported:
        raise ValueError(
            f"observers: {', '.join(unsupported)} not yet available on array-form landscapes ({land.name!r}); "
            "Exit, Hitting, PathLength, MaxStep, Tail and Period are"
        )
    if land.form == "tuple" and land.dim > MAX_TUPLE_DIM:
        raise ValueError(
            f"landscape {land.name!r}: dimension {land.dim} is above {MAX_TUPLE_DIM}, the most the tuple form "
            "compiles in bounded time and memory (its kernels are generated per coordinate: measured 6 s at d = 10 "
            "and 35 s at d = 20; numba refuses d = 40, and d = 300 exhausted 8 GB)"
        )
    initial = as_initial_set(x0, land.dim)
    known_hypers = {name for opt in opts for name in opt.names}
    for name in hyper:
        if name not in known_hypers:
            known = "; ".join(f"{o.name}: {', '.join(o.names)}" for o in opts)
            raise ValueError(f"hyper: unknown hyperparameter {name!r}; known ({known})")
    return _Arguments(opts, stacked, land, initial, steps, hyper, params, observers, int(record_every or 0), noise,
                      dtype, target, float(diverge_threshold))


def _sweeps(args: _Arguments) -> _Sweeps:
    """Stage 2: the value of every hyperparameter, schedule parameter and landscape parameter;
    swept (1-D array) values become dims in the order given."""
    opts, land = args.optimizers, args.landscape
    sweep = Sweep()
    schedule = None
    hyper_values: dict = {}
    group_values: dict = {}
    for name, value in args.hyper.items():
        if isinstance(value, dict):
            group_values[name] = _per_group(name, value, land, opts, sweep)
            continue
        if name == "lr":
            schedule = as_schedule(value)
            normalized = {}
            for pname, dim in zip(schedule.params, schedule.param_names):
                normalized[pname] = _sweep_value(dim, schedule.params[pname])
                if isinstance(normalized[pname], np.ndarray):
                    sweep.add(dim, normalized[pname])
            schedule = dataclasses.replace(schedule, params=normalized)
            continue
        if any(name in o.flags for o in opts):
            if not isinstance(value, (bool, np.bool_)):
                raise TypeError(f"{name}: a flag must be True or False (flags are not swept), got {value!r}")
            hyper_values[name] = bool(value)
            continue
        for opt in opts:
            if name in opt.hypers:
                _check_hyper_range(opt, name, _sweep_value(name, value, finite=False))
        hyper_values[name] = _sweep_value(name, value)
        if isinstance(hyper_values[name], np.ndarray):
            sweep.add(name, hyper_values[name])

    param_values: dict = {}
    for name, value in args.params.items():
        if name not in land.params:
            raise ValueError(
                f"params: unknown parameter {name!r} of landscape {land.name!r}; known: {', '.join(land.params) or 'none'}"
            )
        default = np.asarray(land.params[name])
        if default.ndim > 0:
            arr = np.asarray(value, dtype=float)
            if arr.shape != default.shape or not np.all(np.isfinite(arr)):
                raise ValueError(f"params: {name} must be a finite array of shape {default.shape} (not swept)")
            param_values[name] = arr
            continue
        param_values[name] = _sweep_value(name, value)
        if isinstance(param_values[name], np.ndarray):
            sweep.add(name, param_values[name])
    for name, default in land.params.items():
        param_values.setdefault(name, np.asarray(default, dtype=float) if np.ndim(default) else float(default))
    return _Sweeps(sweep, schedule, hyper_values, group_values, param_values)


def _check_recording(launches: list, args: _Arguments, max_memory) -> None:
    """Stage 4: the recordings of the whole batch must fit in the memory budget; their size is
    the recording array each launch allocates (:func:`simdyn.engine.allocation.recording_bytes`;
    the rest of a launch's memory is checked when the run's chunking is known:
    :func:`simdyn.simulate.check_memory`)."""
    if not args.record_every:
        return
    need = sum(recording_bytes(launch.request, launch.inputs, launch.inputs.size) for launch in launches)
    budget = memory_budget(max_memory)
    if need > budget:
        n_batch = launches[0].inputs.size
        n_records = args.steps // args.record_every + 1
        raise ValueError(
            f"record_every={args.record_every}: the recording needs {format_bytes(need)} "
            f"({n_records} records x {n_batch} trajectories x {args.landscape.dim} coords x {len(launches)} optimizers), "
            f"more than the {format_bytes(budget)} available; record less often (larger record_every), "
            "use observers instead of recordings, or split the batch into chunks"
        )


def _launch(opt: Optimizer, args: _Arguments, sweeps: _Sweeps, observers: tuple, param_table: np.ndarray) -> OptimizerLaunch:
    """Stage 3: one optimizer's launch: its per-combination tables, its kernel's layout and the
    batch inputs."""
    land, sweep = args.landscape, sweeps.sweep
    n_combo, n_ic = sweep.size, args.initial.points.shape[0]
    used: dict = {}
    for name, spec in opt.hypers.items():
        if name != "lr":
            used[name] = sweeps.hyper_values.get(name, spec.default)
    for name, default in opt.flags.items():
        used[name] = sweeps.hyper_values.get(name, default)
    sched = sweeps.schedule or as_schedule(opt.hypers["lr"].default)
    groups = list(land.groups) or [None]
    hyper_rows, sched_rows = [], []
    for group in groups:
        for n in opt.float_hypers:
            hyper_rows.append(_group_column(sweep, n, used[n], sweeps.group_values, group))
        for p, dim in zip(sched.params, sched.param_names):
            sched_rows.append(_group_column(sweep, dim, sched.params[p], sweeps.group_values, group))
    hyper_table = np.stack(hyper_rows) if hyper_rows else np.zeros((0, n_combo))
    sched_table = np.stack(sched_rows)
    for name, per_group in sweeps.group_values.items():
        if name in opt.hypers:
            used.update({f"{name}_{g}": v for g, v in per_group.items()})
    init_state = _initial_state(opt, hyper_table[:len(opt.float_hypers)])
    flags = tuple(bool(used[name]) for name in opt.flags)
    # Observers that see the optimizer state are bound to this optimizer's slots; those run
    # between segments of the time loop (probes) stay out of the step kernel.
    probes = tuple(obs for obs in observers if getattr(obs, "between_segments", False))
    for probe in probes:
        if getattr(probe, "preconditioned", False) and opt.preconditioner is None:
            raise ValueError(f"observers: {type(probe).__name__}(preconditioned=True) needs an adaptive optimizer "
                             f"with a diagonal preconditioner (adam, amsgrad, adamw, rmsprop); {opt.name!r} has none")
    run_observers = tuple(obs.for_optimizer(len(opt.slots)) for obs in observers if obs not in probes)
    observer_params = _observer_param_table(run_observers, land, param_table)
    tables = {"H": hyper_table, "Q": sched_table, "P": param_table, "OQ": observer_params}
    lane_rows, tile_group = (), None
    if args.target == "cpu":
        lane_rows, tile_group = lane_layout(sweep.shape, n_ic, tables, n_groups=len(groups), step_powers=opt.step_powers)
    layout = KernelLayout(
        dim=land.dim if land.form == "tuple" else 0,  # the array form's source does not depend on d
        n_slots=len(opt.slots), n_hyper=hyper_table.shape[0], n_sched=sched_table.shape[0],
        n_params=param_table.shape[0],
        project=land.project is not None,
        noise=args.noise is not None,
        observer_slots=tuple(len(obs.slots(land.dim)) for obs in run_observers),
        observer_params=tuple(len(obs.params(land.dim)) for obs in run_observers),
        record=bool(args.record_every),
        observer_buffers=tuple(obs.buffer(land.dim) is not None for obs in run_observers),
        observer_sees_state=tuple(obs.sees_state for obs in run_observers),
        observer_sees_previous=tuple(obs.sees_previous for obs in run_observers),
        observer_tangent=tuple(bool(getattr(obs, "tangent", False)) for obs in run_observers),
        lane_rows=lane_rows,
        groups=tuple((sl.start, sl.stop) for sl in land.groups.values()),
        form=land.form,
        data_ndims=tuple(a.ndim for a in land.data_arrays),
        tile_grad=land.tile_grad is not None,
        scratch=getattr(land, "scratch", 0) > 0,
        observer_sees_loss=tuple(obs.sees_loss for obs in run_observers),
        value_grad=land.value_grad is not None and any(obs.sees_loss for obs in run_observers),
        tile_value_grad=(land.tile_grad is not None and land.tile_value_grad is not None
                         and any(obs.sees_loss for obs in run_observers)),
    )
    # every value of each float hyperparameter (all groups): the update rule may be specialised on them
    n_per_group = len(opt.float_hypers)
    values = {name: hyper_table[i::n_per_group] for i, name in enumerate(opt.float_hypers)} if n_per_group else {}
    kernel_opt = dataclasses.replace(opt, update=opt.kernel_update(values))
    request = KernelRequest(kernel_opt, flags, land, sched, run_observers, layout, args.dtype, args.target)
    inputs = BatchInputs(
        hypers=hyper_table,
        schedule=sched_table,
        params=param_table,
        init_state=init_state,
        x0=args.initial.points,
        observer_params=observer_params,
        observer_buffers=tuple(obs.buffer(land.dim) for obs in run_observers),
        steps=args.steps,
        record_every=args.record_every,
        seed=args.noise.seed if args.noise is not None else 0,
        sigma=args.noise.sigma if args.noise is not None else 0.0,
        threshold=args.diverge_threshold,
        tile_group=tile_group,
        representative=representatives(sweep.shape, tables) if args.stacked else None,
        probes=probes,
    )
    return OptimizerLaunch(opt, {"lr": sched.params["lr"], **used}, sched, request, inputs)


def _per_group(name: str, value: dict, land: Landscape, opts, sweep: Sweep) -> dict:
    """A hyperparameter given per coordinate group: {group: scalar or swept array}; a swept
    value adds the dim ``<name>_<group>``."""
    if not land.groups:
        raise ValueError(f"hyper: {name} is given per group, but landscape {land.name!r} has no groups")
    if name not in {n for o in opts for n in o.hypers}:
        raise ValueError(f"hyper: {name} is not a float hyperparameter, so it cannot be set per group")
    out = {}
    for group, v in value.items():
        if group not in land.groups:
            raise ValueError(f"hyper: {name} names group {group!r}, which landscape {land.name!r} does not have; "
                             f"its groups: {', '.join(land.groups)}")
        dim = f"{name}_{group}"
        out[group] = _sweep_value(dim, v)
        for opt in opts:
            if name in opt.hypers:
                _check_hyper_range(opt, name, out[group])
        if isinstance(out[group], np.ndarray):
            sweep.add(dim, out[group])
    return out


def _group_column(sweep: Sweep, name: str, value, group_values: dict, group) -> np.ndarray:
    """The column of ``name`` (a hyperparameter, or a schedule parameter's dim) for coordinate
    ``group``: its per-group value when one is given (dim ``<name>_<group>``), else the common one."""
    per_group = group_values.get(name, {})
    if group in per_group:
        return _column(sweep, f"{name}_{group}", per_group[group])
    return _column(sweep, name, value)


def _column(sweep: Sweep, name: str, value) -> np.ndarray:
    """``value`` for every combination: the sweep column if swept, else a constant."""
    if isinstance(value, np.ndarray) and value.ndim == 1 and name in sweep.names:
        return sweep.column(name)
    return np.full(sweep.size, float(value))


def _param_table(land: Landscape, values: dict, sweep: Sweep) -> np.ndarray:
    rows = []
    for name in land.params:
        value = values[name]
        if isinstance(value, np.ndarray) and value.ndim == 1 and name in sweep.names:
            rows.append(sweep.column(name))
        else:
            rows.extend(np.full(sweep.size, float(x)) for x in np.ravel(value))
    return np.stack(rows) if rows else np.zeros((0, sweep.size))


def _distinct_columns(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct columns of a (rows, C) table, one per row of ``unique``, and each column's
    index among them (``unique[inverse].T`` is the table), as ``np.unique(table.T, axis=0,
    return_inverse=True)`` gives them but sorting only the rows that vary: a sweep varies a few
    rows, and NumPy's row-wise unique of a 2¹⁸ × 4 table takes 0.3 s (a 512² (lr, β₁) Adam grid:
    longer than its 300 steps)."""
    n = table.shape[1]
    varying = np.flatnonzero(np.any(table != table[:, :1], axis=1))
    if varying.size == 0:
        return table[:, :1].T.copy(), np.zeros(n, dtype=np.int64)
    keys = table[varying[0]] if varying.size == 1 else table[varying].T
    _, first, inverse = np.unique(keys, axis=None if varying.size == 1 else 0, return_index=True, return_inverse=True)
    return table[:, first].T.copy(), np.ravel(inverse)


def _observer_param_table(observers, land: Landscape, param_table: np.ndarray) -> np.ndarray:
    """(total observer params, C): every observer's ``params_for`` each combination's landscape
    parameters, evaluated once per distinct parameter column."""
    n_combo = param_table.shape[1]
    if not observers:
        return np.zeros((0, n_combo))
    unique, inverse = _distinct_columns(param_table)
    columns = []
    for flat in unique:
        values = land.unflat_params(tuple(flat))
        column = [q for obs in observers for q in obs.params_for(land.dim, values)]
        expected = sum(len(obs.params(land.dim)) for obs in observers)
        if len(column) != expected:
            raise ValueError(f"observers: params_for returned {len(column)} parameters, expected {expected}")
        columns.append(column)
    return np.asarray(columns, dtype=float).reshape(len(unique), -1)[np.ravel(inverse)].T.copy()


def _initial_state(opt: Optimizer, hyper_table: np.ndarray) -> np.ndarray:
    """The optimizer's initial slots for every combination (``init(h)`` on the unique rows)."""
    n_combo = hyper_table.shape[1]
    out = np.zeros((len(opt.slots), n_combo))
    if not opt.slots:
        return out
    if hyper_table.shape[0] == 0:
        out[:] = np.asarray(opt.init(()), dtype=float)[:, None]
        return out
    unique, inverse = _distinct_columns(hyper_table)
    values = np.array([opt.init(tuple(float(x) for x in row)) for row in unique], dtype=float).reshape(len(unique), -1)
    return values[np.ravel(inverse)].T.copy()
