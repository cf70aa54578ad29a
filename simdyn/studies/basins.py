"""Basins of attraction: which attractor each initial point ends on, found without prior knowledge.

The driver: it runs the simulations and hands each block to the attractor mapper
(:mod:`simdyn.analysis.attractors.mapping`, steps 1–3 and 7) and the keys to the matcher
(:mod:`simdyn.analysis.attractors.matching`, steps 4–6).

``sd.basins(optimizer, landscape, x0, steps, ...)`` runs every initial point (× every swept
hyperparameter or landscape parameter, × every optimizer) through the fused kernel with the
streaming period detector (:class:`simdyn.observe.Period`), block by block so the working memory
stays bounded, reduces each block to a few integers per trajectory, and identifies the attractors
at the end. Nothing about the landscape's minima is used to find them; its known critical points
only name what was found (and join fixed points found at the same one, step 6).

Algorithm (every threshold is an argument; ``tol`` defaults to ``TOL_FRACTION`` × the extent of
the initial set, the largest max − min of a coordinate over the initial points):

1. Verdict per trajectory at the last step T. Frozen by the engine (``status`` diverged or
   non-finite) → label −1 (``DIVERGED``). No period p ≤ ``max_period`` within the horizon
   (the detector's agreement test ``|u_k − v_k| ≤ tol``, every coordinate) → label −2
   (``UNRESOLVED``). Otherwise the trajectory's last cycle C = (w_{T−p+1}, …, w_T), p ≥ 1. The
   period must have held for ``repeats`` consecutive returns to the detector's anchor (default
   ``BASIN_REPEATS`` = 32, not the detector's 3): a trajectory still creeping towards its
   attractor by less than tol per step (Adam approaching a minimum at a speed of about lr) would
   otherwise pass for a fixed point wherever it happens to be at step T.
2. Phase-invariant signature. The *canonical point* c of C is its point with the smallest
   projection on a fixed generic direction u (u_k = frac((k + 1)·φ), φ the golden ratio); m is the
   mean of C. The signature s = (c, m) ∈ R^{2d} does not depend on the phase at which the
   trajectory reached its cycle (c is a point of the set C, m its mean). For p = 1, c = m = w_T.
3. Keys. Signatures are quantised on cells of side tol/4 (max norm): key (p, ⌊s/(tol/4)⌋). Each
   key counts its trajectories and keeps as its representative the one with the smallest global
   index (so the result does not depend on chunking or on the order in which blocks finish) and
   that trajectory's cycle.
4. Linkage. Keys of the same period whose representative signatures lie within ``tol`` of each
   other (max norm) are linked, and connected components of the links are clusters (single
   linkage, ``scipy.spatial.cKDTree.query_pairs`` + ``scipy.sparse.csgraph``). Two trajectories
   whose signatures differ by at most tol/2 always share a cluster.
5. Merging. A cluster is represented by its most populated key (where converged trajectories
   pile up, not one still creeping towards the attractor; ties: the smallest global index). Two
   clusters are one attractor when the Hausdorff distance (max norm) between their
   representative cycles is at most ``tol``: cycles reached at different phases whose canonical
   points tie, and a p-cycle that stays within tol of a q-cycle (or of a fixed point) — the
   detector's resolution — are one attractor, with the smaller period.
6. Identification. ``attractor_kind`` fixed_point (p = 1) or cycle; ``attractor_location`` the
   canonical point of the representative (among the keys of the smallest period, the most
   populated); ``attractor_cycle`` its whole cycle starting at that point;
   ``attractor_loss`` the mean loss over the cycle; ``attractor_name`` the landscape's known
   critical point nearest to the cycle's mean among those within ``near_tol`` (default
   ``NEAR_FRACTION`` × extent) of the cycle's bounding box: the fixed point *at* a minimum, or
   the cycle *around* it ("" when none). Fixed points named after the same known critical point
   are one attractor (an optimizer's fixed points are isolated critical points: two within
   near_tol of the same one are that point, reached to different precision), described by the
   member closest to it. Attractors are numbered fixed points first, then cycles; within each, in
   the order the landscape lists the critical points they match, then by period and location.
7. Confinement. A trajectory without a period whose last ``max_period`` states span at most
   ``near_tol`` (every coordinate) wanders around an attractor without repeating when the box of
   those states, widened by tol, holds every point of an attractor that periodic trajectories of
   the same optimizer and swept values reach: it belongs to it if it is the only one held, or the
   only one of smallest period held. (Adam near a minimum alternates quiet stretches, where it is
   a fixed point to within tol, with bursts of amplitude about lr/2 once its second-moment
   average has decayed; which of the two a trajectory shows at step T, and whether a burst
   happens to look periodic, is an accident of timing.) ``basin_nonperiodic_fraction`` reports
   that part of each basin. Other trajectories without a period stay −2.

Attractors are points of parameter space, identified across the whole study: two optimizers or
two learning rates that converge to the same minimum share its ``attractor_id``; a cycle that
exists at one learning rate only has a basin fraction of 0 at the others.

Fractions: over the initial points of each combination of the other dims (optimizer, swept
names), ``basin_fraction`` = n_a/N with the binomial standard error √(f(1 − f)/N)
(``basin_fraction_stderr``); ``diverged_fraction`` and ``unresolved_fraction`` complete them to 1.
On a uniform grid these are area fractions.

Peers do this one initial condition at a time (Attractors.jl's ``AttractorsViaRecurrences``
follows each trajectory through a cell grid sequentially; pynamicalsys clusters stored
trajectories afterwards); here the kernel runs millions at once and only O(1) numbers per
trajectory leave a block.
"""

