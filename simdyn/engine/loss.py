"""The loss at the final points of a batch, evaluated by a compiled loop over the trajectories.

Runs on the engine's side, next to the kernel that produced the points, so that the Dataset
layer receives numbers and calls no kernel.
"""

from __future__ import annotations

import numpy as np

from .kernels import get_loss_kernel


def final_loss(landscape, inputs, w: np.ndarray, start: int, dtype: str) -> np.ndarray:
    """L(w_T^g; p_c, T) for the trajectories ``start ≤ g < start + N`` of a batch.

    ``inputs``: the batch's :class:`~simdyn.engine.run.BatchInputs`; ``w``: (d, N) final points.
    Trajectory g = c·n_ic + i takes the landscape parameters of its combination c (column c of
    ``inputs.params``) and the step t = T (``inputs.steps``), as the online landscapes need it.
    Returns (N,) in the dtype of ``w``.
    """
    n_ic = inputs.x0.shape[0]
    first, last = start // n_ic, (start + w.shape[1] - 1) // n_ic + 1
    kernel = get_loss_kernel(landscape, landscape.dim, inputs.params.shape[0], dtype)
    out = np.empty(w.shape[1], dtype=w.dtype)
    params = np.ascontiguousarray(inputs.params[:, first:last], dtype=w.dtype)
    if getattr(landscape, "form", "tuple") == "array":  # rows of d coordinates, then the data arrays
        data = tuple(np.ascontiguousarray(a, dtype=w.dtype) for a in landscape.data_arrays)
        kernel(np.ascontiguousarray(w.T), params, n_ic, start, inputs.steps, out, landscape.scratch, *data)
    else:
        kernel(np.ascontiguousarray(w), params, n_ic, start, inputs.steps, out)
    return out
