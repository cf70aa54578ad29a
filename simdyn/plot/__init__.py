"""Plots of simdyn datasets (matplotlib, a dependency of simdyn, imported when a function is called).

Each function takes a Dataset (or a landscape) and returns the matplotlib Figure it drew on, so
scripts can ``fig.savefig(...)``. One module per analysis; this module re-exports them.
"""

from .basins import basin_fractions, basins, phase_portrait
from .boundaries import box_counting
from .branches import orbit_branches
from .escape import escape_scaling, survival, vector_field
from .periods import bifurcation, period_map
from .standard import standard_figures, summary_figure
from .status import status_fractions, status_map