from __future__ import annotations

import math
import sys
import time

import numpy as np
import xarray as xr

from ..analysis.attractors.mapping import DIVERGED, KEY_CELLS, UNRESOLVED, Confined, KeyTable, canonical_direction, map_block
from ..analysis.attractors.matching import KINDS, cluster_keys, merge_known_fixed_points, name_attractor, representatives
from ..analysis.boundaries import boundary_mask
from ..distributed.executor import iterate_tasks, plan_tasks
from ..engine.allocation import launch_bytes
from ..engine.compile import python_function
from ..engine.landscape_check import check_landscape_compiles
from ..initial import as_initial_set, coord_labels
from ..output_size import output_bytes
from ..landscapes import get_landscape
from ..observe.period import MAX_PERIOD, Period
from ..plan import make_plan
from ..provenance import study_attrs

#: Default confirmations: a period must hold for this many consecutive returns to its anchor, so a
#: trajectory still drifting by more than about tol/BASIN_REPEATS per step is not a fixed point.
BASIN_REPEATS = 32
#: Default ``tol``: this fraction of the extent of the initial set.
TOL_FRACTION = 1e-4
#: Default ``near_tol`` (naming and confinement radius): this fraction of the initial set's extent.
NEAR_FRACTION = 1e-2
#: Default working memory of one block (bytes): sets the default ``chunk_size``.
BLOCK_MEMORY = 256 * 2**20


def _param_values(plan, combo: int) -> dict:
    """Landscape parameter values of sweep combination ``combo``."""
    values = {}
    for name, value in plan.param_values.items():
        values[name] = float(plan.sweep.column(name)[combo]) if name in plan.sweep.names else value
    return values


