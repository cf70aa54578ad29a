"""The box-counting fit of a boundary (:func:`simdyn.box_counting_dimension`).

* :func:`box_counting`: log N(ε) against log(1/ε) (ε in grid cells), one series of points per
  combination of the kept dims, the fitted line log N = D log(1/ε) + c over the fit range, and D
  ± its standard error in the legend. Returns the matplotlib Figure.
"""

from __future__ import annotations

import itertools

import numpy as np
import xarray as xr

from ._matplotlib import pyplot


def box_counting(bc: xr.Dataset, ax=None):
    """log N(ε) against log(1/ε) with the least-squares line of each fit (dashed) and D ± its
    standard error in the legend; ``bc`` is the Dataset :func:`simdyn.box_counting_dimension`
    returns."""
    if "box_count" not in bc or "dimension" not in bc:
        raise ValueError("plot.box_counting: expected the dataset of sd.box_counting_dimension (variables "
                         "'box_count', 'dimension')")
    plt = pyplot()
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.5, 4.2))
    else:
        fig = ax.figure
    group_dims = bc["dimension"].dims
    inverse = 1.0 / bc["box"].values.astype(float)
    for combo in itertools.product(*(range(bc.sizes[d]) for d in group_dims)):
        panel = bc.isel(dict(zip(group_dims, combo)))
        counts = panel["box_count"].values.astype(float)
        used = panel["fit_used"].values
        label = " ".join(f"{d}={panel[d].values.item()}" for d in group_dims if d in panel.coords)
        dots = ax.plot(np.log(inverse[used]), np.log(counts[used]), "o", label=label or None)[0]
        if not np.all(used):
            ax.plot(np.log(inverse[~used & (counts > 0)]), np.log(counts[~used & (counts > 0)]), "o",
                    mfc="none", color=dots.get_color())
        dimension = float(panel["dimension"])
        if np.isfinite(dimension):
            x = np.log(inverse[used])
            stderr = float(panel["dimension_stderr"])
            ax.plot(x, dimension * x + float(panel["fit_intercept"]), "--", color=dots.get_color(),
                    label=f"D = {dimension:.3f}" + (f" ± {stderr:.3f}" if np.isfinite(stderr) else ""))
    ax.set_xlabel("log(1/ε), ε = box side in grid cells")
    ax.set_ylabel("log N(ε), boxes holding boundary")
    ax.set_title(f"box counting over {bc.attrs.get('grid_dims', '')} ({bc.attrs.get('labels', '')})", fontsize=10)
    ax.legend(fontsize=8, frameon=False)
    fig.tight_layout()
    return fig
