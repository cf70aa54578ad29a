"""Stable and unstable branches of a continued periodic orbit (:func:`simdyn.continue_orbit`)."""

from __future__ import annotations

import numpy as np
import xarray as xr


def orbit_branches(cont: xr.Dataset, coord: str = "x", ax=None, color: str = "C3", label: str | None = None):
    """Draw the p phase points of ``coord`` of a continued cycle against the continued parameter:
    solid where the cycle is stable (every Floquet |μ| < 1), dashed where it is unstable, with a
    vertical dotted line at each stability change. Returns the Figure.

    ``cont`` is the result of :func:`simdyn.continue_orbit`; ``coord`` a coordinate label of w.
    """
    import matplotlib.pyplot as plt

    if "orbit_points" not in cont or "orbit_stable" not in cont:
        raise ValueError("cont: expected the result of sd.continue_orbit (orbit_points, orbit_stable)")
    labels = list(cont["state"].values)
    if coord not in labels:
        raise ValueError(f"coord {coord!r} is not one of the state components {labels}")
    if ax is None:
        fig, ax = plt.subplots(figsize=(7.0, 4.0), layout="constrained")
    fig = ax.figure
    param = cont.attrs["parameter"]
    x = cont[param].values
    y = cont["orbit_points"].sel(state=coord).transpose(param, "phase").values
    stable = cont["orbit_stable"].values
    unstable = cont["orbit_converged"].values & ~stable
    text = label or f"period-{cont.attrs['period']} orbit of {cont.attrs['optimizer']}"
    for k in range(y.shape[1]):
        ax.plot(x, np.where(stable, y[:, k], np.nan), "-", color=color, lw=2,
                label=f"{text}, stable" if k == 0 else None)
        ax.plot(x, np.where(unstable, y[:, k], np.nan), "--", color=color, lw=1.2,
                label=f"{text}, unstable" if k == 0 else None)
    for value in np.atleast_1d(cont.attrs.get("stability_changes", [])):
        ax.axvline(value, color=color, ls=":", lw=1)
    ax.set_xlabel(param)
    ax.set_ylabel(coord)
    ax.legend(fontsize=8)
    return fig
