"""TOML studies: a file that says what to simulate, checked before anything is compiled.

    study = load_study("data/adam_valley_lr_sweep.toml")      # or the TOML text itself
    result = run_study(study)                                  # one Dataset, or {group: Dataset}
    save_results(result, study.output)                         # atomic netCDF write

Schema (every key optional unless marked; an unknown key anywhere is a ``ValueError`` that
names the key, its table and the allowed keys; a value of the wrong type names its key)::

    name = "my_study"                 # default: the file's stem ("study" for TOML text)
    description = "..."
    optimizers = ["sgd", "adam"]      # or optimizer = "adam" (no `optimizer` dim)   [required]
    landscape = "valley"              # [required, here or in every [[runs]]]; a landscape built
                                      # from arguments: { name = "random_quadratic", d = 4,
                                      #   eigenvalues = [1, 2, 3, 4], seed = 0 }
    steps = 3000                      # [required] integer >= 1
    record_every = 100                # record every k-th state (variable `trajectory`)
    dtype = "float64"                 # or "float32"
    target = "cpu"                    # "cpu" | "cuda" | "auto"
    converge_tol = 1e-9               # see sd.simulate
    diverge_threshold = 1e10
    observers = []                    # names or tables {name = "...", <constructor kwargs>}

    [params]                          # landscape parameters; a list is a sweep (matrices: fixed)
    a = 1e-3

    [x0]                              # exactly one of grid / points / ball   [required]
    grid = {x = [-1, 1, 32], y = [-1, 1, 32]}     # [lo, hi, n] per coordinate -> dims x0, y0
    # points = [[0.5, 0.5], [1.0, -1.0]]           # -> dim traj
    # ball = {center = [0, 0], radius = 0.01, n = 2000, seed = 7}   # -> dim traj

    [hyper]                           # scalars fix a value, lists are sweeps, booleans are flags
    lr = 1e-3                         # or a schedule table (lists inside are sweeps too):
    # lr = {schedule = "inverse_sqrt", lr = 0.1}
    # lr = {schedule = "exponential", lr = 0.1, gamma = 0.999}
    # lr = {schedule = "step", lr = 0.1, step_size = 100, gamma = 0.5}
    # lr = {schedule = "cosine", lr = 0.1, t_max = 1000, eta_min = 0.0}
    beta1 = [0.8, 0.9, 0.95]

    [noise]                           # additive Gaussian gradient noise
    sigma = 1e-3
    seed = 7                          # default 0

    [output]
    path = "out.nc"                   # default "<name>.nc", relative to the working directory

    [[runs]]                          # several landscapes in one study: each table is a group
    name = "valley"                   # of the study and overrides landscape, [params] and [x0]
    landscape = "valley"              # of the top level; the file then holds one netCDF group
    [runs.params]                     # per table (named after `name`, default: the landscape's name)
    a = 1e-3

Without ``[[runs]]`` :func:`run_study` returns one ``xarray.Dataset`` (saved as the file's root
group, so ``sd.load(path)`` reads it); with ``[[runs]]`` it returns ``{group name: Dataset}``,
saved as netCDF groups (read them back with :func:`load_results`). Every Dataset carries the
study's TOML text (attribute ``study_toml``) and name (``study_name``), so a file says what
produced it.
"""

from __future__ import annotations

import dataclasses
import datetime
import inspect
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import xarray as xr

from . import observe
from .io import groups as file_groups

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib

DEFAULT_STUDY = Path(__file__).with_name("data") / "default.toml"
"""The built-in study run by ``simdyn run`` without arguments (a TOML file to copy)."""

OBSERVERS: dict[str, Callable] = {
    "exit": observe.Exit,
    "hitting": observe.Hitting,
    "path_length": observe.PathLength,
    "max_step": observe.MaxStep,
    "period": observe.Period,
    "tail": observe.Tail,
    "loss_trace": observe.LossTrace,
    "trainability": observe.Trainability,
    "lyapunov": observe.Lyapunov,
    "sharpness": observe.Sharpness,
}
"""Observers a study may name: ``name -> constructor``; the table's other keys are its kwargs,
e.g. ``observers = [{name = "hitting", tol = 1e-3}, "period"]``."""

