"""The standard figures of a simdyn file: whichever of these its variables allow.

* ``status``: :func:`~simdyn.plot.status.status_map` on a 2-D grid of initial points (else
  :func:`~simdyn.plot.status.status_fractions`) — every ``simulate`` file has ``status``;
* ``period`` (per optimizer): :func:`~simdyn.plot.periods.period_map` over two swept dims, or the
  orbit diagram :func:`~simdyn.plot.periods.bifurcation` over one (needs ``orbit`` or ``tail``);
* ``basins``: :func:`~simdyn.plot.basins.basins` of an ``sd.basins`` dataset;
* ``survival_<var>``: :func:`~simdyn.plot.escape.survival` of ``exit_step`` / ``hit_step``.

:func:`summary_figure` is the one figure ``simdyn run`` writes next to its netCDF file: the
status map (or fractions) of every group of the study, one row each. ``simdyn plot FILE`` writes
:func:`standard_figures` of every group.
"""

from __future__ import annotations

import xarray as xr

from ._matplotlib import pyplot
from .status import MAX_PANELS, grid_dims, panel_dims, status_fractions, status_map


def _draws_a_map(ds: xr.Dataset) -> bool:
    sizes = [ds.sizes[d] for d in panel_dims(ds)]
    panels = 1
    for n in sizes:
        panels *= n
    return len(grid_dims(ds)) == 2 and panels <= MAX_PANELS


def status_figure(ds: xr.Dataset, fig=None):
    """:func:`status_map` when the initial set is a 2-D grid and the panels are few, else
    :func:`status_fractions`."""
    return status_map(ds, fig=fig) if _draws_a_map(ds) else status_fractions(ds, fig=fig)


def _period_figures(ds: xr.Dataset) -> dict:
    from .periods import bifurcation, period_map

    swept = [d for d in panel_dims(ds) if d != "optimizer"]
    optimizers = [str(o) for o in ds["optimizer"].values] if "optimizer" in ds.dims else [None]
    figures = {}
    for opt in optimizers:
        part = ds.sel(optimizer=opt) if opt else ds
        name = f"period_{opt}" if opt else "period"
        if len(swept) >= 2:
            x = "lr" if "lr" in swept else swept[0]
            y = next(d for d in swept if d != x)
            figures[name] = period_map(part, x=x, y=y, amplitude="cycle_amplitude" in part)
        elif len(swept) == 1 and ("orbit" in part or "tail" in part):
            figures[name] = bifurcation(part, param=swept[0])
    return figures


def standard_figures(ds: xr.Dataset) -> dict:
    """``{name: Figure}`` for every standard figure the variables of ``ds`` allow (see the
    module docstring); figures that cannot be drawn (e.g. too many basin panels) are left out."""
    figures = {"status": status_figure(ds)} if "status" in ds else {}
    if "period" in ds and "status" in ds:
        figures.update(_period_figures(ds))
    if "attractor" in ds and "basin_fraction" in ds:
        from .basins import MAX_PANELS as BASIN_PANELS
        from .basins import basins

        panels = 1
        for d in ds["basin_fraction"].dims:
            if d != "attractor_id":
                panels *= ds.sizes[d]
        if panels <= BASIN_PANELS and len([d for d in ds["attractor"].dims if d not in ds["basin_fraction"].dims]) == 2:
            figures["basins"] = basins(ds)
    for var in ("exit_step", "hit_step"):
        if var in ds and "w0" in ds:
            from .escape import survival

            figures[f"survival_{var}"] = survival(ds, var=var)
    return figures


def summary_figure(datasets: dict):
    """One figure of the status of every group: ``datasets`` is ``{group name: Dataset}`` (one
    entry, any name, for a file without groups); each group gets a row (:func:`status_figure`)."""
    plt = pyplot()

    heights = []
    for ds in datasets.values():
        rows = 1
        if _draws_a_map(ds):
            panels = 1
            for d in panel_dims(ds):
                panels *= ds.sizes[d]
            rows = -(-panels // 3)
        heights.append(4.4 * rows)
    fig = plt.figure(figsize=(11.0, sum(heights) + 0.3 * len(datasets)), layout="constrained")
    subfigs = fig.subfigures(len(datasets), 1, height_ratios=heights, squeeze=False)[:, 0]
    for sub, (name, ds) in zip(subfigs, datasets.items()):
        status_figure(ds, fig=sub)
        if len(datasets) > 1:
            sub.suptitle(f"group {name}", fontsize=11, fontweight="bold")
    return fig
