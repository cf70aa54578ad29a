"""Studies that run simulations and reduce them: above the engine and ``simulate``, below the
command line. ``sd.basins`` and ``sd.period_scan`` are the public names."""

from .basins import basins
from .period_scan import period_scan

__all__ = ["basins", "period_scan"]