TOP_KEYS = (
    "name", "description", "optimizer", "optimizers", "landscape", "params", "x0", "steps",
    "hyper", "record_every", "noise", "dtype", "target", "converge_tol", "diverge_threshold",
    "observers", "output", "runs", "execution",
)
EXECUTION_KEYS = ("chunk_size", "target", "scheduler", "n_workers")
GROUP_KEYS = ("name", "landscape", "params", "x0")
X0_KEYS = ("grid", "points", "ball")
BALL_KEYS = ("center", "radius", "n", "seed")
NOISE_KEYS = ("sigma", "seed")
OUTPUT_KEYS = ("path",)
_GROUP_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")


# -- the parsed study ------------------------------------------------------------------------------


@dataclass(frozen=True)
class StudyGroup:
    """One group of a study (a ``[[runs]]`` table, or the whole study without them): its netCDF
    group name, landscape, parameters and initial set."""

    name: str
    landscape: str | dict  # a registered name, or {name = ..., <arguments>} (simdyn.landscapes.BUILDERS)
    params: dict
    x0: tuple  # ("grid", {axis: (lo, hi, n)}) | ("points", array) | ("ball", {center, radius, n, seed})


@dataclass(frozen=True)
class Study:
    """A checked study. ``groups`` has one entry per landscape; ``grouped`` when given as [[runs]]."""

    name: str
    optimizer: object  # a name, or a list of names (-> dim "optimizer")
    groups: tuple
    steps: int
    grouped: bool = False
    description: str = ""
    hyper: dict = field(default_factory=dict)
    record_every: int | None = None
    noise: dict | None = None
    dtype: str = "float64"
    target: str = "cpu"
    converge_tol: float = 1e-9
    diverge_threshold: float = 1e10
    observers: tuple = ()
    output: str = ""
    toml: str = ""
    source: str | None = None
    overrides: dict = field(default_factory=dict)
    chunk_size: int | None = None
    scheduler: str | None = None
    n_workers: int | None = None

    @property
    def optimizers(self) -> list[str]:
        return list(self.optimizer) if isinstance(self.optimizer, (list, tuple)) else [self.optimizer]

    def replace(self, **changes) -> "Study":
        """A copy with ``changes`` (e.g. ``steps=10``), checked again and noted in ``overrides``."""
        if "steps" in changes:
            _check_int("steps", changes["steps"], 1)
        if "target" in changes:
            _check_choice("target", changes["target"], ("cpu", "cuda", "auto"))
        for key in ("chunk_size", "n_workers"):
            if changes.get(key) is not None:
                _check_int(key, changes[key], 1)
        overrides = {**self.overrides, **{k: v for k, v in changes.items() if k != "output"}}
        study = dataclasses.replace(self, **changes, overrides=overrides)
        check_study(study)
        return study

    def simulate_kwargs(self, group: StudyGroup) -> dict:
        """The keyword arguments of :func:`simdyn.simulate` for ``group``."""
        from . import initial, noise, schedule

        kind, spec = group.x0
        if kind == "grid":
            x0 = initial.grid(**spec)
        elif kind == "ball":
            x0 = initial.ball(**spec)
        else:
            x0 = np.array(spec, dtype=float)
        hyper = {}
        for name, value in self.hyper.items():
            if isinstance(value, dict):
                kwargs = {k: _array_if_list(v) for k, v in value.items() if k != "schedule"}
                hyper[name] = schedule.SCHEDULES[value["schedule"]](**kwargs)
            else:
                hyper[name] = _array_if_list(value)
        return dict(
            optimizer=self.optimizer,
            landscape=group.landscape,
            x0=x0,
            steps=self.steps,
            hyper=hyper,
            params={k: _array_if_list(v) for k, v in group.params.items()},
            observers=[OBSERVERS[spec["name"]](**{k: v for k, v in spec.items() if k != "name"}) for spec in self.observers],
            record_every=self.record_every,
            noise=None if self.noise is None else noise.Gaussian(**self.noise),
            dtype=self.dtype,
            target=self.target,
            converge_tol=self.converge_tol,
            diverge_threshold=self.diverge_threshold,
        )


def _array_if_list(value):
    return np.array(value, dtype=float) if isinstance(value, list) else value


