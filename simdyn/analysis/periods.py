"""Limit cycles of optimizers: period scans, and Adam's 2-cycle (Proposition 4 of "Exploring the
dynamics of Adam", Section 6) in closed form with its stability.

* :func:`period_scan`: one call for "for which (lr, β₁, β₂) does Adam end in a cycle, of which
  period, of which amplitude?": ``simulate`` with the streaming :class:`~simdyn.observe.Period`
  detector (which also keeps the orbit points), after a memory check.
* :func:`adam_two_cycle`: the symmetric 2-cycle of Adam's long-run map (bias corrections → 1)
  on a quadratic coordinate f = (h/2)·x². With C = h·A the gradient amplitude, the moments of a
  gradient alternating ±C are m = ∓C·k, k = (1 − β₁)/(1 + β₁), and v = C², so one step moves
  η·k·C/(C + ε); the cycle ±A needs that step to be 2A:

      A = η·k/2 − ε/h,       cycle_amplitude (max − min) = 2A = η(1 − β₁)/(1 + β₁) − 2ε/h,

  which exists when η·k·h > 2ε. This is Proposition 4's condition ∇L(w − η·k·C/(|C| + ε)) =
  −∇L(w) = C with σ = |C| (the paper writes C² + ε: its σ_t² = C² gives σ_t = |C|; it also
  drops the minus sign of the step); :func:`proposition4_residual` evaluates it for any gradient.
* :func:`adam_two_cycle_multipliers`: the Floquet multipliers of that cycle, the eigenvalues of
  the Jacobian of two steps of the map (x, m, v) ↦ (x', m', v') at the cycle, analytically. The
  cycle attracts when all have modulus < 1. For β₂ = 0.999 they do not depend on η (Adam is
  scale-free up to ε) and exceed 1 unless β₁ is small (max |μ| = 1.101 at β₁ = 0.9), which is why
  Adam at its default β₁ does not settle on the 2-cycle of a smooth valley; at β₁ = 0 (RMSProp
  without momentum) the multiplier is β₂ < 1. :func:`two_cycle_stability_boundary` finds the β₁
  where max |μ| = 1.
"""

from __future__ import annotations

import json

import numpy as np
import xarray as xr


def period_scan_memory(n_trajectories: int, dim: int, max_period: int, orbit: bool, width: int | None = None) -> int:
    """Bytes a period scan holds besides the engine's state: the detector's ring buffer
    (max_period + 1 observed states of ``width`` numbers per trajectory: d, or d·(1 + slots) with
    ``on="state"``) and, with ``orbit``, the orbit points returned (d numbers each)."""
    width = dim if width is None else width
    return int(n_trajectories) * 8 * ((max_period + 1) * width + (max_period * dim if orbit else 0))


def period_scan(optimizer, landscape, x0, hyper=None, params=None, steps: int = 10_000, *, max_period: int = 64,
                atol: float = 1e-9, rtol: float = 1e-9, repeats: int = 3, coords=None, orbit: bool = True,
                on: str = "w", observers=(), max_memory=None, chunk_size=None, client=None, progress=None,
                **simulate_kwargs) -> xr.Dataset:
    """Simulate a sweep and detect, per trajectory, the final fixed point or cycle.

    Equivalent to ``sd.simulate(optimizer, landscape, x0, steps, hyper=hyper, params=params,
    observers=[sd.observe.Period(max_period, atol, rtol, on=on, repeats=repeats, coords=coords,
    orbit=orbit), *observers], ...)``: arrays in ``hyper`` / ``params`` become dims, as in
    :func:`simdyn.simulate`. Nothing is recorded: memory is O(trajectories × max_period), checked
    before anything runs (the ring buffer, plus the orbit points when ``orbit``). ``chunk_size``,
    ``client`` and ``progress`` are passed to :func:`simdyn.simulate`, as are ``record_every``,
    ``noise``, ``dtype``, ``target``, ``converge_tol`` and ``diverge_threshold``.

    Returns the Dataset of :func:`simdyn.simulate` with ``period`` (1 fixed point, p ≥ 2 cycle,
    0 none up to ``max_period``), ``transient``, ``cycle_amplitude`` and ``cycle_center`` (dim
    ``coord``), ``status`` (converged / periodic / bounded / diverged / nonfinite) and, with
    ``orbit``, ``orbit`` (the last ``max_period`` states, dims ``orbit_step``, ``coord``: the
    points of an orbit / bifurcation diagram, see :func:`simdyn.plot.bifurcation`). The exact
    detection criterion is documented in :mod:`simdyn.observe.period`.
    """
    from ..observe.period import Period
    from ..plan import make_plan, memory_budget
    from ..simulate import simulate

    detector = Period(max_period, atol=atol, rtol=rtol, on=on, repeats=repeats, coords=coords, orbit=orbit)
    observers = [detector, *observers]
    plan = make_plan(optimizer, landscape, x0, steps, hyper=hyper, params=params, observers=observers,
                     max_memory=max_memory, **simulate_kwargs)
    width = max(run.request.observers[0].observed_width(plan.landscape.dim) for run in plan.runs)
    need = period_scan_memory(plan.n_trajectories, plan.landscape.dim, max_period, orbit, width)
    budget = memory_budget(max_memory)
    if need > budget:
        raise ValueError(
            f"period_scan: {plan.n_trajectories} trajectories x {plan.landscape.dim} coords need "
            f"{need / 2**30:.3g} GiB for the period detector (max_period={max_period}, orbit={orbit}), more "
            f"than the {budget / 2**30:.3g} GiB available; lower max_period, pass orbit=False, or split the "
            "scan into chunks of initial points / hyperparameter values"
        )
    ds = simulate(optimizer, landscape, x0, steps, hyper=hyper, params=params, observers=observers,
                  max_memory=max_memory, chunk_size=chunk_size, client=client, progress=progress, **simulate_kwargs)
    ds.attrs["period_scan"] = json.dumps({"max_period": max_period, "atol": atol, "rtol": rtol, "repeats": repeats,
                                          "coords": None if coords is None else list(map(str, coords)),
                                          "orbit": bool(orbit), "on": on})
    return ds


