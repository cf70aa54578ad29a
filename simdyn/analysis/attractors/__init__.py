"""Attractors of many trajectories at once: mapping (trajectory → key) and matching (keys →
attractors), the two halves of :func:`simdyn.basins`."""

from .mapping import DIVERGED, UNRESOLVED, Confined, KeyTable, aligned_cycles, canonical_direction, map_block
from .matching import KINDS, cluster_keys, merge_known_fixed_points, name_attractor

__all__ = ["DIVERGED", "KINDS", "UNRESOLVED", "Confined", "KeyTable", "aligned_cycles", "canonical_direction",
           "cluster_keys", "map_block", "merge_known_fixed_points", "name_attractor"]