# -- type checks (each names its key) --------------------------------------------------------------


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_int(key: str, value, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{key}: expected an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{key}: must be >= {minimum}, got {value!r}")
    return value


def _check_number(key: str, value) -> float:
    if not _is_number(value):
        raise TypeError(f"{key}: expected a number, got {value!r}")
    return value


def _check_str(key: str, value) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{key}: expected a string, got {value!r}")
    return value


def _check_choice(key: str, value, choices) -> str:
    _check_str(key, value)
    if value not in choices:
        raise ValueError(f"{key}: must be one of {', '.join(choices)}, got {value!r}")
    return value


def _check_table(key: str, value) -> dict:
    if not isinstance(value, dict):
        raise TypeError(f"{key}: expected a table, got {value!r}")
    return value


def _check_keys(table: dict, allowed, where: str):
    """Unknown keys are errors: name the key, the table and the allowed keys."""
    for key in table:
        if key not in allowed:
            place = f"in [{where}]" if where else "at the top level of the study"
            raise ValueError(
                f"unknown key {key!r} {place}; allowed keys: {', '.join(sorted(allowed)) or 'none'}"
            )


def _check_number_or_list(key: str, value):
    """A number, or a non-empty list of numbers (a sweep)."""
    if _is_number(value):
        return value
    if isinstance(value, list) and value and all(_is_number(v) for v in value):
        return value
    raise TypeError(f"{key}: expected a number or a non-empty list of numbers, got {value!r}")


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


# -- parsing -------------------------------------------------------------------------------------


def _read(path_or_text) -> tuple[str, str | None]:
    """(TOML text, source path or None). A Path or an existing file name is read; other strings
    are TOML text (a string ending in ``.toml`` that names no file is a FileNotFoundError)."""
    if isinstance(path_or_text, os.PathLike):
        path = os.fspath(path_or_text)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"study file not found: {path}")
        with open(path, encoding="utf-8") as f:
            return f.read(), path
    if not isinstance(path_or_text, str):
        raise TypeError(f"load_study: expected a path or TOML text, got {type(path_or_text).__name__}")
    if "\n" not in path_or_text and (path_or_text.endswith(".toml") or os.path.isfile(path_or_text)):
        if not os.path.isfile(path_or_text):
            raise FileNotFoundError(f"study file not found: {path_or_text}")
        with open(path_or_text, encoding="utf-8") as f:
            return f.read(), path_or_text
    return path_or_text, None


def load_study(path_or_text) -> Study:
    """Parse and check a TOML study (a path or the TOML text itself).

    Every key is checked (unknown keys and wrong types raise ``ValueError``/``TypeError`` naming
    the key), then each group is laid out with :func:`simdyn.plan.make_plan`, so every error of
    :func:`simdyn.simulate` (ranges, names, shapes) surfaces here, before anything is compiled.
    """
    text, source = _read(path_or_text)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{source or 'study'}: invalid TOML: {exc}") from None
    default_name = Path(source).stem if source else "study"
    study = _parse(doc, text, source, default_name)
    check_study(study)
    return study


