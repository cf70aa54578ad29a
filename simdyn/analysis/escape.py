"""Escape-time (and hitting-time) statistics over many trajectories, with censoring.

Input: a dataset from ``sd.simulate(..., observers=[sd.observe.Exit(...)])`` (variable
``exit_step``; ``hit_step`` from ``sd.observe.Hitting`` works the same way). The initial-set
dims (``traj``, or a grid's ``x0``, ``y0``, …: the dims of ``w0``) are reduced; every other dim
(``optimizer``, swept hyperparameters and landscape parameters) is kept, so each optimizer and
hyperparameter value gets its own statistics.

Definitions, per group of N trajectories with first-passage step τ_i (``exit_step``):

* Censoring. A trajectory that never exits within the horizon T (τ = −1) is right-censored at
  T: it is known to survive T steps. One frozen by the engine (diverged / non-finite, its
  ``stop_step`` s > 0) before exiting is censored at s − 1, the last step it took.
* Survival S(t) = P(τ > t): the Kaplan–Meier product-limit estimator
  S(t) = Π_{u ≤ t} (1 − e_u / n_u), e_u exits at step u, n_u trajectories at risk at u (not
  exited and not censored before u). Without censoring before T it is the empirical fraction
  #(τ_i > t)/N.
* Quantile q_p: the smallest t with S(t) ≤ 1 − p (NaN if S stays above 1 − p up to T: more
  than a fraction 1 − p is censored). ``median_exit`` = q_0.5.
* Escape rate λ: the tail's constant hazard by maximum likelihood, λ = −log(1 − ĥ) with
  ĥ = Σ e_t / Σ n_t pooled over the steps t where S(t − 1) ≤ ``tail_survival`` (default 0.1)
  and at least ``min_at_risk`` (default 100) trajectories are still at risk; exponential escape
  S(t) ∝ e^{−λt} gives λ. For gradient descent near a saddle with unstable eigenvalue μ from a
  uniform ball, λ = log(1 + η·μ).
* Distance scaling: least squares t_exit ≈ a + b·log(1/δ) over the exited trajectories, with
  δ = ‖w0 − center‖₂ the initial distance from the saddle (``center``: the argument, else the
  Exit observer's centre recorded in the dataset attributes). For gradient descent from
  (δ, 0) on ½(−x² + y²), b = 1/log(1 + η) (closed form); b ≈ 0 means escape time independent of
  how close to the saddle the run started. ``fit_r2`` is the coefficient of determination.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

#: Quantiles reported by default (``exit_quantile``).
DEFAULT_QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)
#: The tail of the survival curve used for the escape rate: S(t) ≤ this.
TAIL_SURVIVAL = 0.1
#: Minimum number of trajectories at risk for a point to enter the escape-rate fit.
MIN_AT_RISK = 100
#: Beyond this horizon the survival curve is reported on a geometric grid of about this many steps.
MAX_CURVE_POINTS = 4096


def initial_dims(ds: xr.Dataset, var: str) -> tuple[str, ...]:
    """The initial-set dims of ``var``: those of ``w0`` except ``coord`` (``traj`` as a fallback)."""
    if "w0" in ds:
        dims = tuple(d for d in ds["w0"].dims if d != "coord")
    else:
        dims = ("traj",)
    missing = [d for d in dims if d not in ds[var].dims]
    if missing:
        raise ValueError(f"escape statistics: {var!r} lacks the initial-set dims {missing}")
    return dims


def kaplan_meier(event_step: np.ndarray, censor_step: np.ndarray, horizon: int) -> tuple[np.ndarray, ...]:
    """Product-limit survival on the integer steps 0 … horizon.

    ``event_step``: (N,) first-passage step, −1 where censored; ``censor_step``: (N,) the last
    step observed for the censored ones (ignored where an event happened). Returns
    ``(survival, at_risk, events)``, each of length horizon + 1: S(t) = P(τ > t), the number n_t
    at risk and the number e_t of exits at step t.
    """
    event_step = np.asarray(event_step, dtype=np.int64)
    censored = event_step < 0
    n = event_step.size
    events = np.bincount(event_step[~censored], minlength=horizon + 1)[: horizon + 1]
    censor_at = np.clip(np.asarray(censor_step, dtype=np.int64)[censored], 0, horizon)
    # a trajectory censored at c is at risk for every u ≤ c and leaves the risk set after c
    leave = np.bincount(censor_at + 1, minlength=horizon + 2)[: horizon + 1]
    removed_before = np.concatenate(([0], np.cumsum(events)[:-1])) + np.cumsum(leave)
    at_risk = n - removed_before
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(at_risk > 0, 1.0 - events / np.maximum(at_risk, 1), 1.0)
    return np.cumprod(factor), at_risk, events


def survival_quantiles(survival: np.ndarray, quantiles) -> np.ndarray:
    """For each p, the smallest step t with S(t) ≤ 1 − p (NaN where S never gets there)."""
    out = np.full(len(quantiles), np.nan)
    for i, p in enumerate(quantiles):
        below = np.nonzero(survival <= 1.0 - p + 1e-12)[0]
        if below.size:
            out[i] = below[0]
    return out


def tail_rate(survival: np.ndarray, at_risk: np.ndarray, events: np.ndarray, tail_survival: float, min_at_risk: int):
    """(λ, t_start, t_end): the constant escape rate of the tail, by maximum likelihood.

    Over the window W of steps t with S(t − 1) ≤ ``tail_survival`` and at least ``min_at_risk``
    trajectories at risk, the pooled hazard ĥ = Σ_W e_t / Σ_W n_t (exits over trajectory-steps
    at risk) is the maximum-likelihood estimate of a constant per-step exit probability, and
    λ = −log(1 − ĥ): S(t) ∝ e^{−λt} in the tail. NaN when W is empty or holds no exit.
    """
    steps = np.arange(survival.size)
    before = np.concatenate(([1.0], survival[:-1]))
    window = (before <= tail_survival) & (at_risk >= min_at_risk)
    if not np.any(window):
        return np.nan, np.nan, np.nan
    hazard = np.sum(events[window]) / np.sum(at_risk[window])
    if not 0.0 < hazard < 1.0:
        return np.nan, np.nan, np.nan
    t = steps[window]
    return -np.log1p(-hazard), float(t[0]), float(t[-1])


def distance_fit(exit_step: np.ndarray, delta: np.ndarray):
    """(a, b, r², n): least squares exit_step ≈ a + b·log(1/δ) over exited trajectories with δ > 0."""
    use = (exit_step >= 0) & (delta > 0) & np.isfinite(delta)
    n = int(np.count_nonzero(use))
    if n < 3:
        return np.nan, np.nan, np.nan, n
    x, y = np.log(1.0 / delta[use]), exit_step[use].astype(float)
    if np.ptp(x) == 0:
        return np.nan, np.nan, np.nan, n
    b, a = np.polyfit(x, y, 1)
    residual = y - (a + b * x)
    total = np.sum((y - y.mean()) ** 2)
    r2 = 1.0 - np.sum(residual ** 2) / total if total > 0 else np.nan
    return a, b, r2, n


def curve_steps(horizon: int) -> np.ndarray:
    """The steps at which ``survival`` is reported: every step up to MAX_CURVE_POINTS, else a
    geometric grid (integers, 0 and the horizon included)."""
    if horizon + 1 <= MAX_CURVE_POINTS:
        return np.arange(horizon + 1)
    grid = np.unique(np.round(np.geomspace(1, horizon, MAX_CURVE_POINTS)).astype(np.int64))
    return np.concatenate(([0], grid))


def _center(ds: xr.Dataset, center, dim: int):
    if center is None:
        center = ds.attrs.get("exit_center")
    if center is None:
        return None
    center = np.atleast_1d(np.asarray(center, dtype=float))
    return np.broadcast_to(center, (dim,))


def escape_statistics(
    ds: xr.Dataset,
    var: str = "exit_step",
    quantiles=DEFAULT_QUANTILES,
    center=None,
    tail_survival: float = TAIL_SURVIVAL,
    min_at_risk: int = MIN_AT_RISK,
    horizon: int | None = None,
) -> xr.Dataset:
    """Survival curve, quantiles, escape rate and distance scaling of first-passage times.

    Parameters
    ----------
    ds : Dataset with ``var`` (``exit_step`` or ``hit_step``: −1 = never), ``w0`` and, for the
        censoring of frozen trajectories, ``stop_step``.
    var : name of the first-passage variable.
    quantiles : probabilities p of the reported quantiles (smallest t with S(t) ≤ 1 − p).
    center : point from which the initial distance δ is measured (default: the Exit
        observer's centre, attribute ``exit_center``); None and no attribute: no fit.
    tail_survival, min_at_risk : the tail window of the escape-rate fit (see module docstring).
    horizon : the number of steps T (default: ``ds.attrs["steps"]``).

    Returns
    -------
    Dataset over the non-initial dims of ``var`` (optimizer, swept hyperparameters, …) with
    ``survival`` (extra dim ``step``), ``at_risk``, ``exit_quantile`` (dim ``quantile``),
    ``median_exit``, ``n``, ``n_exited``, ``fraction_exited``, ``n_censored``, ``escape_rate``,
    ``rate_window_start``/``rate_window_end``, ``fit_a``, ``fit_b``, ``fit_r2``, ``fit_n``.
    """
    if var not in ds:
        raise ValueError(f"escape_statistics: the dataset has no variable {var!r} (add the observer that makes it)")
    horizon = int(ds.attrs["steps"] if horizon is None else horizon)
    quantiles = tuple(float(p) for p in quantiles)
    if not all(0.0 < p < 1.0 for p in quantiles):
        raise ValueError(f"escape_statistics: quantiles must lie in (0, 1), got {quantiles}")
    ic_dims = initial_dims(ds, var)
    step_var = ds[var]
    group_dims = tuple(d for d in step_var.dims if d not in ic_dims)
    group_shape = tuple(step_var.sizes[d] for d in group_dims)
    n_groups = int(np.prod(group_shape, dtype=np.int64))
    steps_arr = step_var.transpose(*group_dims, *ic_dims).values.reshape(n_groups, -1)
    if "stop_step" in ds:
        stop = ds["stop_step"].broadcast_like(step_var).transpose(*group_dims, *ic_dims).values.reshape(n_groups, -1)
        censor = np.where(stop > 0, stop - 1, horizon)
    else:
        censor = np.full_like(steps_arr, horizon)
    point = _center(ds, center, ds.sizes.get("coord", 1)) if "w0" in ds else None
    if point is not None:
        offset = ds["w0"] - xr.DataArray(point, dims="coord")
        delta = np.sqrt((offset ** 2).sum("coord")).transpose(*ic_dims).values.ravel()
    else:
        delta = None

    grid = curve_steps(horizon)
    survival = np.empty((n_groups, grid.size))
    at_risk = np.empty((n_groups, grid.size), dtype=np.int64)
    q_values = np.empty((n_groups, len(quantiles)))
    median = np.empty(n_groups)
    scalars = {name: np.full(n_groups, np.nan) for name in
               ("escape_rate", "rate_window_start", "rate_window_end", "fit_a", "fit_b", "fit_r2")}
    counts = {name: np.zeros(n_groups, dtype=np.int64) for name in ("n", "n_exited", "n_censored", "fit_n")}
    for g in range(n_groups):
        s, r, e = kaplan_meier(steps_arr[g], censor[g], horizon)
        survival[g], at_risk[g] = s[grid], r[grid]
        q_values[g] = survival_quantiles(s, quantiles)
        median[g] = survival_quantiles(s, (0.5,))[0]
        rate, t0, t1 = tail_rate(s, r, e, tail_survival, min_at_risk)
        scalars["escape_rate"][g], scalars["rate_window_start"][g], scalars["rate_window_end"][g] = rate, t0, t1
        counts["n"][g] = steps_arr.shape[1]
        counts["n_exited"][g] = np.count_nonzero(steps_arr[g] >= 0)
        counts["n_censored"][g] = counts["n"][g] - counts["n_exited"][g]
        if delta is not None:
            a, b, r2, n_fit = distance_fit(steps_arr[g], delta)
            scalars["fit_a"][g], scalars["fit_b"][g], scalars["fit_r2"][g] = a, b, r2
            counts["fit_n"][g] = n_fit

    def shaped(values, extra=()):
        return values.reshape(group_shape + tuple(extra))

    coords = {d: ds[d] for d in group_dims if d in ds.coords}
    out = xr.Dataset(
        {
            "survival": (group_dims + ("step",), shaped(survival, (grid.size,)),
                         {"long_name": f"Kaplan-Meier S(t) = P({var} > t)"}),
            "at_risk": (group_dims + ("step",), shaped(at_risk, (grid.size,)),
                        {"long_name": "trajectories at risk at step t"}),
            "exit_quantile": (group_dims + ("quantile",), shaped(q_values, (len(quantiles),)),
                              {"long_name": "smallest t with S(t) <= 1 - p (NaN: not reached, censored)", "units": "steps"}),
            "median_exit": (group_dims, shaped(median),
                            {"long_name": "median first-passage step (Kaplan-Meier)", "units": "steps"}),
            "fraction_exited": (group_dims, shaped(counts["n_exited"] / np.maximum(counts["n"], 1)),
                                {"long_name": f"fraction with {var} >= 0 within the horizon"}),
            "escape_rate": (group_dims, shaped(scalars["escape_rate"]),
                            {"long_name": "-log(1 - pooled hazard) over the tail S <= tail_survival", "units": "1/steps"}),
            "rate_window_start": (group_dims, shaped(scalars["rate_window_start"]), {"units": "steps"}),
            "rate_window_end": (group_dims, shaped(scalars["rate_window_end"]), {"units": "steps"}),
            "fit_a": (group_dims, shaped(scalars["fit_a"]), {"long_name": "a of t_exit ~ a + b log(1/delta)", "units": "steps"}),
            "fit_b": (group_dims, shaped(scalars["fit_b"]),
                      {"long_name": "b of t_exit ~ a + b log(1/delta): steps per e-fold of the initial distance", "units": "steps"}),
            "fit_r2": (group_dims, shaped(scalars["fit_r2"]), {"long_name": "R^2 of the distance fit"}),
            **{name: (group_dims, shaped(values)) for name, values in counts.items()},
        },
        coords={**coords, "step": grid, "quantile": np.array(quantiles)},
        attrs={
            "variable": var,
            "horizon": horizon,
            "tail_survival": tail_survival,
            "min_at_risk": min_at_risk,
            "center": np.asarray(point) if point is not None else "none",
            "initial_dims": ", ".join(ic_dims),
            "source_optimizer": ds.attrs.get("optimizer", ""),
            "source_landscape": ds.attrs.get("landscape", ""),
        },
    )
    return out


def escape_table(stats: xr.Dataset):
    """A comparison table (pandas DataFrame), one row per optimizer / hyperparameter value.

    Columns: n, exited (fraction), median, q10 and q90 (when computed), rate (escape rate λ),
    a, b (distance fit t ≈ a + b·log(1/δ)) and r2.
    """
    columns = {
        "n": stats["n"],
        "exited": stats["fraction_exited"],
        "median": stats["median_exit"],
        "rate": stats["escape_rate"],
        "a": stats["fit_a"],
        "b": stats["fit_b"],
        "r2": stats["fit_r2"],
    }
    for p, label in ((0.1, "q10"), (0.9, "q90")):
        if p in stats["quantile"].values:
            columns[label] = stats["exit_quantile"].sel(quantile=p, drop=True)
    table = xr.Dataset(columns)
    order = ["n", "exited", "median", "q10", "q90", "rate", "a", "b", "r2"]
    if not table.dims:
        import pandas as pd

        return pd.DataFrame([{k: table[k].item() for k in order if k in table}])
    return table.to_dataframe()[[k for k in order if k in table]]
