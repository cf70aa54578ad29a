"""Post-processing of simdyn datasets: periods, escape statistics, basins.

One module per analysis; this module re-exports the public functions.
"""