def _parse(doc: dict, text: str, source: str | None, default_name: str) -> Study:
    _check_keys(doc, TOP_KEYS, "")
    name = _check_str("name", doc.get("name", default_name))
    description = _check_str("description", doc.get("description", ""))

    if "optimizer" in doc and "optimizers" in doc:
        raise ValueError("optimizer, optimizers: give one of them, not both")
    if "optimizers" in doc:
        optimizer = doc["optimizers"]
        if not isinstance(optimizer, list) or not optimizer or not all(isinstance(o, str) for o in optimizer):
            raise TypeError(f"optimizers: expected a non-empty list of names, got {optimizer!r}")
    elif "optimizer" in doc:
        optimizer = _check_str("optimizer", doc["optimizer"])
    else:
        raise ValueError("optimizers: required (a list of optimizer names, or optimizer = \"name\")")
    from .optimizers import get_optimizer

    opts = [get_optimizer(o) for o in (optimizer if isinstance(optimizer, list) else [optimizer])]

    if "steps" not in doc:
        raise ValueError("steps: required (an integer >= 1)")
    steps = _check_int("steps", doc["steps"], 1)
    record_every = doc.get("record_every")
    if record_every is not None:
        record_every = _check_int("record_every", record_every, 1)
    dtype = _check_choice("dtype", doc.get("dtype", "float64"), ("float64", "float32"))
    target = _check_choice("target", doc.get("target", "cpu"), ("cpu", "cuda", "auto"))
    converge_tol = _check_number("converge_tol", doc.get("converge_tol", 1e-9))
    diverge_threshold = _check_number("diverge_threshold", doc.get("diverge_threshold", 1e10))

    hyper = _parse_hyper(_check_table("hyper", doc.get("hyper", {})), opts)
    noise = None
    if "noise" in doc:
        table = _check_table("noise", doc["noise"])
        _check_keys(table, NOISE_KEYS, "noise")
        if "sigma" not in table:
            raise ValueError("noise.sigma: required")
        noise = {
            "sigma": float(_check_number("noise.sigma", table["sigma"])),
            "seed": _check_int("noise.seed", table.get("seed", 0), 0),
        }
    observers = _parse_observers(doc.get("observers", []))
    execution = _check_table("execution", doc.get("execution", {}))
    _check_keys(execution, EXECUTION_KEYS, "execution")
    chunk_size = execution.get("chunk_size")
    if chunk_size is not None:
        chunk_size = _check_int("execution.chunk_size", chunk_size, 1)
    if "target" in execution:
        target = _check_choice("execution.target", execution["target"], ("cpu", "cuda", "auto"))
    scheduler = execution.get("scheduler")
    if scheduler is not None:
        scheduler = _check_str("execution.scheduler", scheduler)
    n_workers = execution.get("n_workers")
    if n_workers is not None:
        n_workers = _check_int("execution.n_workers", n_workers, 1)
    output = _check_table("output", doc.get("output", {}))
    _check_keys(output, OUTPUT_KEYS, "output")
    output_path = _check_str("output.path", output.get("path", f"{name}.nc"))

    base = {k: doc[k] for k in ("landscape", "params", "x0") if k in doc}
    if "runs" in doc:
        runs_doc = doc["runs"]
        if not isinstance(runs_doc, list) or not runs_doc or not all(isinstance(r, dict) for r in runs_doc):
            raise TypeError("runs: expected an array of tables ([[runs]]), at least one")
        groups = tuple(_parse_group({**base, **r}, f"runs[{i}]", r) for i, r in enumerate(runs_doc))
        names = [g.name for g in groups]
        if len(set(names)) != len(names):
            raise ValueError(f"runs: group names must be unique (set `name` in each [[runs]]), got {names}")
        grouped = True
    else:
        groups = (_parse_group(base, "", base),)
        grouped = False
    return Study(
        name=name, optimizer=optimizer, groups=groups, steps=steps, grouped=grouped,
        description=description, hyper=hyper, record_every=record_every, noise=noise, dtype=dtype,
        target=target, converge_tol=float(converge_tol), diverge_threshold=float(diverge_threshold),
        observers=observers, output=output_path, toml=text, source=source,
        chunk_size=chunk_size, scheduler=scheduler, n_workers=n_workers,
    )


def _parse_group(table: dict, where: str, own: dict) -> StudyGroup:
    """A group from the merged table (top level + the group's overrides); ``own`` is checked for keys."""
    if where:
        _check_keys(own, GROUP_KEYS, where)
    from .landscapes import get_landscape

    if "landscape" not in table:
        raise ValueError(f"{_join(where, 'landscape')}: required (a landscape name)")
    params = dict(_check_table(_join(where, "params"), table.get("params", {})))
    shaping = ()
    if isinstance(table["landscape"], dict):  # a landscape built from arguments: {name = ..., ...}
        landscape_name = dict(table["landscape"])
        land = get_landscape(landscape_name)
    else:
        landscape_name = _check_str(_join(where, "landscape"), table["landscape"])
        # the landscape's own parameter names are the allowed keys (quadratic's h shapes it; above
        # d = 8 the quadratic takes the array form, which holds h as data, not as a parameter)
        land = get_landscape(landscape_name, {"h": np.asarray(params["h"], dtype=float)} if "h" in params else None)
        shaping = ("h",) if landscape_name.lower() == "quadratic" and "h" not in land.params else ()
    _check_keys(params, tuple(land.params) + shaping, _join(where, "params"))
    for key, value in params.items():
        if key in shaping or np.ndim(land.params[key]) > 0:
            if not isinstance(value, list):
                raise TypeError(f"{_join(where, 'params')}.{key}: expected an array (nested lists), got {value!r}")
        else:
            _check_number_or_list(f"{_join(where, 'params')}.{key}", value)
    if "x0" not in table:
        raise ValueError(f"{_join(where, 'x0')}: required (grid, points or ball)")
    x0 = _parse_x0(_check_table(_join(where, "x0"), table["x0"]), _join(where, "x0"))
    name = _check_str(_join(where, "name"), table.get("name", land.name))
    if where and not _GROUP_NAME.match(name):
        raise ValueError(f"{_join(where, 'name')}: a group name must be a netCDF group name (letters, digits, _ . -), got {name!r}")
    return StudyGroup(name, landscape_name, params, x0)


