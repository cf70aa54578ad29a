"""``sd.period_scan``: for which hyperparameters does an optimizer end in a cycle, of which
period, of which amplitude? ``simulate`` with the streaming :class:`~simdyn.observe.Period`
detector (which also keeps the orbit points), after a memory check. The plan is built once. The closed forms it is
tested against (Adam's 2-cycle) are in :mod:`simdyn.analysis.periods`.
"""

from __future__ import annotations

import json

import xarray as xr

from ..observe.period import Period
from ..plan import make_plan
from ..simulate import check_execution, check_memory, run_plan


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
    check_execution(chunk_size, client)
    detector = Period(max_period, atol=atol, rtol=rtol, on=on, repeats=repeats, coords=coords, orbit=orbit)
    observers = [detector, *observers]
    plan = make_plan(optimizer, landscape, x0, steps, hyper=hyper, params=params, observers=observers,
                     max_memory=max_memory, **simulate_kwargs)
    try:
        check_memory(plan, chunk_size)  # the engine's own count: state, the detector's ring buffer, orbit points
    except ValueError as exc:
        raise ValueError(f"period_scan: {exc}; or lower max_period (now {max_period}), or pass orbit=False") from None
    ds = run_plan(plan, chunk_size=chunk_size, client=client, progress=progress)
    ds.attrs["period_scan"] = json.dumps({"max_period": max_period, "atol": atol, "rtol": rtol, "repeats": repeats,
                                          "coords": None if coords is None else list(map(str, coords)),
                                          "orbit": bool(orbit), "on": on})
    return ds