# -- Proposition 4: Adam's 2-cycle on a quadratic coordinate ------------------------------------

def _momentum_ratio(beta1):
    beta1 = np.asarray(beta1, dtype=float)
    if np.any((beta1 < 0) | (beta1 >= 1)):
        raise ValueError("beta1 must lie in [0, 1)")
    return (1.0 - beta1) / (1.0 + beta1)


def adam_two_cycle(lr, beta1=0.9, eps=1e-8, curvature=2.0) -> dict:
    """Adam's symmetric 2-cycle ±A on f = (h/2)·x² (h = ``curvature``; x² has h = 2, the valley's
    y-direction h = 2a), in the long-run form (bias corrections → 1):

        A = η(1 − β₁)/(2(1 + β₁)) − ε/h,   peak-to-peak amplitude 2A,   gradient amplitude C = h·A.

    Returns a dict of arrays (broadcast over the arguments): ``half_amplitude`` A,
    ``amplitude`` 2A (compare with ``cycle_amplitude``), ``gradient`` C, ``exists`` (A > 0).
    """
    k = _momentum_ratio(beta1)
    lr, eps, h = (np.asarray(v, dtype=float) for v in (lr, eps, curvature))
    half = lr * k / 2.0 - eps / h
    return {"half_amplitude": half, "amplitude": 2.0 * half, "gradient": h * half, "exists": half > 0.0}


def proposition4_residual(grad, w, lr, beta1=0.9, eps=1e-8):
    """Proposition 4's condition, elementwise: ∇L(w − η·k·∇L(w)/(|∇L(w)| + ε)) + ∇L(w), with
    k = (1 − β₁)/(1 + β₁). It is 0 exactly when w and the point one long-run Adam step away
    have opposite gradients, i.e. when (w, w') is a 2-cycle of Adam with σ = |∇L|.

    ``grad`` maps an array of points to their gradients (elementwise for separable losses).
    """
    k = _momentum_ratio(beta1)
    w = np.asarray(w, dtype=float)
    g = np.asarray(grad(w), dtype=float)
    partner = w - lr * k * g / (np.abs(g) + eps)
    return np.asarray(grad(partner), dtype=float) + g


def _step_jacobian(x, m, v, lr, beta1, beta2, eps, h):
    """Next state and Jacobian of one long-run Adam step on (h/2)x², state (x, m, v)."""
    g = h * x
    m1 = beta1 * m + (1.0 - beta1) * g
    v1 = beta2 * v + (1.0 - beta2) * g * g
    s = np.sqrt(v1)
    x1 = x - lr * m1 / (s + eps)
    dm = np.array([(1.0 - beta1) * h, beta1, 0.0])          # ∂m'/∂(x, m, v)
    dv = np.array([2.0 * (1.0 - beta2) * g * h, 0.0, beta2])  # ∂v'/∂(x, m, v)
    ds = dv / (2.0 * s)
    dx = np.array([1.0, 0.0, 0.0]) - lr * (dm / (s + eps) - m1 / (s + eps) ** 2 * ds)
    return (x1, m1, v1), np.stack([dx, dm, dv])


def adam_two_cycle_multipliers(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, curvature=2.0) -> np.ndarray:
    """Moduli of the Floquet multipliers of Adam's 2-cycle on (h/2)x² (sorted, largest last): the
    eigenvalues of J(F(z))·J(z), F one long-run Adam step on (x, m, v), at the cycle point
    z = (A, −C·k, C²) (:func:`adam_two_cycle`). The cycle attracts when all are < 1. NaN when
    the cycle does not exist."""
    cycle = adam_two_cycle(lr, beta1, eps, curvature)
    half = float(cycle["half_amplitude"])
    if half <= 0.0:
        return np.full(3, np.nan)
    k = float(_momentum_ratio(beta1))
    c = curvature * half
    z = (half, -c * k, c * c)
    z1, j0 = _step_jacobian(*z, lr, beta1, beta2, eps, curvature)
    _, j1 = _step_jacobian(*z1, lr, beta1, beta2, eps, curvature)
    return np.sort(np.abs(np.linalg.eigvals(j1 @ j0)))


def two_cycle_stability_boundary(beta2=0.999, lr=1e-3, eps=1e-8, curvature=2.0, tol=1e-10) -> float:
    """The smallest β₁ at which Adam's 2-cycle on (h/2)x² loses stability (largest Floquet
    multiplier crosses 1): a scan of the β₁ ∈ [0, 0.999] where the cycle exists, then bisection.
    Below it the cycle attracts. NaN when the multiplier never exceeds 1."""
    def excess(b1):
        return adam_two_cycle_multipliers(lr, b1, beta2, eps, curvature)[-1] - 1.0

    ratio = 2.0 * eps / (lr * curvature)  # the cycle exists while (1 − β₁)/(1 + β₁) > ratio
    grid = np.linspace(0.0, min(0.999, (1.0 - ratio) / (1.0 + ratio) * (1.0 - 1e-9)), 400)
    above = [excess(b1) > 0.0 for b1 in grid]
    if not any(above) or above[0]:
        return float("nan")
    i = above.index(True)
    lo, hi = grid[i - 1], grid[i]
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if excess(mid) <= 0.0 else (lo, mid)
    return 0.5 * (lo + hi)