def _default_chunk(plan) -> int:
    """Trajectories per block so that a block takes about BLOCK_MEMORY: what its launch holds
    (:func:`simdyn.engine.allocation.launch_bytes`, the budget ``sd.simulate`` checks: state,
    the detector's history buffer, returned copies) plus the block's dataset
    (:func:`simdyn.output_size.output_bytes` per trajectory: the orbit, cycle center and
    amplitude, w, and the per-trajectory scalars)."""
    sample = [max(1, min(4096, launch.inputs.size)) for launch in plan.launches]
    held = max(launch_bytes(launch.request, launch.inputs, n) / n for launch, n in zip(plan.launches, sample))
    dataset = output_bytes(plan) / max(1, plan.n_trajectories)
    return max(4096, int(BLOCK_MEMORY // (held + dataset)))


def _extent(points: np.ndarray) -> float:
    spread = float(np.max(np.ptp(points, axis=0))) if len(points) > 1 else 0.0
    return spread if spread > 0 else max(1.0, float(np.max(np.abs(points))))


def _check_positive(name: str, value) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def basins(optimizer, landscape, x0, steps, hyper=None, params=None, *, tol=None, near_tol=None,
           max_period: int = MAX_PERIOD, repeats: int = BASIN_REPEATS, dtype="float64", target="cpu",
           diverge_threshold=1e10, chunk_size=None, client=None, progress=None) -> xr.Dataset:
    """Basins of attraction of an optimizer on a landscape: ``sd.basins("adam", "double_well",
    sd.grid(x=(-2, 2, 1000), y=(-2, 2, 1000)), 10_000, hyper={"lr": 0.01})``.

    Attractors (fixed points and cycles) are found automatically from the streaming period
    detector and grouped with a phase-invariant tolerance; the algorithm is in the module
    docstring (:mod:`simdyn.studies.basins`).

    Parameters
    ----------
    optimizer, landscape, x0, steps, hyper, params, dtype, target, diverge_threshold, client
        As :func:`simdyn.simulate` (``x0`` is usually an ``sd.grid``; swept hyperparameters and
        landscape parameters give basin fractions against them).
    tol : float, optional
        Resolution of the attractors: the period detector's agreement tolerance (absolute, every
        coordinate) and the grouping distance (max norm). Default ``TOL_FRACTION`` (1e-4) × the
        extent of the initial set. Orbits that repeat within tol are periodic; attractors closer
        than tol are one.
    near_tol : float, optional
        Size of an attractor's neighbourhood: a known critical point within this distance of an
        attractor's bounding box names it, and a trajectory without a period confined to a box of
        this size around exactly one attractor belongs to it. Default ``NEAR_FRACTION`` (1e-2) ×
        the extent of the initial set.
    max_period, repeats : int
        Longest period looked for and consecutive confirmations needed
        (:class:`simdyn.observe.Period`; ``repeats`` defaults to ``BASIN_REPEATS`` = 32).
    chunk_size : int, optional
        Trajectories per block (default: a block's buffers take about 256 MiB). The labels do
        not depend on it.
    progress : bool, optional
        Progress bar (default: when stderr is a terminal).

    Returns
    -------
    xarray.Dataset with ``attractor`` (int32 label per initial point on the initial set's dims,
    after ``optimizer`` and the swept dims; −1 diverged, −2 unresolved), ``boundary`` (grids:
    True where a neighbouring grid point has another label), and over dim ``attractor_id``:
    ``attractor_kind``, ``attractor_period``, ``attractor_location`` (+ ``coord``),
    ``attractor_cycle`` (+ ``cycle_step``, ``coord``), ``attractor_loss``, ``attractor_name``,
    ``basin_fraction``, ``basin_fraction_stderr`` and ``basin_nonperiodic_fraction`` (+ the swept
    dims); ``diverged_fraction``, ``unresolved_fraction``. Attributes: the study's (as ``sd.simulate``) and ``basins_*``.
    """
    for name, value in (("max_period", max_period), ("repeats", repeats)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    if chunk_size is not None and (isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer))
                                   or chunk_size < 1):
        raise ValueError(f"chunk_size must be None or an integer >= 1, got {chunk_size!r}")
    begin = time.perf_counter()
    # The initial set gives the default tolerances; the plan (built once) then validates the rest.
    dim = get_landscape(landscape, dict(params or {})).dim
    extent = _extent(as_initial_set(x0, dim).points)
    tol = TOL_FRACTION * extent if tol is None else _check_positive("tol", tol)
    near_tol = NEAR_FRACTION * extent if near_tol is None else _check_positive("near_tol", near_tol)
    direction = canonical_direction(dim)
    detector = Period(max_period=int(max_period), atol=tol, rtol=0.0, repeats=int(repeats), orbit=True)
    plan = make_plan(optimizer, landscape, x0, steps, hyper=hyper, params=params, observers=[detector],
                     dtype=dtype, target=target, diverge_threshold=diverge_threshold)
    check_landscape_compiles(plan.landscape, plan.initial.points[0], plan.launches[0].inputs.params[:, 0], plan.dtype)

    lead = (len(plan.launches),) if plan.stacked else ()
    full_shape = lead + plan.sweep.shape + plan.initial.shape
    key_index = np.empty(full_shape, dtype=np.int32)
    table = KeyTable(tol / KEY_CELLS)
    confined = Confined(dim)
    per_run = int(np.prod(plan.sweep.shape + plan.initial.shape, dtype=np.int64))
    tasks = plan_tasks(plan, int(chunk_size) if chunk_size is not None else _default_chunk(plan))
    bar = _progress_bar(plan.n_trajectories, progress)
    try:
        for task, part in iterate_tasks(plan, tasks, client):
            block = task.block
            status = part["status"].values.reshape(-1)
            period = part["period"].values.reshape(-1)
            orbit = part["orbit"].values.reshape(-1, int(max_period), dim)
            center = part["cycle_center"].values.reshape(-1, dim)
            del part
            keys = map_block(table, confined, task.optimizer_index, block.start, task.optimizer_index * per_run + block.start, status, period,
                             orbit, center, direction, near_tol)
            where = ((slice(task.optimizer_index, task.optimizer_index + 1),) if plan.stacked else ()) + block.index
            key_index[where] = keys.reshape(key_index[where].shape)
            if bar is not None:
                bar.update(block.size)
    finally:
        if bar is not None:
            bar.close()
    return _dataset(plan, key_index, table, confined, tol, near_tol, direction, int(max_period), int(repeats),
                    time.perf_counter() - begin)


def _progress_bar(total: int, enabled):
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="traj", unit_scale=True, desc="simdyn basins", leave=False)


