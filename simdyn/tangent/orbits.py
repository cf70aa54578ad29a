"""Periodic orbits of the step map: Newton refinement, Floquet multipliers, continuation.

A p-cycle of the step map F (:mod:`simdyn.tangent.stepmap`) is a zero of G(z) = Fᵖ(z) − z.
Newton's method iterates

    z ← z − (DFᵖ(z) − I)⁺ (Fᵖ(z) − z),      DFᵖ(z) = J(z_{p−1}) ⋯ J(z_1) J(z_0),

with the Jacobians built column by column from the forward-mode JVP of the step (no finite
differences) and ⁺ the pseudo-inverse (a least-squares step where DFᵖ − I is singular). The
eigenvalues μ of the monodromy matrix DFᵖ at the converged cycle are its Floquet multipliers
(Parker & Chua, *Practical Numerical Algorithms for Chaotic Systems*, 1989, §6.1): the cycle
attracts when every |μ| < 1 (``orbit_stable``). Converged means
max|Fᵖ(z) − z| ≤ ``tol``·max|z| (relative to the state's own scale: Adam's cycles on small
curvatures have |x| ~ 10⁻⁴ and v ~ 10⁻⁷), or exactly 0.

Time dependence. The step map of an optimizer with bias correction (Adam, NAdam, RAdam …)
depends on t, so strictly it has no periodic orbits. The map used here is its **t → ∞ form**: it is
evaluated at the fixed step ``t = T_INFINITY`` = 2⁴⁰, where every βᵗ has underflowed to 0, so the
bias corrections are exactly 1 (the ``bias_correction=False`` map, Eq. 5 of "Exploring the
dynamics of Adam"), NAdam's μ_t is its limit and momentum's first-step branch is not taken.
Pass ``t=`` to freeze the map at another step instead. Learning-rate schedules other than a
constant are refused (the cycle of a map that keeps changing is not defined).
"""

from __future__ import annotations

import json

import numpy as np
import xarray as xr

from ..landscapes import LANDSCAPES, get_landscape
from ..optimizers import get_optimizer
from .drivers import driver
from .stepmap import T_INFINITY, step_map

#: Default relative tolerance of the Newton residual max|Fᵖ(z) − z| / max|z|.
NEWTON_TOL = 1e-12
#: Default largest number of Newton iterations.
MAX_NEWTON = 30


def newton_orbits(smap, z, period, lr, h, p, t: int = T_INFINITY, tol: float = NEWTON_TOL,
                  max_iter: int = MAX_NEWTON):
    """Batched Newton on Fᵖ(z) − z = 0 for the rows of ``z`` (N, width) with periods ``period``
    (N,), learning rates ``lr`` (N,), hyperparameters ``h`` (N, n_hyper), landscape parameters
    ``p`` (N, n_params). Rows with period < 1 or a non-finite seed are skipped (NaN).

    Returns ``(z, residual, monodromy)``: the refined states, max|Fᵖ(z) − z| and DFᵖ(z) (N, n, n).
    """
    z = np.array(z, dtype=np.float64)
    n_rows, n = z.shape
    period = np.asarray(period, dtype=np.int64)
    lr, h, p = (np.ascontiguousarray(a, dtype=np.float64) for a in (lr, h, p))
    valid = (period >= 1) & np.all(np.isfinite(z), axis=1)
    z[~valid] = np.nan
    orbit = driver(smap, "orbit_map")
    zp = np.empty_like(z)
    jac = np.empty((n_rows, n, n))
    eye = np.eye(n)
    todo = np.flatnonzero(valid)
    residual = np.full(n_rows, np.nan)
    for _ in range(max_iter + 1):
        if todo.size == 0:
            break
        sub = np.ascontiguousarray(z[todo])
        zp_sub, jac_sub = np.empty_like(sub), np.empty((todo.size, n, n))
        orbit(sub, np.ascontiguousarray(period[todo]), t, lr[todo], h[todo], p[todo], zp_sub, jac_sub)
        zp[todo], jac[todo] = zp_sub, jac_sub
        gap = zp_sub - sub
        residual[todo] = np.max(np.abs(gap), axis=1)
        done = converged(residual[todo], sub, tol) | ~np.isfinite(residual[todo])
        todo, gap, jac_sub, sub = todo[~done], gap[~done], jac_sub[~done], sub[~done]
        if todo.size == 0:
            break
        delta = -np.einsum("nij,nj->ni", np.linalg.pinv(jac_sub - eye), gap)
        z[todo] = sub + delta
    if todo.size:  # the last Newton step was taken: evaluate the map once more at its result
        sub = np.ascontiguousarray(z[todo])
        zp_sub, jac_sub = np.empty_like(sub), np.empty((todo.size, n, n))
        orbit(sub, np.ascontiguousarray(period[todo]), t, lr[todo], h[todo], p[todo], zp_sub, jac_sub)
        jac[todo] = jac_sub
        residual[todo] = np.max(np.abs(zp_sub - sub), axis=1)
    jac[~valid] = np.nan
    return z, residual, jac


