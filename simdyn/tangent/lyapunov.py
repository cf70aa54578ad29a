"""Lyapunov exponents of optimizer trajectories (Benettin's method), over whole batches.

For the state z_t = (w_t, s_t) and the step map F_t (:mod:`simdyn.tangent.stepmap`), the
Lyapunov exponents are the growth rates of tangent vectors along the trajectory,

    λ_i = lim_{T→∞} (1/T) Σ_{t=1}^{T} ln r_ii(t),

where Q_t R_t = J_t(z_{t−1}) Q_{t−1} is the QR factorisation (modified Gram–Schmidt) of the
propagated orthonormal frame (Benettin, Galgani, Giorgilli & Strelcyn, Meccanica 15, 1980;
Parker & Chua 1989, §5.3). With ``spectrum=False`` one vector is carried and λ₁, the largest,
is its mean log-stretch (it starts along (1, …, 1)/√n, the spectrum's frame at the identity).
The frame is renormalised every step; the first ``transient`` steps are
run but not averaged, and the frame restarts after them. Exponents are in
natural log per step. A singular step Jacobian collapses a frame vector (ln 0 = −∞): momentum's
first step b₁ = g₁ discards the buffer, so its spectrum needs ``transient`` ≥ 1. The map may
depend on t (bias correction, the online ``reddi`` loss): the exponent is then the limit along
the trajectory, and the map is evaluated at the true steps t = 1 … steps.

Each tangent vector costs one JVP of the step per step (the state itself is advanced with it),
so ``spectrum=True`` on a state of dimension n costs n times ``spectrum=False`` plus the
O(n²) Gram–Schmidt. The loops are compiled with ``numba.njit(parallel=True)``
(:mod:`simdyn.tangent.drivers`): the largest exponent alone on tiles of trajectories (as the
engine's CPU kernel), the spectrum one trajectory per ``prange`` iteration; on the CPU only.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..initial import coord_labels
from ..dataset import batch_coords, batch_dims, batch_shape
from ..plan import make_plan
from .drivers import driver
from .stepmap import step_map

#: The largest state dimension ``spectrum=True`` accepts.
MAX_SPECTRUM = 32


#: Trajectories per tile of the one-vector driver (its state, 2n numbers each, stays in cache).
TILE = 1024


def _tiles(n: int) -> np.ndarray:
    starts = np.arange(0, n, TILE, dtype=np.int64)
    return np.ascontiguousarray(np.stack([starts, np.minimum(starts + TILE, n)], axis=1))


def lyapunov(optimizer, landscape, x0, steps: int, hyper=None, params=None, transient: int = 0,
             spectrum: bool = False) -> xr.Dataset:
    """Largest Lyapunov exponent (or the spectrum) of every trajectory of a batch.

    ``sd.lyapunov(optimizer, landscape, x0, steps, hyper=None, params=None, transient=0,
    spectrum=False)``: arguments as :func:`simdyn.simulate` (arrays in ``hyper``/``params``
    become dims; one optimizer, a constant learning rate, no noise). Returns a Dataset with
    ``lyapunov`` (λ₁ in natural log per step), ``w`` (the final point) and, with ``spectrum``,
    ``lyapunov_spectrum`` (dim ``exponent``, descending; state dimension at most 32).
    Method and cost: module docstring. A trajectory that overflows gets NaN.
    """
    if isinstance(transient, bool) or not isinstance(transient, (int, np.integer)) or transient < 0:
        raise ValueError(f"transient must be an integer >= 0, got {transient!r}")
    if isinstance(steps, (int, np.integer)) and not isinstance(steps, bool) and transient >= steps:
        raise ValueError(f"transient must be smaller than steps ({steps}), got {transient}")
    if isinstance(optimizer, (list, tuple)):
        raise ValueError("optimizer: lyapunov takes one optimizer; call it once per optimizer")
    plan = make_plan(optimizer, landscape, x0, steps, hyper=hyper, params=params)
    (launch,) = plan.launches
    if launch.schedule.kind != "constant":
        raise ValueError("hyper: lyapunov supports a constant learning rate only")
    smap = step_map(launch.optimizer, plan.landscape, {k: bool(launch.hyper_used[k]) for k in launch.optimizer.flags})
    n = smap.width
    if spectrum and n > MAX_SPECTRUM:
        raise ValueError(f"spectrum: the state dimension d*(1 + slots) = {n} exceeds {MAX_SPECTRUM}; "
                         "use spectrum=False for the largest exponent")
    inputs = launch.inputs
    n_ic = plan.initial.points.shape[0]
    combo = np.repeat(np.arange(plan.sweep.size), n_ic)
    ic = np.tile(np.arange(n_ic), plan.sweep.size)
    d = plan.landscape.dim
    z = np.empty((combo.size, n))
    z[:, :d] = plan.initial.points[ic]
    for i in range(len(launch.optimizer.slots)):
        z[:, d * (1 + i):d * (2 + i)] = inputs.init_state[i, combo][:, None]
    lr = np.ascontiguousarray(inputs.schedule[0, combo])
    h = np.ascontiguousarray(inputs.hypers[:, combo].T)
    p = np.ascontiguousarray(inputs.params[:, combo].T)
    k = n if spectrum else 1
    if spectrum:
        exponents = np.empty((combo.size, k))
        final = np.empty_like(z)
        driver(smap, "benettin")(z, 0, int(steps), int(transient), lr, h, p, k, exponents, final)
    else:
        state = np.ascontiguousarray(z.T)
        exponents = np.empty((combo.size, 1))
        driver(smap, "largest")(state, 0, int(steps), int(transient), lr, h, p, _tiles(combo.size), exponents[:, 0])
        final = state.T
    exponents[~np.all(np.isfinite(final), axis=1)] = np.nan
    exponents = -np.sort(-exponents, axis=1)
    shape, dims = batch_shape(plan), batch_dims(plan)
    coords = batch_coords(plan)
    data = {
        "lyapunov": (dims, exponents[:, 0].reshape(shape),
                     {"long_name": "largest Lyapunov exponent (natural log per step)", "units": "1/step"}),
        "w": (dims + ("coord",), final[:, :d].reshape(shape + (d,)), {"long_name": "final point w_T"}),
    }
    if spectrum:
        data["lyapunov_spectrum"] = (dims + ("exponent",), exponents.reshape(shape + (k,)),
                                     {"long_name": "Lyapunov exponents, descending (natural log per step)"})
    out = xr.Dataset(data, coords=coords)
    out.attrs.update(optimizer=launch.optimizer.name, landscape=plan.landscape.name, steps=int(steps),
                     transient=int(transient), method="Benettin (modified Gram-Schmidt every step)",
                     coord_labels=", ".join(coord_labels(d)))
    return out
