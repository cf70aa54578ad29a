"""Plots of the ``status`` variable every run has (converged / periodic / bounded / diverged /
non-finite, as CF flags; see :data:`simdyn.status.STATUS_MEANINGS`).

* :func:`status_map`: the status of every initial point of a 2-D grid, one panel per optimizer
  and swept value (what ``simdyn run`` draws next to its netCDF file);
* :func:`status_fractions`: the share of each status against a swept dim, or per optimizer.

Each returns the matplotlib Figure.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import xarray as xr

from ..status import STATUS_MEANINGS
from ._matplotlib import pyplot

#: One colour per status, in the order of STATUS_MEANINGS.
STATUS_COLORS = ("#2ca02c", "#1f77b4", "#f2c14e", "#111111", "#d62728")
#: Most panels :func:`status_map` draws before asking for ``sel``.
MAX_PANELS = 12


def grid_dims(ds: xr.Dataset) -> tuple[str, ...]:
    """The dims of the initial set (those of ``w0`` except ``coord``), e.g. ("x0", "y0")."""
    if "w0" in ds:
        return tuple(d for d in ds["w0"].dims if d != "coord")
    return tuple(d for d in ds["status"].dims if d.endswith("0") or d == "traj")


def panel_dims(ds: xr.Dataset) -> tuple[str, ...]:
    """The dims of ``status`` that are not the initial set's: optimizer and swept values."""
    grid = grid_dims(ds)
    return tuple(d for d in ds["status"].dims if d not in grid)


def _title(ds: xr.Dataset, selection: dict) -> str:
    parts = [] if "optimizer" in selection else [str(ds.attrs.get("optimizer", ""))]
    for dim, value in selection.items():
        value = value.item() if hasattr(value, "item") else value
        parts.append(str(value) if dim == "optimizer" else f"{dim}={value:.4g}" if isinstance(value, float) else f"{dim}={value}")
    return " ".join(p for p in parts if p) + f" on {ds.attrs.get('landscape', '')}"


