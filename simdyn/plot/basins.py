"""Basin images and phase portraits.

* :func:`basins`: the ``attractor`` labels of :func:`simdyn.basins` as an image over the grid of
  initial points (one panel per optimizer / swept value), each attractor marked at its location
  (a dot for a fixed point, its points joined for a cycle) and a legend with its kind, name and
  basin fraction; diverged points black, unresolved ones light grey.
* :func:`basin_fractions`: basin fractions against a swept hyperparameter (stacked areas),
  attractors grouped by the critical point they sit at or around;
* :func:`phase_portrait`: loss contours of a 2-D landscape, the optimizer's (preconditioned)
  vector field as streamlines, its known critical points and recorded trajectories.

The preconditioned field is the step the optimizer settles to when the gradient is held fixed
(:func:`steady_step`): −η·g for SGD, −η·g/(1 − μ) for heavy-ball momentum, −η·g/(|g| + ε) for
Adam and RMSProp (their sign-descent field, each coordinate on its own). Each returns the Figure.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import xarray as xr

from ._matplotlib import pyplot

from ..engine.compile import python_function

#: Colour of diverged and of unresolved initial points.
DIVERGED_COLOR = "#111111"
UNRESOLVED_COLOR = "#d4d4d4"
#: Most panels drawn by :func:`basins` before asking for ``sel``.
MAX_PANELS = 16
#: Steps the optimizer takes with a frozen gradient in :func:`steady_step` (at most).
STEADY_STEPS = 5000


def _attractor_colors(n: int) -> list:
    """Qualitative colours without the greys (kept for unresolved and diverged points)."""
    import matplotlib

    palette = [c for name in ("tab10", "Set2", "Pastel1") for c in matplotlib.colormaps[name].colors
               if max(c) - min(c) > 0.05]
    return [palette[a % len(palette)] for a in range(n)]


def _percent(fraction: float) -> str:
    return "<0.1 %" if 0 < fraction < 5e-4 else f"{100 * fraction:.1f} %"


def _describe(ds: xr.Dataset, a: int, fraction: float, wandering: float = 0.0, number: int | None = None) -> str:
    kind = str(ds["attractor_kind"].values[a])
    name = str(ds["attractor_name"].values[a])
    period = int(ds["attractor_period"].values[a])
    if kind == "fixed_point":
        what = f"fixed point {name}" if name else "fixed point"
    else:
        what = f"{period}-cycle" + (f" around {name}" if name else "")
    share = f", {_percent(wandering)} wandering" if wandering > 0 else ""
    return f"{a if number is None else number}: {what} ({_percent(fraction)}{share})"


def matched_attractors(ds: xr.Dataset, fractions: np.ndarray) -> tuple[np.ndarray, int]:
    """One display number per (panel, attractor), the same for the same attractor in every panel.

    ``fractions``: (panels, attractor_id) basin fractions. An ``attractor_id`` is one point set
    of parameter space, so a cycle whose size changes with the learning rate gets a new id in
    every lr panel. Here attractors are matched across panels by identity and location: the
    attractors of a panel with the same kind, period and known critical point (name) are ranked
    by their location (``attractor_location``, lexicographic); (kind, name, period, rank) is
    the identity. Identities are numbered in the order of their smallest ``attractor_id`` (fixed
    points first, as the ids). Returns ``(numbers, n_identities)`` with ``numbers`` of shape
    (panels, attractor_id), −1 where the attractor is absent from the panel.
    """
    kinds, names = ds["attractor_kind"].values, ds["attractor_name"].values
    periods, locations = ds["attractor_period"].values, ds["attractor_location"].values
    keys = np.empty(fractions.shape, dtype=object)
    for panel, row in enumerate(fractions):
        present = np.flatnonzero(row > 0)
        families: dict = {}
        for a in present:
            families.setdefault((str(kinds[a]), str(names[a]), int(periods[a])), []).append(a)
        for family, members in families.items():
            members.sort(key=lambda a: tuple(np.round(locations[a], 12)))
            for rank, a in enumerate(members):
                keys[panel, a] = family + (rank,)
    first_id: dict = {}
    for (panel, a), key in np.ndenumerate(keys):
        if key is not None:
            first_id[key] = min(first_id.get(key, a), a)
    order = {key: i for i, key in enumerate(sorted(first_id, key=lambda k: (first_id[k], k)))}
    numbers = np.full(fractions.shape, -1, dtype=np.int64)
    for (panel, a), key in np.ndenumerate(keys):
        if key is not None:
            numbers[panel, a] = order[key]
    return numbers, len(order)


def _panel_title(ds: xr.Dataset, selection: dict) -> str:
    parts = [str(ds.attrs.get("optimizer", "")) if "optimizer" not in selection else ""]
    for dim, value in sorted(selection.items(), key=lambda item: item[0] != "optimizer"):
        value = value.item() if hasattr(value, "item") else value
        if dim == "optimizer":
            parts.append(str(value))
        else:
            parts.append(f"{dim}={value:.4g}" if isinstance(value, float) else f"{dim}={value}")
    return " ".join(p for p in parts if p) + f" on {ds.attrs.get('landscape', '')}"


def basins(ds: xr.Dataset, sel: dict | None = None, ncols: int | None = None, panel_size: float = 4.2,
           legend: bool = True, markers: bool = True):
    """Basin image(s) of a :func:`simdyn.basins` dataset on a 2-D grid of initial points.

    ``sel``: values of ``optimizer`` / swept dims to show (``ds.sel`` semantics); every remaining
    combination gets a panel (at most ``MAX_PANELS``). Colours and numbers: one per matched
    attractor (:func:`matched_attractors`: the same kind of orbit at or around the same critical
    point keeps its colour and number from panel to panel, e.g. from one learning rate to the
    next), diverged black, unresolved light grey. Attractors reached by some point of a panel
    are marked and listed in its legend with their fraction of that panel and, as "wandering",
    the part of that fraction whose trajectories had no period at the last step but whose last
    ``max_period`` states all lay within ``near_tol`` of the attractor (they reached it and move
    around it without repeating exactly; ``basin_nonperiodic_fraction``).
    """
    plt = pyplot()
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    if "attractor" not in ds or "basin_fraction" not in ds:
        raise ValueError("plot.basins: expected a dataset from sd.basins (variables 'attractor', 'basin_fraction')")
    if sel:
        ds = ds.sel(sel)
    group_dims = tuple(d for d in ds["basin_fraction"].dims if d != "attractor_id")
    grid_dims = tuple(d for d in ds["attractor"].dims if d not in group_dims)
    if len(grid_dims) != 2:
        raise ValueError(f"plot.basins: needs a 2-D grid of initial points; the labels' grid dims are {list(grid_dims)}")
    combos = list(itertools.product(*(range(ds.sizes[d]) for d in group_dims)))
    if len(combos) > MAX_PANELS:
        raise ValueError(f"plot.basins: {len(combos)} panels (dims {list(group_dims)}); choose some with sel=...")
    all_fractions = ds["basin_fraction"].transpose(*group_dims, "attractor_id").values.reshape(len(combos), -1)
    numbers, n_shown = matched_attractors(ds, all_fractions)
    colors = [UNRESOLVED_COLOR, DIVERGED_COLOR] + _attractor_colors(n_shown)
    cmap = ListedColormap(colors)
    ncols = ncols or min(len(combos), 3)
    nrows = math.ceil(len(combos) / ncols)
    xdim, ydim = grid_dims
    x, y = ds[xdim].values, ds[ydim].values
    ratio = abs((y[-1] - y[0]) / (x[-1] - x[0])) if x[-1] != x[0] else 1.0
    equal = 0.25 <= ratio <= 4
    fraction = ds["basin_fraction"].transpose(*group_dims, "attractor_id").values.reshape(len(combos), -1)
    others = np.stack([ds[v].values.reshape(-1) for v in ("diverged_fraction", "unresolved_fraction")], axis=1)
    entries = int(np.max((fraction > 0).sum(axis=1) + (others > 0).sum(axis=1))) if legend else 0
    height = panel_size * (min(ratio, 1.5) if equal else 1.0) + 0.8 + 0.17 * entries
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel_size * ncols, height * nrows), squeeze=False)
    for k, (ax, combo) in enumerate(zip(axes.ravel(), combos)):
        index = dict(zip(group_dims, combo))
        panel = ds.isel(index)
        labels = panel["attractor"].transpose(ydim, xdim).values
        lookup = numbers[k]
        labels = np.where(labels >= 0, lookup[np.clip(labels, 0, None)], labels)
        dx = (x[-1] - x[0]) / max(len(x) - 1, 1) / 2
        dy = (y[-1] - y[0]) / max(len(y) - 1, 1) / 2
        ax.imshow(labels + 2, origin="lower", cmap=cmap, vmin=-0.5, vmax=len(colors) - 0.5, interpolation="nearest",
                  extent=(x[0] - dx, x[-1] + dx, y[0] - dy, y[-1] + dy), aspect="equal" if equal else "auto")
        fraction = panel["basin_fraction"].values
        wandering = panel["basin_nonperiodic_fraction"].values if "basin_nonperiodic_fraction" in panel \
            else np.zeros_like(fraction)
        handles = []
        for a in sorted(np.flatnonzero(fraction > 0), key=lambda a: lookup[a]):
            label = _describe(ds, int(a), float(fraction[a]), float(wandering[a]), number=int(lookup[a]))
            handles.append(Patch(color=colors[lookup[a] + 2], label=label))
            if markers:
                cycle = panel["attractor_cycle"].values[a]
                cycle = cycle[np.all(np.isfinite(cycle), axis=1)]
                if len(cycle) == 1:
                    ax.plot(cycle[0, 0], cycle[0, 1], "o", ms=7, mfc="white", mec="black", mew=1.2)
                else:
                    closed = np.vstack([cycle, cycle[:1]])
                    ax.plot(closed[:, 0], closed[:, 1], "-", color="black", lw=0.8)
                    ax.plot(cycle[:, 0], cycle[:, 1], "D", ms=4, mfc="white", mec="black", mew=1.0)
        for name, value, color in (("diverged", panel["diverged_fraction"], DIVERGED_COLOR),
                                   ("unresolved", panel["unresolved_fraction"], UNRESOLVED_COLOR)):
            if float(value) > 0:
                handles.append(Patch(facecolor=color, edgecolor="0.5", label=f"{name} ({_percent(float(value))})"))
        ax.set_xlim(x[0] - dx, x[-1] + dx)
        ax.set_ylim(y[0] - dy, y[-1] + dy)
        ax.set_xlabel(xdim)
        ax.set_ylabel(ydim)
        fixed = {name: ds[name].values for name in ds.coords if ds[name].ndim == 0}  # dims selected away
        ax.set_title(_panel_title(ds, {**fixed, **{d: ds[d].values[i] for d, i in index.items()}}), fontsize=10)
        if legend and handles:
            ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.17), fontsize=7.5, frameon=False,
                      ncol=1)
    for ax in axes.ravel()[len(combos):]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig


def steady_step(optimizer, g, hyper=None) -> np.ndarray:
    """The step w_{t} − w_{t−1} an optimizer settles to when its gradient is held at ``g``
    (each coordinate on its own; at most ``STEADY_STEPS`` steps, stopping once the step changes by
    less than 1e-9 of itself). Odd in g. Weight decay does not enter (the step is taken from w = 0)."""
    from ..optimizers import get_optimizer

    opt = get_optimizer(optimizer)
    values = {**opt.defaults(), **(hyper or {})}
    if not np.isscalar(values["lr"]):
        raise ValueError("steady_step: lr must be a number (one field per learning rate)")
    lr = float(values["lr"])
    h = tuple(float(values[name]) for name in opt.float_hypers)
    flags = tuple(bool(values[name]) for name in opt.flags)
    update, init = python_function(opt.update), python_function(opt.init)
    g = np.asarray(g, dtype=float)
    magnitude = np.abs(g)
    positive = magnitude[magnitude > 0]
    if positive.size == 0:
        return np.zeros_like(g)
    table_g = np.geomspace(positive.min(), positive.max(), 64) if positive.max() > positive.min() else positive[:1]
    table_step = np.empty(table_g.size)
    for i, gi in enumerate(table_g):
        state, last = init(h), math.inf
        for t in range(1, STEADY_STEPS + 1):
            step, state = update(0.0, float(gi), state, t, lr, h, flags)
            if abs(step - last) <= 1e-9 * abs(step):
                break
            last = step
        table_step[i] = step
    # φ is odd: φ(g) = g·r(|g|) with the effective preconditioner r = φ(|g|)/|g|, interpolated
    # log-log (exact on power laws: r constant for SGD, ∝ 1/|g| for Adam far from ε)
    ratio = table_step / table_g
    at = np.log(np.maximum(magnitude, table_g[0]))
    size = np.exp(np.interp(at, np.log(table_g), np.log(np.maximum(np.abs(ratio), 1e-300))))
    sign = np.sign(ratio)[np.clip(np.searchsorted(np.log(table_g), at), 0, table_g.size - 1)]
    return g * sign * size


def _default_extent(land, params, trajectories):
    if trajectories is not None and "trajectory" in trajectories:
        path = trajectories["trajectory"]
        xs, ys = path.sel(coord="x").values, path.sel(coord="y").values
        finite = np.isfinite(xs) & np.isfinite(ys)
        lo = np.array([xs[finite].min(), ys[finite].min()])
        hi = np.array([xs[finite].max(), ys[finite].max()])
    else:
        points = np.array([cp.location for cp in land.critical_points(params)] or [(0.0, 0.0)])
        lo, hi = points.min(axis=0), points.max(axis=0)
    pad = 0.15 * max(float(np.max(hi - lo)), 1.0)
    return (lo[0] - pad, hi[0] + pad, lo[1] - pad, hi[1] + pad)


_CRITICAL_MARKERS = {"minimum": ("*", 13), "saddle": ("X", 9), "maximum": ("^", 9)}


def phase_portrait(landscape, optimizer=None, trajectories: xr.Dataset | None = None, hyper=None, params=None,
                   extent=None, ax=None, density: float = 1.0, levels: int = 16, max_trajectories: int = 40):
    """Loss contours, the (preconditioned) vector field and trajectories of a 2-D landscape.

    ``optimizer`` (a name or sd.Optimizer, with ``hyper``): streamlines of its steady step under
    a frozen gradient (:func:`steady_step`), the field its updates follow; without it, −∇f.
    ``trajectories``: a dataset with a recorded ``trajectory`` (``sd.simulate(...,
    record_every=k)``); up to ``max_trajectories`` of them are drawn (start ○, end ●), coloured
    by optimizer when the dataset holds several. ``extent`` = (x_min, x_max, y_min, y_max)
    (default: around the trajectories, else around the known critical points).
    """
    plt = pyplot()

    from ..landscapes import get_landscape

    land = get_landscape(landscape)
    if land.dim != 2:
        raise ValueError(f"phase_portrait: needs a 2-D landscape, {land.name!r} has dimension {land.dim}")
    values = {**land.params, **(params or {})}
    p = land.flat_params(values)
    extent = extent or _default_extent(land, values, trajectories)
    x = np.linspace(extent[0], extent[1], 121)
    y = np.linspace(extent[2], extent[3], 121)
    gx, gy = np.meshgrid(x, y)
    grad, loss = python_function(land.grad), python_function(land.loss)
    gu, gv, f = (np.empty_like(gx) for _ in range(3))
    for i, j in np.ndindex(gx.shape):
        g = grad((float(gx[i, j]), float(gy[i, j])), p, 1)
        gu[i, j], gv[i, j] = g
        f[i, j] = loss((float(gx[i, j]), float(gy[i, j])), p, 1)
    if optimizer is not None:
        su, sv = steady_step(optimizer, gu, hyper), steady_step(optimizer, gv, hyper)
        field = f"{getattr(optimizer, 'name', optimizer)} steady-step field"
    else:
        su, sv = -gu, -gv
        field = "-grad f"
    norm = np.hypot(su, sv)
    norm = np.where(norm > 0, norm, 1.0)
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.4, 6.0))
    else:
        fig = ax.figure
    shifted = f - np.nanmin(f)
    contour_levels = np.unique(np.quantile(shifted, np.linspace(0, 1, levels + 1)[1:-1]))
    ax.contourf(gx, gy, shifted, levels=np.concatenate([[0], contour_levels, [shifted.max()]]), cmap="YlGnBu_r",
                alpha=0.3)
    ax.contour(gx, gy, shifted, levels=contour_levels, colors="0.6", linewidths=0.5)
    ax.streamplot(gx, gy, su / norm, sv / norm, color="0.35", density=density, linewidth=0.5, arrowsize=0.7)
    for cp in land.critical_points(values):
        marker, size = _CRITICAL_MARKERS[cp.kind]
        if extent[0] <= cp.location[0] <= extent[1] and extent[2] <= cp.location[1] <= extent[3]:
            ax.plot(*cp.location, marker=marker, ms=size, color="gold" if cp.kind == "minimum" else "crimson",
                    mec="black", mew=0.8, zorder=5, ls="none")
    if trajectories is not None and "trajectory" in trajectories:
        _draw_trajectories(ax, trajectories, max_trajectories)
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title(f"{land.name}: {field}", fontsize=10)
    fig.tight_layout()
    return fig


def _draw_trajectories(ax, ds: xr.Dataset, limit: int):
    import matplotlib

    traj = ds["trajectory"]
    optimizers = list(traj["optimizer"].values) if "optimizer" in traj.dims else [None]
    palette = matplotlib.colormaps["tab10"].colors
    for o, opt in enumerate(optimizers):
        paths = traj.sel(optimizer=opt) if opt is not None else traj
        batch = [d for d in paths.dims if d not in ("step", "coord")]
        stacked = paths.transpose(*batch, "step", "coord").values.reshape(-1, paths.sizes["step"], 2)
        chosen = np.unique(np.linspace(0, len(stacked) - 1, min(limit, len(stacked))).round().astype(int))
        color = palette[o % len(palette)] if len(optimizers) > 1 else None
        for k, i in enumerate(chosen):
            xs, ys = stacked[i, :, 0], stacked[i, :, 1]
            c = color or palette[k % len(palette)]
            ax.plot(xs, ys, lw=1.0, color=c, alpha=0.9, zorder=3,
                              label=str(opt) if (opt is not None and k == 0) else None)
            ax.plot(xs[0], ys[0], "o", ms=4, mfc="white", mec=c, zorder=4)
            ax.plot(xs[-1], ys[-1], "o", ms=4, color=c, zorder=4)
    if len(optimizers) > 1:
        ax.legend(fontsize=8, loc="best")


def _category(ds: xr.Dataset, a: int, by: str) -> str:
    kind = str(ds["attractor_kind"].values[a])
    name = str(ds["attractor_name"].values[a]) or "unnamed"
    if by == "attractor":
        return _describe(ds, a, 0.0).rsplit(" (", 1)[0]
    return f"{name} ({'fixed point' if kind == 'fixed_point' else 'cycles'})"


def basin_fractions(ds: xr.Dataset, along: str | None = None, by: str = "name", ax=None, panel_size=(5.0, 3.6)):
    """Basin fractions against a swept dim (``along``, default: the last swept dim) as stacked
    areas, one panel per combination of the other swept dims (e.g. per optimizer).

    ``by="name"`` groups the attractors by the critical point they sit at or around and by kind
    (fixed point / cycles), ``by="attractor"`` shows each matched attractor
    (:func:`matched_attractors`: one band for the same orbit at every learning rate); diverged and
    unresolved initial points complete the stack to 1.
    """
    plt = pyplot()

    if by not in ("name", "attractor"):
        raise ValueError(f"by must be 'name' or 'attractor', got {by!r}")
    group_dims = tuple(d for d in ds["basin_fraction"].dims if d != "attractor_id")
    if not group_dims:
        raise ValueError("basin_fractions: the dataset has no swept dim to plot against")
    along = along or group_dims[-1]
    if along not in group_dims:
        raise ValueError(f"basin_fractions: along={along!r} is not a swept dim ({list(group_dims)})")
    others = tuple(d for d in group_dims if d != along)
    fractions = ds["basin_fraction"].transpose(*group_dims, "attractor_id")
    if by == "attractor":  # category k: the attractors matched to identity k, panel by panel
        numbers, n_matched = matched_attractors(ds, fractions.values.reshape(-1, ds.sizes["attractor_id"]))
        member = xr.DataArray(numbers.reshape(fractions.shape), dims=fractions.dims)
        categories = []
        for k in range(n_matched):
            a = int(np.argwhere(numbers == k)[0][1])
            categories.append(f"{k}: " + _category(ds, a, by).split(": ", 1)[1])
    else:
        categories = []
        for a in range(ds.sizes["attractor_id"]):
            c = _category(ds, a, by)
            if c not in categories:
                categories.append(c)
        member = xr.DataArray(np.array([categories.index(_category(ds, a, by)) for a in range(ds.sizes["attractor_id"])]),
                              dims="attractor_id")
    palette = _attractor_colors(len(categories))
    combos = list(itertools.product(*(range(ds.sizes[d]) for d in others)))
    if ax is not None and len(combos) > 1:
        raise ValueError("basin_fractions: ax= works for one panel; the dataset has several")
    if ax is None:
        ncols = min(len(combos), 2)
        nrows = math.ceil(len(combos) / ncols)
        fig, axes = plt.subplots(nrows, ncols, figsize=(panel_size[0] * ncols, panel_size[1] * nrows), squeeze=False)
        axes = axes.ravel()
    else:
        fig, axes = ax.figure, np.array([ax])
    x = ds[along].values
    geometric = np.all(x > 0) and len(x) > 2 and x.max() / x.min() > 20
    for panel, combo in zip(axes, combos):
        sel = ds.isel(dict(zip(others, combo)))
        fraction = sel["basin_fraction"].transpose(along, "attractor_id").values
        which = member.isel({d: i for d, i in zip(others, combo) if d in member.dims})
        which = np.broadcast_to(which.transpose(*[d for d in (along, "attractor_id") if d in which.dims]).values,
                                fraction.shape) if along in which.dims else np.broadcast_to(which.values, fraction.shape)
        layers = [np.where(which == k, fraction, 0.0).sum(axis=1) for k in range(len(categories))]
        layers += [sel["diverged_fraction"].values, sel["unresolved_fraction"].values]
        colors = palette + [DIVERGED_COLOR, UNRESOLVED_COLOR]
        labels = categories + ["diverged", "unresolved"]
        keep = [i for i, layer in enumerate(layers) if np.any(layer > 0)]
        panel.stackplot(x, *[layers[i] for i in keep], colors=[colors[i] for i in keep],
                        labels=[labels[i] for i in keep], alpha=0.9, edgecolor="white", linewidth=0.3)
        if geometric:
            panel.set_xscale("log")
        panel.set_xlim(x.min(), x.max())
        panel.set_ylim(0, 1)
        panel.set_xlabel(along)
        panel.set_ylabel("basin fraction")
        title = " ".join(f"{d}={sel[d].values}" if d != "optimizer" else str(sel[d].values) for d in others)
        panel.set_title(f"{title or ds.attrs.get('optimizer', '')} on {ds.attrs.get('landscape', '')}", fontsize=10)
        panel.legend(fontsize=7, loc="lower left", framealpha=0.8)
    for panel in axes[len(combos):]:
        panel.set_visible(False)
    if ax is None:
        fig.tight_layout()
    return fig
