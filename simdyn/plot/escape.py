"""Plots of escape and hitting times, and of trajectories on a landscape's vector field.

* :func:`survival`: S(t) = P(exit_step > t) per optimizer / hyperparameter (log scale);
* :func:`escape_scaling`: exit step against the initial distance δ from the saddle (binned
  median with a 10–90 % band) and the fitted line a + b·log(1/δ);
* :func:`vector_field`: the normalised negative gradient field −∇f/‖∇f‖ with loss contours and
  recorded trajectories (Figure 2a of "Exploring the dynamics of Adam").

Each returns the matplotlib Figure; matplotlib is imported when a function is called.
"""

from __future__ import annotations

import itertools

import numpy as np
import xarray as xr

from ._matplotlib import pyplot

from ..analysis.escape import escape_statistics, initial_dims


def _axes(ax, figsize=(6.0, 4.2)):
    plt = pyplot()

    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
        return fig, ax
    return ax.figure, ax


def _label(selection: dict) -> str:
    parts = []
    for dim, value in selection.items():
        value = value.item() if hasattr(value, "item") else value
        parts.append(str(value) if dim == "optimizer" else f"{dim}={value:g}" if isinstance(value, float) else f"{dim}={value}")
    return ", ".join(parts)


def _groups(da: xr.DataArray, dims: tuple[str, ...]):
    """(label, selection dict) for every combination of ``dims``."""
    if not dims:
        yield "", {}
        return
    for values in itertools.product(*(da[d].values for d in dims)):
        selection = dict(zip(dims, values))
        yield _label(selection), selection


def _as_stats(data, **kwargs) -> xr.Dataset:
    return data if "survival" in data else escape_statistics(data, **kwargs)