def converged(residual, z, tol: float = NEWTON_TOL) -> np.ndarray:
    """Whether each row's Newton residual is within ``tol``·max|z| (or exactly 0)."""
    scale = np.max(np.abs(np.asarray(z, dtype=float)), axis=-1)
    residual = np.asarray(residual, dtype=float)
    return (residual <= tol * scale) | (residual == 0.0)


def floquet_moduli(monodromy: np.ndarray) -> np.ndarray:
    """|μ| of the eigenvalues of each monodromy matrix (N, n, n), descending; NaN rows stay NaN."""
    out = np.full(monodromy.shape[:2], np.nan)
    ok = np.all(np.isfinite(monodromy), axis=(1, 2))
    if ok.any():
        out[ok] = -np.sort(-np.abs(np.linalg.eigvals(monodromy[ok])), axis=1)
    return out


# -- from a simulated dataset ------------------------------------------------------------------

def _call(ds: xr.Dataset) -> dict:
    if "simdyn_call" not in ds.attrs:
        raise ValueError("ds: no 'simdyn_call' attribute; refine_orbits needs a dataset made by sd.simulate")
    return json.loads(ds.attrs["simdyn_call"])


def _per_trajectory(ds: xr.Dataset, template: xr.DataArray, name: str, fallback) -> np.ndarray:
    """The value of ``name`` for every trajectory of ``template``: its coordinate when swept (or
    selected), else ``fallback``."""
    if name in ds.coords:
        return np.asarray(xr.broadcast(ds[name], template)[0].transpose(*template.dims).values, dtype=float).ravel()
    return np.full(template.size, float(fallback))


def _tables(ds: xr.Dataset, smap, call: dict, template: xr.DataArray):
    opt, land = smap.optimizer, smap.landscape
    used = call["hyper"][opt.name]
    schedule = used["lr_schedule"]
    if schedule["kind"] != "constant":
        raise ValueError(f"ds: the run used the learning-rate schedule {schedule['kind']!r}; orbits are refined "
                         "for a constant learning rate only")
    lr = _per_trajectory(ds, template, "lr", np.ravel(schedule["lr"])[0])
    h = np.stack([_per_trajectory(ds, template, k, np.ravel(used[k])[0]) for k in opt.float_hypers], axis=1) \
        if opt.float_hypers else np.zeros((template.size, 0))
    columns = []
    for key, default in land.params.items():
        value = call["params"].get(key, default)
        if key in ds.coords:
            columns.append(_per_trajectory(ds, template, key, 0.0)[:, None])
        else:
            flat = np.ravel(np.asarray(value, dtype=float))
            columns.append(np.broadcast_to(flat, (template.size, flat.size)))
    p = np.concatenate(columns, axis=1) if columns else np.zeros((template.size, 0))
    return lr, h, p


