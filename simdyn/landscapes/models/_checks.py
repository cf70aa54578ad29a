"""Input checks shared by the model factories: clear errors naming the argument."""

from __future__ import annotations

import numpy as np


def matrix(name: str, value, model: str) -> np.ndarray:
    """``value`` as a finite float64 matrix (m, k) with m, k ≥ 1."""
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{model}: {name} must be an array of numbers") from None
    if arr.ndim != 2 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"{model}: {name} must be a non-empty 2-D array (examples, features), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{model}: {name} must be finite")
    return arr


def targets(name: str, value, m: int, model: str, ndim: tuple = (1, 2)) -> np.ndarray:
    """``value`` as finite float64 targets with m rows (1-D, or 2-D (m, out) where allowed)."""
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{model}: {name} must be an array of numbers") from None
    if arr.ndim not in ndim or arr.size == 0:
        shapes = " or ".join({1: "(m,)", 2: "(m, out)"}[k] for k in ndim)
        raise ValueError(f"{model}: {name} must have shape {shapes}, got shape {arr.shape}")
    if arr.shape[0] != m:
        raise ValueError(f"{model}: X and {name} must have the same number of examples, got {m} and {arr.shape[0]}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{model}: {name} must be finite")
    return arr


def positive_int(name: str, value, model: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{model}: {name} must be an integer >= 1, got {value!r}")
    return int(value)
