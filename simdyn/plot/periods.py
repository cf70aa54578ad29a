"""Plots of period scans (:func:`simdyn.period_scan`): orbit (bifurcation) diagrams and period maps.

* :func:`bifurcation`: the orbit points (the last states kept by ``Period(orbit=True)`` or
  ``Tail``) of one coordinate against a swept parameter, above the detected period;
* :func:`period_map`: the period over two swept parameters (e.g. lr × β₁), with the cycle
  amplitude next to it.

Trajectories the engine flagged diverged or non-finite are left out of the orbit points and
shown as "diverged" in the period panels. Each function returns the matplotlib Figure.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ..status import STATUS
from ._matplotlib import pyplot

_DIVERGED = -1  # the period-panel category of diverged / non-finite trajectories


def _is_geometric(values) -> bool:
    values = np.asarray(values, dtype=float)
    if values.size < 3 or np.any(values <= 0):
        return False
    ratios = values[1:] / values[:-1]
    return bool(np.allclose(ratios, ratios[0], rtol=1e-6) and not np.isclose(ratios[0], 1.0))


def _select(ds: xr.Dataset, selection: dict | None) -> xr.Dataset:
    ds = ds.sel(selection) if selection else ds
    if "optimizer" in ds.dims:
        raise ValueError("the dataset has several optimizers: select one, e.g. selection={'optimizer': 'adam'}")
    return ds


def _check_dims(ds: xr.Dataset, *names):
    for name in names:
        if name not in ds.dims:
            swept = [d for d in ds["period"].dims] if "period" in ds else list(ds.dims)
            raise ValueError(f"{name!r} is not a dimension of the dataset; its dimensions are {swept}")


def _period_categories(ds: xr.Dataset) -> xr.DataArray:
    """The period, with diverged / non-finite trajectories as −1."""
    if "period" not in ds:
        raise ValueError("the dataset has no 'period': run sd.period_scan or add sd.observe.Period() to the observers")
    lost = (ds["status"] == STATUS["diverged"]) | (ds["status"] == STATUS["nonfinite"])
    return xr.where(lost, _DIVERGED, ds["period"])


def _period_colors(values):
    """A discrete colormap, norm and tick labels for the period categories present."""
    plt = pyplot()
    from matplotlib.colors import BoundaryNorm, ListedColormap

    present = sorted(set(int(v) for v in np.unique(values)))
    palette = plt.get_cmap("tab10").colors + plt.get_cmap("Dark2").colors
    colors, labels = [], []
    for i, v in enumerate(present):
        if v == _DIVERGED:
            colors.append((0.1, 0.1, 0.1)); labels.append("diverged")
        elif v == 0:
            colors.append((0.85, 0.85, 0.85)); labels.append("none")
        elif v == 1:
            colors.append((0.75, 0.87, 1.0)); labels.append("1 (fixed point)")
        else:
            colors.append(palette[(v - 2) % len(palette)]); labels.append(str(v))
    index = {v: i for i, v in enumerate(present)}
    cmap = ListedColormap(colors)
    norm = BoundaryNorm(np.arange(len(present) + 1) - 0.5, len(present))
    return index, cmap, norm, labels


def _edges(values) -> np.ndarray:
    """Cell edges around ``values`` (geometric midpoints for log-spaced values)."""
    values = np.asarray(values, dtype=float)
    if values.size == 1:
        return np.array([values[0] * 0.9, values[0] * 1.1]) if values[0] > 0 else values[0] + np.array([-0.5, 0.5])
    geometric = _is_geometric(values)
    v = np.log(values) if geometric else values
    mid = 0.5 * (v[1:] + v[:-1])
    edges = np.concatenate([[2 * v[0] - mid[0]], mid, [2 * v[-1] - mid[-1]]])
    return np.exp(edges) if geometric else edges


def _mode(da: xr.DataArray, keep: tuple[str, ...]) -> np.ndarray:
    """The most frequent value over every dim not in ``keep`` (ties: the smallest)."""
    other = [d for d in da.dims if d not in keep]
    values = da.transpose(*keep, *other).values.reshape(*[da.sizes[d] for d in keep], -1)
    flat = values.reshape(-1, values.shape[-1])
    out = np.empty(flat.shape[0], dtype=values.dtype)
    for i, row in enumerate(flat):
        uniq, counts = np.unique(row, return_counts=True)
        out[i] = uniq[np.argmax(counts)]
    return out.reshape(values.shape[:-1])


def bifurcation(ds: xr.Dataset, param: str = "lr", coord: str = "x", selection: dict | None = None,
                points: str | None = None, axes=None, size: float = 6.0, period_panel: bool = True,
                branches=None):
    """Orbit diagram: the orbit points of ``coord`` against the swept ``param`` (top), and the
    detected period against ``param`` (bottom; one dot per trajectory, "diverged" below 0).

    ``points`` names the variable of orbit points: ``"orbit"`` (from ``period_scan`` /
    ``Period(orbit=True)``) or ``"tail"`` (``Tail``); by default whichever is present. Every other
    dim (initial points, other swept values) contributes its points to the same column.
    ``selection`` picks e.g. one optimizer (``{"optimizer": "adam"}``). ``size``: the area of
    an orbit point in points² (round markers, so that a 2-cycle's two points stay visible).
    ``branches``: one or a list of :func:`simdyn.continue_orbit` results in ``param``, drawn over
    the orbit points, solid where the cycle is stable and dashed where it is not
    (:func:`simdyn.plot.orbit_branches`).
    """
    plt = pyplot()

    ds = _select(ds, selection)
    _check_dims(ds, param)
    if points is None:
        points = next((v for v in ("orbit", "tail") if v in ds), None)
        if points is None:
            raise ValueError("no orbit points in the dataset: use sd.period_scan(..., orbit=True), "
                             "sd.observe.Period(orbit=True) or sd.observe.Tail(k)")
    if coord not in ds["coord"].values:
        raise ValueError(f"coord {coord!r} is not one of {list(ds['coord'].values)}")
    if axes is None:
        rows = 2 if period_panel else 1
        fig, axes = plt.subplots(rows, 1, figsize=(7.0, 6.0 if period_panel else 4.0), sharex=True, squeeze=False,
                                 gridspec_kw={"height_ratios": [3, 1.3][:rows]}, layout="constrained")
        axes = axes[:, 0]
    else:
        axes = np.atleast_1d(axes)
        fig = axes[0].figure
    values = ds[param].values
    lost = (ds["status"] == STATUS["diverged"]) | (ds["status"] == STATUS["nonfinite"])
    orbit = ds[points].sel(coord=coord).where(~lost)
    other = [d for d in orbit.dims if d != param]
    y = orbit.transpose(param, *other).values.reshape(len(values), -1)
    x = np.broadcast_to(values[:, None], y.shape)
    keep = np.isfinite(y)
    ax = axes[0]
    ax.scatter(x[keep], y[keep], s=size, c="k", marker="o", linewidths=0, alpha=0.6, rasterized=True)
    ax.set_ylabel(f"{coord} (last {ds.sizes[points + '_step'] if points + '_step' in ds.dims else ''} states)")
    ax.set_title(f"orbit diagram: {ds.attrs.get('optimizer', '')} on {ds.attrs.get('landscape', '')}")
    if branches is not None:
        from .branches import orbit_branches

        for i, cont in enumerate(branches if isinstance(branches, (list, tuple)) else [branches]):
            orbit_branches(cont, coord, ax=ax, color=f"C{3 + i}")
    if period_panel and len(axes) > 1:
        period = _period_categories(ds)
        other = [d for d in period.dims if d != param]
        p = period.transpose(param, *other).values.reshape(len(values), -1)
        px = np.broadcast_to(values[:, None], p.shape)
        index, cmap, norm, labels = _period_colors(p)
        codes = np.vectorize(index.get)(p)
        # log2 axis for periods; "none" and "diverged" drawn below 1
        height = np.where(p >= 1, p, np.where(p == 0, 0.6, 0.4)).astype(float)
        axes[1].scatter(px.ravel(), height.ravel(), c=codes.ravel(), cmap=cmap, norm=norm, s=24, marker="s",
                        linewidths=0.4, edgecolors="0.3")
        axes[1].set_yscale("log", base=2)
        top = max(2, int(p.max()))
        ticks = [0.4, 0.6] + [2 ** i for i in range(int(np.log2(top)) + 2)]
        axes[1].set_yticks(ticks)
        axes[1].set_yticklabels(["div", "none"] + [str(2 ** i) for i in range(len(ticks) - 2)])
        axes[1].set_ylim(0.33, 2 ** (np.log2(top) + 0.5))
        axes[1].set_ylabel("period")
        axes[1].grid(axis="y", alpha=0.3)
    axes[-1].set_xlabel(param)
    if _is_geometric(values):
        axes[-1].set_xscale("log")
    return fig


def period_map(ds: xr.Dataset, x: str = "lr", y: str = "beta1", coord: str = "x", selection: dict | None = None,
               amplitude: bool = True, axes=None):
    """Period over two swept parameters (left) and the amplitude (max − min over one period) of
    ``coord`` where there is a cycle (right, log colour scale).

    Other dims (initial points, …) are reduced to the most frequent period and the median
    amplitude of the trajectories with that period. Categories: "diverged" (diverged or
    non-finite), "none" (no period up to max_period), "1 (fixed point)", then each period.
    """
    plt = pyplot()
    from matplotlib.colors import LogNorm

    ds = _select(ds, selection)
    _check_dims(ds, x, y)
    period = _period_categories(ds)
    grid = _mode(period, (y, x))
    if axes is None:
        cols = 2 if amplitude else 1
        fig, axes = plt.subplots(1, cols, figsize=(6.2 * cols, 4.8), squeeze=False, layout="constrained")
        axes = axes[0]
    else:
        axes = np.atleast_1d(axes)
        fig = axes[0].figure
    xv, yv = ds[x].values, ds[y].values
    xe, ye = _edges(xv), _edges(yv)
    index, cmap, norm, labels = _period_colors(grid)
    codes = np.vectorize(index.get)(grid)
    mesh = axes[0].pcolormesh(xe, ye, codes, cmap=cmap, norm=norm, shading="flat")
    bar = fig.colorbar(mesh, ax=axes[0], ticks=np.arange(len(labels)))
    bar.ax.set_yticklabels(labels)
    bar.ax.set_title("period", fontsize=9, loc="left")  # above the bar: a side label drifts towards the next panel
    axes[0].set_title(f"period: {ds.attrs.get('optimizer', '')} on {ds.attrs.get('landscape', '')}")
    if amplitude and len(axes) > 1:
        amp = ds["cycle_amplitude"].sel(coord=coord)
        same = period == xr.DataArray(grid, dims=(y, x), coords={y: yv, x: xv})
        amp = amp.where(same & (period >= 2)).transpose(y, x, ...)
        med = amp.median([d for d in amp.dims if d not in (x, y)]) if amp.ndim > 2 else amp
        vals = np.ma.masked_invalid(med.values)
        positive = vals.compressed()
        positive = positive[positive > 0]
        if positive.size:
            norm = LogNorm(positive.min(), max(positive.max(), positive.min() * 1.01))
            m2 = axes[1].pcolormesh(xe, ye, vals, norm=norm, cmap="viridis", shading="flat")
            fig.colorbar(m2, ax=axes[1]).set_label(f"cycle amplitude of {coord} (max - min)")
        else:
            axes[1].text(0.5, 0.5, "no cycle (period >= 2)", transform=axes[1].transAxes, ha="center")
        axes[1].set_title("amplitude where periodic (p >= 2)")
    for ax in axes:
        ax.set_xlabel(x)
        ax.set_ylabel(y)
        if _is_geometric(xv):
            ax.set_xscale("log")
        if _is_geometric(yv):
            ax.set_yscale("log")
        ax.set_xlim(xe[0], xe[-1])
        ax.set_ylim(ye[0], ye[-1])
    return fig