def _describe(plan, table: KeyTable, groups: np.ndarray, near_tol: float) -> list[dict]:
    """Kind, period, cycle, location, loss and name of every attractor group, from the group's
    representative: among its keys of the smallest period, the most populated."""
    land = plan.landscape
    loss = python_function(land.loss)
    n_ic = plan.initial.points.shape[0]
    n_groups = int(groups.max()) + 1 if len(groups) else 0
    reps = representatives(table, groups, by_period=True) if n_groups else []
    out = []
    for k in reps:
        launch_index, index = table.owner[k]
        combo = index // n_ic
        cycle = table.cycle[k]
        flat = tuple(float(v) for v in plan.launches[launch_index].inputs.params[:, combo])
        name, rank, known = name_attractor(land, cycle, _param_values(plan, combo), near_tol)
        out.append({
            "known": known,
            "offset": math.inf if known is None else float(np.max(np.abs(cycle[0] - np.asarray(known)))),
            "kind": KINDS[0] if len(cycle) == 1 else KINDS[1],
            "period": len(cycle),
            "cycle": cycle,
            "name": name,
            "rank": rank,
            "loss": float(np.mean([_loss_at(land, loss, point, flat, plan.steps) for point in cycle])),
        })
    return out


def _loss_at(land, loss, point: np.ndarray, flat: tuple, t: int) -> float:
    """The landscape's ``loss`` (its plain Python function) at one point: on a tuple, or on an
    array with the data (and a scratch row) for an array-form landscape."""
    if land.form == "array":
        scratch = (np.zeros(land.scratch),) if land.scratch else ()
        return float(loss(np.asarray(point, dtype=float), flat, land.data_arrays, t, *scratch))
    return float(loss(tuple(float(x) for x in point), flat, t))


def _fractions(labels: np.ndarray, n_groups: int, n_attractors: int):
    """Counts of every label (−2, −1, 0 … A − 1) per group: (G, A + 2)."""
    flat = labels.reshape(n_groups, -1)
    return np.stack([np.bincount(row + 2, minlength=n_attractors + 2) for row in flat]), flat.shape[1]