def _parse_x0(table: dict, where: str) -> tuple:
    _check_keys(table, X0_KEYS, where)
    given = [k for k in X0_KEYS if k in table]
    if len(given) != 1:
        raise ValueError(f"{where}: give exactly one of grid, points, ball (got {', '.join(given) or 'none'})")
    kind = given[0]
    value = table[kind]
    key = f"{where}.{kind}"
    if kind == "grid":
        _check_table(key, value)
        axes = {}
        for axis, spec in value.items():
            ok = (
                isinstance(spec, list) and len(spec) == 3 and _is_number(spec[0]) and _is_number(spec[1])
                and isinstance(spec[2], int) and not isinstance(spec[2], bool)
            )
            if not ok:
                raise TypeError(f"{key}.{axis}: expected [lo, hi, n] with an integer n, got {spec!r}")
            if spec[2] < 1:
                raise ValueError(f"{key}.{axis}: n must be >= 1, got {spec[2]!r}")
            axes[axis] = (float(spec[0]), float(spec[1]), int(spec[2]))
        from .initial import coord_labels

        labels = coord_labels(len(axes))
        if list(axes) != labels:
            _check_keys(axes, labels, key)
            raise ValueError(f"{key}: axes must be {', '.join(labels)} in this order, got {', '.join(axes)}")
        return ("grid", axes)
    if kind == "points":
        ok = (
            isinstance(value, list) and value and all(isinstance(p, list) and p for p in value)
            and all(_is_number(x) for p in value for x in p) and len({len(p) for p in value}) == 1
        )
        if not ok:
            raise TypeError(f"{key}: expected a non-empty list of points of equal length ([[x, y], ...]), got {value!r}")
        return ("points", value)
    _check_table(key, value)
    _check_keys(value, BALL_KEYS, key)
    for required in ("center", "radius", "n"):
        if required not in value:
            raise ValueError(f"{key}.{required}: required")
    center = value["center"]
    if not isinstance(center, list) or not center or not all(_is_number(c) for c in center):
        raise TypeError(f"{key}.center: expected a point (a list of numbers), got {center!r}")
    return ("ball", {
        "center": [float(c) for c in center],
        "radius": float(_check_number(f"{key}.radius", value["radius"])),
        "n": _check_int(f"{key}.n", value["n"], 1),
        "seed": _check_int(f"{key}.seed", value.get("seed", 0), 0),
    })


def _parse_hyper(table: dict, opts) -> dict:
    from .schedule import SCHEDULES

    allowed = []
    for opt in opts:
        allowed += [n for n in opt.names if n not in allowed]
    _check_keys(table, allowed, "hyper")
    hyper = {}
    for name, value in table.items():
        key = f"hyper.{name}"
        if name == "lr" and isinstance(value, dict):
            if "schedule" not in value:
                raise ValueError(f"{key}.schedule: required (one of {', '.join(SCHEDULES)})")
            kind = _check_choice(f"{key}.schedule", value["schedule"], tuple(SCHEDULES))
            signature = inspect.signature(SCHEDULES[kind]).parameters
            _check_keys(value, ("schedule", *signature), key)
            for pname, param in signature.items():
                if pname in value:
                    _check_number_or_list(f"{key}.{pname}", value[pname])
                elif param.default is inspect.Parameter.empty:
                    raise ValueError(f"{key}.{pname}: required by schedule {kind!r}")
            hyper[name] = dict(value)
        elif isinstance(value, bool):
            if not any(name in opt.flags for opt in opts):
                raise TypeError(f"{key}: expected a number or a list of numbers, got {value!r}")
            hyper[name] = value
        else:
            if any(name in opt.flags for opt in opts):
                raise TypeError(f"{key}: a flag, expected true or false, got {value!r}")
            hyper[name] = _check_number_or_list(key, value)
    return hyper


