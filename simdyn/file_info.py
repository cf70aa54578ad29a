"""What a simdyn netCDF file holds, as text (``simdyn info FILE``).

A file of a study with ``[[runs]]`` holds one netCDF group per table; the groups share most of
their settings (optimizers, hyperparameters, steps, provenance). :func:`describe_file` prints
what every group shares once, then per group only what differs from the others (the landscape,
its initial set, the status counts). Every dimension is given with its size and, for numbers,
its range (``lr=5 in [0.0001, 0.1] log-spaced``).
"""

from __future__ import annotations

import json

import numpy as np


def format_table(header: list[str], rows: list[list], right: set[int] = frozenset()) -> str:
    """Columns padded to their widest cell; the columns in ``right`` are right-aligned."""
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]

    def line(row):
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))).rstrip()

    return "\n".join([line(cells[0]), line(["-" * w for w in widths])] + [line(r) for r in cells[1:]])


def attr_str(value) -> str:
    """An attribute value as short text: ``0.001``, ``true``, ``[0.8, 0.9]``."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value)).lower()
    if isinstance(value, list):
        value = np.asarray(value)
    if isinstance(value, np.ndarray):
        return "[" + ", ".join(f"{x:g}" if isinstance(x, (float, np.floating)) else str(x) for x in value.tolist()) + "]"
    if isinstance(value, (float, np.floating)):
        return f"{value:g}"
    return str(value)


def hyper_str(name: str, value) -> str:
    """``lr=0.001`` for a constant rate, ``lr=inverse_sqrt(lr=0.1)`` for a schedule."""
    if name == "lr_schedule" and isinstance(value, dict):
        kind = value.get("kind", "constant")
        params = {k: v for k, v in value.items() if k != "kind"}
        if kind == "constant" and set(params) == {"lr"}:
            return f"lr={attr_str(params['lr'])}"
        return f"lr={kind}(" + ", ".join(f"{k}={attr_str(v)}" for k, v in params.items()) + ")"
    return f"{name}={attr_str(value)}"


def call_of(ds) -> dict:
    """The ``simdyn_call`` attribute (the call that made ``ds``) as a dict; {} if absent."""
    try:
        return json.loads(ds.attrs.get("simdyn_call", "{}"))
    except ValueError:
        return {}


def _spacing(values: np.ndarray) -> str:
    if values.size < 3:
        return ""
    if np.allclose(np.diff(values), values[1] - values[0], rtol=1e-6, atol=0):
        return " evenly spaced"
    if np.all(values > 0) and np.allclose(np.diff(np.log(values)), np.log(values[1] / values[0]), rtol=1e-6, atol=0):
        return " log-spaced"
    return ""


def dim_str(ds, name: str) -> str:
    """``x0=32 in [-1, 1] evenly spaced``, ``optimizer=3 (sgd, rmsprop, adam)``, ``traj=1000``."""
    size = ds.sizes[name]
    if name not in ds.coords:
        return f"{name}={size}"
    values = np.asarray(ds[name].values)
    if values.dtype.kind in "iu" and np.array_equal(values, np.arange(size)):  # an index (traj)
        return f"{name}={size}"
    if values.dtype.kind in "iuf" and values.size:
        if size == 1:
            return f"{name}=1 ({values[0]:g})"
        return f"{name}={size} in [{values.min():g}, {values.max():g}]{_spacing(values.astype(float))}"
    shown = ", ".join(str(v) for v in values[:6]) + (", ..." if size > 6 else "")
    return f"{name}={size} ({shown})"


def _facts(ds) -> dict[str, list[str]]:
    """Everything ``simdyn info`` says of one Dataset, as named blocks of lines (no indent)."""
    a = ds.attrs
    facts: dict[str, list[str]] = {}
    optimizers = [o.strip() for o in str(a.get("optimizer", "")).split(",") if o.strip()]
    call_hyper = call_of(ds).get("hyper") or {}
    lines = [f"optimizer: {a.get('optimizer', '-')}"]
    for opt in optimizers:
        if opt in call_hyper:
            items = [hyper_str(k, v) for k, v in call_hyper[opt].items()]
        else:
            prefix = f"hyper_{opt}_"
            items = [f"{k[len(prefix):]}={attr_str(v)}" for k, v in a.items() if k.startswith(prefix)]
        lines.append(f"  {opt}: {', '.join(items) or '-'}")
    facts["optimizer"] = lines
    facts["run"] = [f"steps: {a.get('steps', '-')}  record_every: {a.get('record_every', '-') or 'none'}  "
                    f"dtype: {a.get('dtype', '-')}  target: {a.get('target', '-')}"]
    noise = a.get("noise", "-")
    if noise not in ("none", "-"):
        noise = f"{noise} (sigma={attr_str(a.get('noise_sigma'))}, seed={attr_str(a.get('noise_seed'))})"
    facts["noise"] = [f"noise: {noise}  observers: {a.get('observers', '-')}"]
    params = [f"{k[len('param_'):]}={attr_str(v)}" for k, v in a.items() if k.startswith("param_")]
    facts["landscape"] = [f"landscape: {a.get('landscape', '-')}  f = {a.get('landscape_formula', '-')}  "
                          f"params: {', '.join(params) or 'none'}"]
    facts["initial"] = [f"initial set: {a.get('initial_set', '-')}"]
    facts["dims"] = ["dims: " + ", ".join(dim_str(ds, name) for name in ds.sizes)]
    rows = [[name, "(" + ", ".join(var.dims) + ")", str(var.dtype), var.attrs.get("long_name", "")]
            for name, var in ds.data_vars.items()]
    facts["variables"] = ["variables:"] + ["  " + line for line in
                                           format_table(["name", "dims", "dtype", "long_name"], rows).splitlines()]
    facts["created"] = [f"created: {a.get('created', '-')}  simdyn version: {a.get('simdyn_version', '-')}"
                        + (f"  numba version: {a['numba_version']}" if "numba_version" in a else "")]
    if "inputs_hash" in a:
        n_chunks, chunk_size = a.get("n_chunks", "?"), int(a.get("chunk_size", -1))
        per = "each optimizer's batch whole (no chunk_size)" if chunk_size < 0 else f"at most {chunk_size:,} trajectories each"
        facts["execution"] = [f"execution: {n_chunks} chunk(s), {per}; scheduler {a.get('scheduler', '-')}",
                              f"inputs hash: {a['inputs_hash']}"]
    return facts


def status_table(ds) -> list[str]:
    """Status counts per optimizer (lines, no indent); [] without a ``status`` variable."""
    if "status" not in ds:
        return []
    from .status import STATUS_MEANINGS

    status = ds["status"]
    opts = [str(o) for o in status["optimizer"].values] if "optimizer" in status.dims else [ds.attrs.get("optimizer", "all")]
    rows = []
    for opt in opts:
        values = (status.sel(optimizer=opt) if "optimizer" in status.dims else status).values
        rows.append([opt, *(int(np.sum(values == i)) for i in range(len(STATUS_MEANINGS)))])
    table = format_table(["optimizer", *STATUS_MEANINGS], rows, right=set(range(1, len(STATUS_MEANINGS) + 1)))
    return ["status counts:"] + ["  " + line for line in table.splitlines()]


def _indent(lines: list[str], indent: str) -> list[str]:
    return [indent + line for line in lines]


def _study_lines(attrs: dict, path: str) -> list[str]:
    lines = []
    if "study_name" in attrs:
        lines.append(f"study: {attrs['study_name']}")
    if attrs.get("study_description"):
        lines.append(f"description: {attrs['study_description']}")
    if attrs.get("study_toml"):
        n = len(str(attrs["study_toml"]).splitlines())
        lines.append(f"study file: {n} lines in the attribute study_toml (simdyn info {path} --study prints it)")
    return lines


def describe(path: str, datasets: dict, root_attrs: dict | None = None) -> str:
    """The text of ``simdyn info``: ``datasets`` is ``{group name: Dataset}`` ({"": ds} for a
    file without groups), ``root_attrs`` the attributes of a grouped file's root group."""
    lines = [f"file: {path}"]
    if list(datasets) == [""]:
        ds = datasets[""]
        lines += _study_lines(ds.attrs, path)
        for block in _facts(ds).values():
            lines += block
        return "\n".join(lines + status_table(ds))
    first = next(iter(datasets.values()))
    lines += _study_lines({**first.attrs, **(root_attrs or {})}, path)
    lines.append(f"groups: {', '.join(datasets)}")
    facts = {name: _facts(ds) for name, ds in datasets.items()}
    keys = list(dict.fromkeys(k for f in facts.values() for k in f))
    shared = [k for k in keys if len({tuple(f.get(k, ())) for f in facts.values()}) == 1]
    lines += ["", f"shared by all {len(datasets)} groups:"]
    for key in shared:
        lines += _indent(facts[next(iter(facts))].get(key, []), "  ")
    for name, ds in datasets.items():
        lines += ["", f"group {name}:"]
        for key in keys:
            if key not in shared:
                lines += _indent(facts[name].get(key, []), "  ")
        lines += _indent(status_table(ds), "  ")
    return "\n".join(lines)