def status_map(ds: xr.Dataset, sel: dict | None = None, ncols: int | None = None, panel_size: float = 3.6, fig=None):
    """The final status of every initial point of a 2-D grid (``sd.grid(x=..., y=...)``), one
    panel per combination of the other dims (optimizer, swept hyperparameters and parameters;
    at most ``MAX_PANELS``, else choose some with ``sel``). Colours: converged green, periodic
    blue, bounded yellow (still moving at the last step), diverged black, non-finite red; the
    legend gives each status' share of the panel. ``fig``: a Figure or SubFigure to draw on."""
    plt = pyplot()
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    if "status" not in ds:
        raise ValueError("status_map: the dataset has no 'status' variable")
    if sel:
        ds = ds.sel(sel)
    grid = grid_dims(ds)
    if len(grid) != 2:
        raise ValueError(f"status_map: needs a 2-D grid of initial points (sd.grid(x=..., y=...)); "
                         f"the initial set's dims are {list(grid)}: use status_fractions")
    others = panel_dims(ds)
    combos = list(itertools.product(*(range(ds.sizes[d]) for d in others)))
    if len(combos) > MAX_PANELS:
        raise ValueError(f"status_map: {len(combos)} panels (dims {list(others)}); choose some with sel=...")
    ncols = ncols or min(len(combos), 3)
    nrows = math.ceil(len(combos) / ncols)
    xdim, ydim = grid
    x, y = ds[xdim].values, ds[ydim].values
    if fig is None:
        fig = plt.figure(figsize=(panel_size * ncols, (panel_size + 1.0) * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    cmap = ListedColormap(STATUS_COLORS)
    dx = (x[-1] - x[0]) / max(len(x) - 1, 1) / 2 if len(x) > 1 else 0.5
    dy = (y[-1] - y[0]) / max(len(y) - 1, 1) / 2 if len(y) > 1 else 0.5
    for ax, combo in zip(axes.ravel(), combos):
        index = dict(zip(others, combo))
        status = ds["status"].isel(index).transpose(ydim, xdim).values
        ax.imshow(status, origin="lower", cmap=cmap, vmin=-0.5, vmax=len(STATUS_COLORS) - 0.5, interpolation="nearest",
                  extent=(x[0] - dx, x[-1] + dx, y[0] - dy, y[-1] + dy), aspect="auto")
        ax.set_xlabel(xdim)
        ax.set_ylabel(ydim)
        ax.set_title(_title(ds, {d: ds[d].values[i] for d, i in index.items()}), fontsize=9)
        handles = [Patch(color=STATUS_COLORS[i], label=f"{m} {np.mean(status == i):.0%}")
                   for i, m in enumerate(STATUS_MEANINGS) if np.any(status == i)]
        ax.legend(handles=handles, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=3, frameon=False)
    for ax in axes.ravel()[len(combos):]:
        ax.set_visible(False)
    return fig


def status_fractions(ds: xr.Dataset, along: str | None = None, ax=None, fig=None):
    """The share of each status (stacked, summing to 1) against the swept dim ``along`` (default:
    the last swept dim), one panel per optimizer; without a swept dim, one bar per optimizer.
    ``fig``: a Figure or SubFigure to draw on (``ax``: one Axes, for one panel)."""
    plt = pyplot()

    if "status" not in ds:
        raise ValueError("status_fractions: the dataset has no 'status' variable")
    others = panel_dims(ds)
    swept = [d for d in others if d != "optimizer"]
    if along is None:
        along = swept[-1] if swept else None
    elif along not in swept:
        raise ValueError(f"status_fractions: along={along!r} is not a swept dim ({swept})")
    status = ds["status"]
    optimizers = [str(o) for o in ds["optimizer"].values] if "optimizer" in status.dims else [None]
    if along is None:
        if ax is None:
            fig = fig or plt.figure(figsize=(1.6 + 1.1 * len(optimizers), 3.6), layout="constrained")
            ax = fig.subplots()
        else:
            fig = ax.figure
        labels = [o or str(ds.attrs.get("optimizer", "")) for o in optimizers]
        bottom = np.zeros(len(optimizers))
        for i, meaning in enumerate(STATUS_MEANINGS):
            share = np.array([float(np.mean((status.sel(optimizer=o) if o else status).values == i)) for o in optimizers])
            if np.any(share > 0):
                ax.bar(labels, share, bottom=bottom, color=STATUS_COLORS[i], label=meaning)
            bottom += share
        ax.set_ylabel("share of trajectories")
        ax.set_ylim(0, 1)
        ax.set_title(f"status on {ds.attrs.get('landscape', '')}", fontsize=10)
        ax.legend(fontsize=7, loc="lower left", framealpha=0.8)
        return fig
    if ax is not None and len(optimizers) > 1:
        raise ValueError("status_fractions: ax= works for one optimizer; the dataset has several")
    if ax is None:
        ncols = min(len(optimizers), 3)
        nrows = math.ceil(len(optimizers) / ncols)
        fig = fig or plt.figure(figsize=(4.6 * ncols, 3.4 * nrows), layout="constrained")
        axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    else:
        fig, axes = ax.figure, np.array([ax])
    values = ds[along].values
    for panel, opt in zip(axes, optimizers):
        part = status.sel(optimizer=opt) if opt else status
        rest = [d for d in part.dims if d != along]
        flat = part.transpose(along, *rest).values.reshape(len(values), -1)
        layers = [(flat == i).mean(axis=1) for i in range(len(STATUS_MEANINGS))]
        keep = [i for i, layer in enumerate(layers) if np.any(layer > 0)]
        panel.stackplot(values, *[layers[i] for i in keep], colors=[STATUS_COLORS[i] for i in keep],
                        labels=[STATUS_MEANINGS[i] for i in keep])
        if len(values) > 2 and np.all(values > 0) and values.max() / values.min() > 20:
            panel.set_xscale("log")
        panel.set_xlim(values.min(), values.max())
        panel.set_ylim(0, 1)
        panel.set_xlabel(along)
        panel.set_ylabel("share of trajectories")
        panel.set_title(f"{opt or ds.attrs.get('optimizer', '')} on {ds.attrs.get('landscape', '')}", fontsize=10)
        panel.legend(fontsize=7, loc="lower left", framealpha=0.8)
    for panel in axes[len(optimizers):]:
        panel.set_visible(False)
    return fig