def refine_orbits(ds: xr.Dataset, landscape=None, t: int | None = None, tol: float = NEWTON_TOL,
                  max_iter: int = MAX_NEWTON) -> xr.Dataset:
    """Refine the cycles that ``Period(on="state", orbit=True)`` found, and their stability.

    ``sd.refine_orbits(ds, landscape=None)``: for every trajectory with a period p ≥ 1, Newton on
    Fᵖ(z) − z = 0 (module docstring) seeded with its last full state (``orbit_state`` at step T).
    ``landscape=`` is required when the run used a user landscape (a registered one is rebuilt
    from the dataset's attributes). ``t`` freezes the map at that step (default: the t → ∞ form).

    Returns ``ds`` with the variables ``orbit_point`` (dims …, ``state``: the refined state, the
    phase nearest the seed), ``orbit_residual`` (max|Fᵖ(z) − z| after Newton), ``orbit_converged``,
    ``floquet_modulus`` (dims …, ``multiplier``: |μ| descending) and ``orbit_stable`` (converged
    and every |μ| < 1). Trajectories without a period get NaN and False.
    """
    if "orbit_state" not in ds:
        raise ValueError("ds: no 'orbit_state'; run with sd.observe.Period(on='state', orbit=True)")
    if "optimizer" in ds.dims:
        raise ValueError("ds: several optimizers; select one first, e.g. ds.sel(optimizer='adam')")
    if t is not None and (isinstance(t, bool) or not isinstance(t, (int, np.integer)) or t < 1):
        raise ValueError(f"t must be None (the t -> infinity form) or an integer step >= 1, got {t!r}")
    call = _call(ds)
    name = ds.attrs.get("landscape", call.get("landscape"))
    if landscape is None:
        if name not in LANDSCAPES:
            raise ValueError(f"landscape: the run used the user landscape {name!r}; pass it as landscape=")
        params = {k: np.asarray(v) if isinstance(v, list) else v for k, v in call["params"].items()}
        landscape = get_landscape(name, {k: v for k, v in params.items() if np.ndim(v) > 0} or None)
    opt = get_optimizer(call["optimizer"])
    flags = {k: bool(call["hyper"][opt.name][k]) for k in opt.flags}
    smap = step_map(opt, landscape, flags)
    template = ds["period"]
    seeds = ds["orbit_state"].isel(orbit_step=-1).transpose(*template.dims, "state")
    if seeds.sizes["state"] != smap.width:
        raise ValueError(f"ds: orbit_state has {seeds.sizes['state']} components, the step map of {opt.name} on "
                         f"{smap.landscape.name} has {smap.width}")
    lr, h, p = _tables(ds, smap, call, template)
    period = np.asarray(template.values, dtype=np.int64).ravel()
    z, residual, mono = newton_orbits(smap, seeds.values.reshape(-1, smap.width), period, lr, h, p,
                                      T_INFINITY if t is None else int(t), tol, max_iter)
    moduli = floquet_moduli(mono)
    done = converged(residual, z, tol)
    stable = done & (moduli[:, 0] < 1.0)
    shape, dims = template.shape, template.dims
    out = ds.assign_coords(state=list(smap.labels))
    out["orbit_point"] = (dims + ("state",), z.reshape(shape + (smap.width,)),
                          {"long_name": "refined periodic state z = (w, slots), a zero of F^p(z) - z"})
    out["orbit_residual"] = (dims, residual.reshape(shape), {"long_name": "max |F^p(z) - z| after Newton"})
    out["orbit_converged"] = (dims, done.reshape(shape), {"long_name": "Newton residual within tol"})
    out["floquet_modulus"] = (dims + ("multiplier",), moduli.reshape(shape + (smap.width,)),
                              {"long_name": "moduli of the Floquet multipliers (eigenvalues of DF^p), descending"})
    out["orbit_stable"] = (dims, stable.reshape(shape), {"long_name": "converged and every |multiplier| < 1"})
    out.attrs["refine_orbits"] = json.dumps({"t": "infinity" if t is None else int(t), "tol": tol,
                                             "max_iter": max_iter})
    return out


# -- continuation --------------------------------------------------------------------------------

def _parameter_setter(smap, parameter: str, hyper: dict, params: dict):
    """A function value -> (lr, h, p) with ``parameter`` set to value."""
    opt, land = smap.optimizer, smap.landscape
    if parameter in opt.hypers:
        def setter(value):
            lr, h = smap.hyper_tuple({**hyper, parameter: value})
            return lr, h, land.flat_params(params)
    elif parameter in land.params:
        def setter(value):
            lr, h = smap.hyper_tuple(hyper)
            return lr, h, land.flat_params({**params, parameter: value})
    else:
        raise ValueError(f"parameter: {parameter!r} is neither a hyperparameter of {opt.name} "
                         f"({list(opt.hypers)}) nor a parameter of {land.name} ({list(land.params)})")
    return setter


