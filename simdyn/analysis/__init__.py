"""Post-processing of simdyn datasets and closed forms: periods, escape statistics, basin
boundaries, attractor mapping and matching. Nothing here runs a simulation (the drivers that do,
``sd.basins`` and ``sd.period_scan``, are in :mod:`simdyn.studies`).

One module per analysis; this module re-exports the public functions.
"""

from .boundaries import basin_entropy, boundary_mask, uncertainty_exponent
from .box_counting import box_counting_dimension
from .escape import escape_statistics, escape_table, kaplan_meier
from .flat import adam_flat_distance_bound, adam_step_bound, adam_step_bound_at, extremal_history
from .periods import adam_two_cycle, adam_two_cycle_multipliers, proposition4_residual, two_cycle_stability_boundary