def survival(data, ax=None, logy: bool = True, logx: bool = True, **kwargs):
    """S(t) per group, from an :func:`simdyn.analysis.escape_statistics` result or a simulation
    dataset (statistics computed with ``kwargs``). Censored mass stays as a plateau at the end.

    ``logx``: time on a log axis from t = 1, so that a curve that falls within a few steps stays
    visible next to one that takes thousands. A curve that reaches S = 0 (every trajectory has
    escaped) ends with a ▼ at the step it does, and its legend entry gives that step: on a log S
    axis the drop itself cannot be drawn."""
    stats = _as_stats(data, **kwargs)
    fig, ax = _axes(ax)
    curves = stats["survival"]
    steps = curves["step"].values
    dims = tuple(d for d in curves.dims if d != "step")
    for label, sel in _groups(curves, dims):
        values = curves.sel(sel).values
        zero = np.flatnonzero(values <= 0)
        if zero.size:
            label = f"{label}{': ' if label else ''}S = 0 from t = {int(steps[zero[0]])}"
        shown = np.where(values > 0, values, np.nan) if logy else values
        (line,) = ax.step(steps, shown, where="post", label=label or None)
        if zero.size:
            before = float(values[zero[0] - 1]) if zero[0] > 0 else 1.0
            ax.plot(steps[zero[0]], before if logy else 0.0, marker="v", ms=9, color=line.get_color(), ls="none",
                    zorder=4)
    if logy:
        ax.set_yscale("log")
    if logx:
        ax.set_xscale("log")
        ax.set_xlim(1, max(2, int(steps.max())))
    ax.set_xlabel("step t" + (" (log)" if logx else ""))
    ax.set_ylabel(f"S(t) = P({stats.attrs.get('variable', 'exit_step')} > t)")
    ax.set_title(f"Survival of first-passage times (N = {int(np.max(stats['n'].values))} per curve)")
    if dims or ax.get_legend_handles_labels()[1]:
        ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def escape_scaling(ds: xr.Dataset, var: str = "exit_step", center=None, bins: int = 30, ax=None, stats=None):
    """Exit step against the initial distance δ = ‖w0 − center‖ (log axis): per group the median
    in logarithmic bins of δ with the 10–90 % band, and the fit t ≈ a + b·log(1/δ) as a dashed line."""
    stats = stats if stats is not None else escape_statistics(ds, var=var, center=center)
    if isinstance(stats.attrs.get("center"), str):
        raise ValueError("escape_scaling: no centre to measure δ from; pass center=...")
    point = np.asarray(stats.attrs["center"], dtype=float)
    ic_dims = initial_dims(ds, var)
    offset = ds["w0"] - xr.DataArray(point, dims="coord")
    delta = np.sqrt((offset ** 2).sum("coord")).transpose(*ic_dims).values.ravel()
    fig, ax = _axes(ax)
    group_dims = tuple(d for d in ds[var].dims if d not in ic_dims)
    positive = delta[delta > 0]
    edges = np.geomspace(positive.min(), positive.max(), bins + 1)
    centers = np.sqrt(edges[:-1] * edges[1:])
    for label, sel in _groups(ds[var], group_dims):
        steps = ds[var].sel(sel).transpose(*ic_dims).values.ravel().astype(float)
        steps = np.where(steps >= 0, steps, np.nan)
        which = np.digitize(delta, edges[1:-1])
        med, lo, hi = (np.full(bins, np.nan) for _ in range(3))
        for b in range(bins):
            chosen = steps[(which == b) & np.isfinite(steps)]
            if chosen.size:
                med[b], lo[b], hi[b] = np.percentile(chosen, [50, 10, 90])
        (line,) = ax.plot(centers, med, marker="o", ms=3, label=label or None)
        ax.fill_between(centers, lo, hi, color=line.get_color(), alpha=0.2, lw=0)
        fit = stats.sel(sel)
        a, b = float(fit["fit_a"]), float(fit["fit_b"])
        if np.isfinite(a) and np.isfinite(b):
            ax.plot(centers, a + b * np.log(1.0 / centers), ls="--", color=line.get_color(), lw=1)
    ax.set_xscale("log")
    ax.set_xlabel("initial distance δ from the saddle")
    ax.set_ylabel(f"{var} (median, 10-90 % band; dashed: a + b log(1/δ))")
    ax.grid(alpha=0.3)
    if group_dims:
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def vector_field(landscape, ds: xr.Dataset | None = None, extent=(-1.0, 1.0, -1.0, 1.0), params=None, ax=None,
                 density: float = 1.2, markers=(0.25, 0.5, 0.75), traj_index=None):
    """The field −∇f/‖∇f‖ (streamlines) with loss contours for a 2-D landscape, and the recorded
    trajectories of ``ds`` (variable ``trajectory``) drawn on it, one colour per optimizer.

    ``markers``: fractions of each path marked with an ×, as in the paper's Figures 3 and 4.
    ``traj_index``: dict selecting one trajectory per optimizer when ``ds`` holds several.
    """
    from ..landscapes import get_landscape

    land = get_landscape(landscape)
    if land.dim != 2:
        raise ValueError(f"vector_field: needs a 2-D landscape, {land.name!r} has dimension {land.dim}")
    values = {**land.params, **(params or {})}
    p = land.flat_params(values)
    x = np.linspace(extent[0], extent[1], 161)
    y = np.linspace(extent[2], extent[3], 161)
    gx, gy = np.meshgrid(x, y)
    gu = np.empty_like(gx)
    gv = np.empty_like(gy)
    loss = np.empty_like(gx)
    for i in range(gx.shape[0]):
        for j in range(gx.shape[1]):
            g = land.grad((gx[i, j], gy[i, j]), p, 1)
            gu[i, j], gv[i, j] = -g[0], -g[1]
            loss[i, j] = land.loss((gx[i, j], gy[i, j]), p, 1)
    norm = np.hypot(gu, gv)
    norm = np.where(norm > 0, norm, 1.0)
    fig, ax = _axes(ax, figsize=(6.0, 6.0))
    ax.contour(gx, gy, loss, levels=15, colors="0.75", linewidths=0.6)
    ax.streamplot(gx, gy, gu / norm, gv / norm, color="0.55", density=density, linewidth=0.6, arrowsize=0.8)
    if ds is not None and "trajectory" in ds:
        traj = ds["trajectory"]
        if traj_index:
            traj = traj.isel(traj_index)
        optimizers = list(traj["optimizer"].values) if "optimizer" in traj.dims else [ds.attrs.get("optimizer", "")]
        for i, opt in enumerate(optimizers):
            path = traj.sel(optimizer=opt) if "optimizer" in traj.dims else traj
            extra = [d for d in path.dims if d not in ("step", "coord")]
            path = path.isel({d: 0 for d in extra}) if extra else path
            xs, ys = path.sel(coord="x").values, path.sel(coord="y").values
            # earlier paths drawn wider, so coinciding paths stay visible
            (line,) = ax.plot(xs, ys, lw=max(1.0, 3.2 - 0.5 * i), label=str(opt), zorder=3 + i)
            ax.plot(xs[0], ys[0], "o", color=line.get_color(), ms=5)
            for frac in markers:
                k = int(round(frac * (len(xs) - 1)))
                ax.plot(xs[k], ys[k], "x", color=line.get_color(), ms=8, mew=2)
        ax.legend(fontsize=9, loc="best")
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_aspect("equal")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title(f"{land.name}: {land.formula}")
    fig.tight_layout()
    return fig