def continue_orbit(optimizer, landscape, z0, period: int, parameter: str, values, hyper: dict | None = None,
                   params: dict | None = None, flags: dict | None = None, t: int | None = None,
                   tol: float = NEWTON_TOL, max_iter: int = MAX_NEWTON) -> xr.Dataset:
    """Follow a p-cycle through a sequence of values of one hyperparameter or landscape parameter.

    Natural-parameter continuation (Allgower & Georg, *Introduction to Numerical Continuation
    Methods*, 2003, §2): at each value in ``values`` (in the given order), Newton on
    Fᵖ(z) − z = 0 (module docstring) from a secant predictor through the last two converged
    points (the previous point at the second value, ``z0`` at the first). Newton converges on
    either side of a period-doubling (μ = −1) or Neimark–Sacker (|μ| = 1, complex) bifurcation,
    so the branch is followed through its loss of stability; it stops being tracked at a fold
    (μ = +1), where DFᵖ − I is singular.

    Returns a Dataset on dim ``parameter``: ``orbit_point`` (``state``), ``orbit_points`` (the p
    phases, dims ``phase``, ``state``), ``orbit_residual``, ``orbit_converged``,
    ``floquet_modulus`` (``multiplier``, descending), ``orbit_stable``, and the attribute
    ``stability_changes``: the values where the largest |μ| crosses 1 (linear interpolation
    between consecutive converged points).
    """
    values = np.asarray(values, dtype=float)
    if values.ndim != 1 or values.size < 1 or not np.all(np.isfinite(values)):
        raise ValueError("values: expected a non-empty 1-D sequence of finite numbers")
    if isinstance(period, bool) or not isinstance(period, (int, np.integer)) or period < 1:
        raise ValueError(f"period must be an integer >= 1, got {period!r}")
    land = get_landscape(landscape) if isinstance(landscape, str) else landscape
    smap = step_map(optimizer, land, flags)
    z0 = np.asarray(z0, dtype=float).ravel()
    if z0.size != smap.width:
        raise ValueError(f"z0: expected {smap.width} components {smap.labels}, got {z0.size}")
    setter = _parameter_setter(smap, parameter, dict(hyper or {}), dict(params or {}))
    step_t = T_INFINITY if t is None else int(t)
    n = smap.width
    points = np.full((values.size, n), np.nan)
    phases = np.full((values.size, int(period), n), np.nan)
    residual = np.full(values.size, np.nan)
    moduli = np.full((values.size, n), np.nan)
    history: list[tuple[float, np.ndarray]] = []
    for i, value in enumerate(values):
        if len(history) >= 2:
            (v1, z1), (v2, z2) = history[-2], history[-1]
            guess = z2 + (z2 - z1) * ((value - v2) / (v2 - v1) if v2 != v1 else 0.0)
        elif history:
            guess = history[-1][1]
        else:
            guess = z0
        lr, h, p = setter(value)
        z, res, mono = newton_orbits(smap, guess[None, :], [period], [lr], [h], [p], step_t, tol, max_iter)
        points[i], residual[i] = z[0], res[0]
        moduli[i] = floquet_moduli(mono)[0]
        if converged(res[0], z[0], tol):
            history.append((value, z[0]))
            zk = tuple(z[0])
            for k in range(int(period)):
                phases[i, k] = zk
                zk = smap.step_py(zk, step_t, lr, h, p)
    done = converged(residual, points, tol)
    stable = done & (moduli[:, 0] < 1.0)
    coords = {parameter: values, "state": list(smap.labels)}
    out = xr.Dataset(
        {
            "orbit_point": ((parameter, "state"), points, {"long_name": "periodic state z = (w, slots)"}),
            "orbit_points": ((parameter, "phase", "state"), phases, {"long_name": "the p states of the cycle"}),
            "orbit_residual": ((parameter,), residual, {"long_name": "max |F^p(z) - z| after Newton"}),
            "orbit_converged": ((parameter,), done),
            "floquet_modulus": ((parameter, "multiplier"), moduli,
                                {"long_name": "moduli of the Floquet multipliers, descending"}),
            "orbit_stable": ((parameter,), stable),
        },
        coords=coords,
    )
    out.attrs.update(optimizer=smap.optimizer.name, landscape=smap.landscape.name, period=int(period),
                     parameter=parameter, t="infinity" if t is None else int(t),
                     stability_changes=stability_changes(values, moduli[:, 0], done))
    return out


def stability_changes(values, largest_modulus, converged=None) -> np.ndarray:
    """Values where ``largest_modulus`` − 1 changes sign between consecutive converged points,
    by linear interpolation."""
    values = np.asarray(values, dtype=float)
    excess = np.asarray(largest_modulus, dtype=float) - 1.0
    ok = np.isfinite(excess) if converged is None else (np.asarray(converged) & np.isfinite(excess))
    v, e = values[ok], excess[ok]
    out = []
    for i in range(len(v) - 1):
        if (e[i] < 0) != (e[i + 1] < 0):
            out.append(v[i] - e[i] * (v[i + 1] - v[i]) / (e[i + 1] - e[i]))
    return np.asarray(out, dtype=float)