def _dataset(plan, key_index, table, confined, tol, near_tol, direction, max_period, repeats, elapsed) -> xr.Dataset:
    groups = cluster_keys(table, tol)
    merged, info = merge_known_fixed_points(_describe(plan, table, groups, near_tol))
    groups = merged[groups] if len(groups) else groups
    order = sorted(range(len(info)), key=lambda a: (info[a]["period"] > 1, info[a]["rank"], info[a]["period"],
                                                   tuple(info[a]["cycle"][0])))
    info = [info[a] for a in order]
    number = np.empty(len(order), dtype=np.int32)
    number[order] = np.arange(len(order), dtype=np.int32)
    per_key = number[groups] if len(groups) else np.zeros(0, dtype=np.int32)
    labels = key_index  # relabelled in place: keys -> attractor ids, −1/−2 kept
    resolved = labels >= 0
    labels[resolved] = per_key[labels[resolved]]
    del resolved
    dim = plan.landscape.dim
    n_attr = len(info)
    group_dims = (("optimizer",) if plan.stacked else ()) + tuple(plan.sweep.names)
    ic_dims = plan.initial.dims
    group_shape = labels.shape[: len(group_dims)]
    n_groups = int(np.prod(group_shape, dtype=np.int64))
    present = _fractions(labels, n_groups, n_attr)[0][:, 2:] > 0
    n_points = labels.size // n_groups
    wandering, owner = confined.assign([item["cycle"] for item in info], present, n_points, tol, near_tol)
    labels.reshape(-1)[wandering] = owner

    counts, _ = _fractions(labels, n_groups, n_attr)
    fraction = counts / n_points
    nonperiodic = np.bincount((wandering // n_points) * n_attr + owner, minlength=n_groups * n_attr) / n_points
    longest = max([a["period"] for a in info], default=1)
    cycle = np.full((n_attr, longest, dim), np.nan)
    for a, item in enumerate(info):
        cycle[a, : item["period"]] = item["cycle"]

    coords = {name: values for name, values in zip(plan.sweep.names, plan.sweep.values)}
    if plan.stacked:
        coords["optimizer"] = [launch.optimizer.name for launch in plan.launches]
    coords.update(plan.initial.coords)
    coords.update({"attractor_id": np.arange(n_attr), "coord": coord_labels(dim), "cycle_step": np.arange(longest)})
    stderr = np.sqrt(fraction * (1.0 - fraction) / n_points)
    data = {
        "attractor": (group_dims + ic_dims, labels, {
            "long_name": "attractor reached from the initial point (attractor_id; -1 diverged, -2 unresolved)",
            "unresolved": "no period <= max_period and not confined around exactly one attractor",
            "flag_values": np.array([UNRESOLVED, DIVERGED], dtype=np.int32),
            "flag_meanings": "unresolved diverged"}),
        "attractor_kind": (("attractor_id",), np.array([a["kind"] for a in info], dtype=str).astype(object),
                           {"long_name": "fixed_point or cycle"}),
        "attractor_period": (("attractor_id",), np.array([a["period"] for a in info], dtype=np.int64),
                             {"long_name": "period of the attractor (1: fixed point)"}),
        "attractor_location": (("attractor_id", "coord"), cycle[:, 0, :],
                               {"long_name": "fixed point, or canonical point of the cycle"}),
        "attractor_cycle": (("attractor_id", "cycle_step", "coord"), cycle,
                            {"long_name": "points of the attractor from its canonical point (NaN beyond the period)"}),
        "attractor_loss": (("attractor_id",), np.array([a["loss"] for a in info], dtype=float),
                           {"long_name": "loss at the fixed point, mean loss over the cycle"}),
        "attractor_name": (("attractor_id",), np.array([a["name"] for a in info], dtype=str).astype(object),
                           {"long_name": "known critical point the attractor sits at or around ('' if none)"}),
        "basin_fraction": (group_dims + ("attractor_id",), fraction[:, 2:].reshape(group_shape + (n_attr,)),
                           {"long_name": "fraction of the initial points that reach the attractor"}),
        "basin_fraction_stderr": (group_dims + ("attractor_id",), stderr[:, 2:].reshape(group_shape + (n_attr,)),
                                  {"long_name": "binomial standard error sqrt(f (1 - f) / N)"}),
        "basin_nonperiodic_fraction": (group_dims + ("attractor_id",), nonperiodic.reshape(group_shape + (n_attr,)),
                                       {"long_name": "part of basin_fraction without a period at the last step, "
                                                     "wandering within near_tol around the attractor"}),
        "diverged_fraction": (group_dims, fraction[:, 1].reshape(group_shape),
                              {"long_name": "fraction of the initial points whose trajectory diverged"}),
        "unresolved_fraction": (group_dims, fraction[:, 0].reshape(group_shape),
                                {"long_name": "fraction without a period <= max_period, not confined around "
                                              "one attractor"}),
    }
    if plan.initial.description == "grid":
        axes = tuple(range(len(group_dims), labels.ndim))
        data["boundary"] = (group_dims + ic_dims, boundary_mask(labels, axes),
                            {"long_name": "a neighbouring grid point has another label"})
    else:
        points = plan.initial.points.reshape(plan.initial.shape + (dim,))
        data["w0"] = (ic_dims + ("coord",), points, {"long_name": "initial point w_0"})
    ds = xr.Dataset(data, coords=coords)
    ds.attrs.update(study_attrs(plan))
    ds.attrs.update({
        "basins_tol": tol,
        "basins_near_tol": near_tol,
        "basins_max_period": max_period,
        "basins_repeats": repeats,
        "basins_direction": direction,
        "basins_points_per_group": n_points,
        "elapsed_seconds": float(elapsed),
    })
    ds.attrs["history"] = ds.attrs["history"].replace("simulate(", "basins(", 1)
    return ds