def _parse_observers(value) -> tuple:
    if not isinstance(value, list):
        raise TypeError(f"observers: expected a list of observer names or tables, got {value!r}")
    specs = []
    for i, entry in enumerate(value):
        key = f"observers[{i}]"
        if isinstance(entry, str):
            entry = {"name": entry}
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            raise TypeError(f"{key}: expected a name or a table with a `name`, got {entry!r}")
        if entry["name"] not in OBSERVERS:
            raise ValueError(
                f"{key}.name: unknown observer {entry['name']!r}; known observers: {', '.join(OBSERVERS) or 'none yet'}"
            )
        constructor = OBSERVERS[entry["name"]]
        _check_keys(entry, ("name", *inspect.signature(constructor).parameters), key)
        specs.append(dict(entry))
    return tuple(specs)


def check_study(study: Study):
    """Lay every group out with :func:`simdyn.plan.make_plan` (no compilation): every argument
    error of :func:`simdyn.simulate` is raised here, prefixed with the group it concerns."""
    from .plan import make_plan

    for group in study.groups:
        try:
            make_plan(**study.simulate_kwargs(group))
        except (ValueError, TypeError) as exc:
            if not study.grouped:
                raise
            raise type(exc)(f"group {group.name!r}: {exc}") from None


# -- running and saving ---------------------------------------------------------------------------


def _study_attrs(study: Study, group: StudyGroup) -> dict:
    overrides = "; ".join(f"{k}={v}" for k, v in study.overrides.items()) or "none"
    return {
        "study_name": study.name,
        "study_description": study.description,
        "study_run": group.name,
        "study_toml": study.toml,
        "study_overrides": overrides,
    }


def run_study(study: Study, progress=None):
    """Run every landscape of ``study`` with :func:`simdyn.simulate`.

    Returns one ``xarray.Dataset`` for a study without ``[[runs]]``, else a dict
    ``{group name: Dataset}`` in the order of the ``[[runs]]`` tables. ``progress`` as in ``simulate`` (None: a
    bar when stderr is a terminal). Each Dataset gets the attributes ``study_name``,
    ``study_toml`` (the study's text), ``study_run``, ``study_description`` and
    ``study_overrides`` (command-line changes such as ``steps=10``).
    """
    from .simulate import simulate

    if not isinstance(study, Study):
        raise TypeError(f"run_study: expected a Study (see load_study), got {type(study).__name__}")
    check_study(study)  # every group is checked before the first one compiles
    results = {}
    for group in study.groups:
        ds = simulate(**study.simulate_kwargs(group), progress=progress)
        ds.attrs.update(_study_attrs(study, group))
        results[group.name] = ds
    return results if study.grouped else next(iter(results.values()))


def save_results(result, path) -> str:
    """Write a :func:`run_study` result to netCDF atomically (temporary file, then a rename).

    A Dataset becomes the file's root group; a dict ``{name: Dataset}`` becomes one group per
    entry, with the study's attributes (and ``groups``, the list of names) on the root.
    """
    from ._version import __version__
    from .io import atomic_output, save

    if isinstance(result, xr.Dataset):
        return save(result, path)
    if not isinstance(result, dict) or not result:
        raise TypeError("save_results: expected a Dataset or a non-empty {group name: Dataset} dict")
    path = os.fspath(path)
    first = next(iter(result.values()))
    root_attrs = {k: v for k, v in first.attrs.items() if k.startswith("study_") and k != "study_run"}
    root_attrs.update(
        simdyn_version=__version__,
        created=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        groups=", ".join(result),
    )
    with atomic_output(path) as tmp:
        xr.Dataset(attrs=root_attrs).to_netcdf(tmp, mode="w", engine="netcdf4", format="NETCDF4")
        for name, ds in result.items():
            ds.to_netcdf(tmp, mode="a", group=name, engine="netcdf4", format="NETCDF4")
    return path


def load_results(path, group: str | None = None):
    """Read a file written by :func:`save_results` into memory.

    One Dataset for a file without groups (or when ``group`` is given), else ``{group: Dataset}``.
    """
    def read(group_name):
        with xr.open_dataset(path, group=group_name, engine="netcdf4") as ds:
            return ds.load()

    groups = file_groups(path)
    if group is not None:
        if group not in groups:
            raise ValueError(f"group: {group!r} is not in {path}; groups: {', '.join(groups) or 'none'}")
        return read(group)
    if not groups:
        return read(None)
    return {name: read(name) for name in groups}
