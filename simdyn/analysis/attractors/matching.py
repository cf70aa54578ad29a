"""Attractor matching: which keys are one attractor, and what each attractor is.

Steps 4–6 of the basins algorithm (:mod:`simdyn.studies.basins`), as Attractors.jl keeps its
``matching/`` apart from the mapping: single linkage of the keys' signatures per period, merging
of clusters whose representative cycles lie within tol of each other (Hausdorff distance, max
norm), naming after the landscape's known critical points, and fixed points named after the
same critical point joined into one attractor.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph
from scipy.spatial import cKDTree

from .mapping import KeyTable

#: Value types of the attractor kinds.
KINDS = ("fixed_point", "cycle")


def _components(n: int, pairs: np.ndarray) -> np.ndarray:
    """Connected-component label of each of n nodes linked by ``pairs`` (m, 2)."""
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    graph = sparse.coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n)) if len(pairs) \
        else sparse.coo_matrix((n, n))
    return csgraph.connected_components(graph, directed=False)[1]


def _hausdorff(a: np.ndarray, b: np.ndarray) -> float:
    """Hausdorff distance between two point sets (rows), max norm."""
    dist = np.max(np.abs(a[:, None, :] - b[None, :, :]), axis=2)
    return float(max(dist.min(axis=1).max(), dist.min(axis=0).max()))


def representatives(table: KeyTable, group: np.ndarray, by_period: bool = False) -> np.ndarray:
    """Per group 0 … G − 1, its most populated key (the cell where converged trajectories pile up,
    not one still creeping towards it), ties broken by the smallest owner; with ``by_period``,
    among the keys of the group's smallest period."""
    owner = np.asarray(table.owner, dtype=np.int64).reshape(-1, 2)
    count = -np.asarray(table.count, dtype=np.int64)
    period = np.asarray(table.period, dtype=np.int64) if by_period else np.zeros(len(count), dtype=np.int64)
    order = np.lexsort((owner[:, 1], owner[:, 0], count, period))
    _, first = np.unique(group[order], return_index=True)
    return order[first]


def cluster_keys(table: KeyTable, tol: float) -> np.ndarray:
    """Attractor group of every key: single linkage of the signatures per period (max norm,
    distance ≤ tol), then clusters merged when their representative cycles are within ``tol``
    (Hausdorff, max norm). Returns (n_keys,) group numbers 0 … n_groups − 1 (arbitrary order)."""
    n = len(table)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    period = np.asarray(table.period, dtype=np.int64)
    signature = np.stack(table.signature)
    cluster = np.empty(n, dtype=np.int64)
    n_clusters = 0
    for p in np.unique(period):
        members = np.flatnonzero(period == p)
        pairs = cKDTree(signature[members]).query_pairs(tol, p=np.inf, output_type="ndarray")
        labels = _components(len(members), pairs)
        cluster[members] = labels + n_clusters
        n_clusters += int(labels.max()) + 1
    reps = representatives(table, cluster)
    cycles = [table.cycle[k] for k in reps]
    tree = cKDTree(np.concatenate(cycles))
    point_owner = np.repeat(np.arange(n_clusters), [len(cycle) for cycle in cycles])
    links = []
    for c, cycle in enumerate(cycles):
        near = np.unique(point_owner[tree.query_ball_point(cycle[0], tol, p=np.inf)])
        links.extend((c, int(other)) for other in near if other > c and _hausdorff(cycle, cycles[other]) <= tol)
    merged = _components(n_clusters, np.asarray(links, dtype=np.int64).reshape(-1, 2))
    return merged[cluster]


def name_attractor(land, cycle: np.ndarray, params: dict, near_tol: float):
    """(name, rank in the landscape's list, location) of the known critical point nearest to the
    cycle's mean among those within ``near_tol`` of its bounding box; ("", len + 1, None) if none."""
    points = land.critical_points(params)
    low, high = cycle.min(axis=0) - near_tol, cycle.max(axis=0) + near_tol
    center = cycle.mean(axis=0)
    best = ("", len(points) + 1, None, math.inf)
    for rank, cp in enumerate(points):
        loc = np.asarray(cp.location)
        if np.all(loc >= low) and np.all(loc <= high):
            distance = float(np.max(np.abs(loc - center)))
            if distance < best[3]:
                best = (cp.name or cp.kind, rank, cp.location, distance)
    return best[:3]


def merge_known_fixed_points(info: list[dict]) -> tuple[np.ndarray, list[dict]]:
    """Fixed points matched to the same known critical point are one attractor: an optimizer's
    fixed points are isolated critical points, so two of them within near_tol of the same known
    one are that point, reached to different precisions (a trajectory still creeping towards it).
    Returns the attractor of every group and the attractors' descriptions (the member closest to
    the known point describes the merged attractor)."""
    attractor = np.arange(len(info))
    chosen: dict = {}
    for g, item in enumerate(info):
        if item["kind"] != KINDS[0] or item["known"] is None:
            continue
        key = (item["name"], item["known"])
        if key not in chosen:
            chosen[key] = g
        else:
            first = chosen[key]
            attractor[g] = first
            if item["offset"] < info[first]["offset"]:
                info[first] = {**item}
    keep = np.unique(attractor)
    renumber = np.full(len(info), -1)
    renumber[keep] = np.arange(len(keep))
    return renumber[attractor], [info[g] for g in keep]
