"""simdyn: optimizer dynamics as discrete dynamical systems, simulated at scale.

    import simdyn as sd
    ds = sd.simulate("adam", "valley", x0=sd.grid(x=(-1, 1, 64), y=(-1, 1, 64)), steps=1000)
"""

from . import io as _io  # registers the ``ds.simdyn`` accessor
from . import analysis, noise, observe, plot, schedule
from ._version import __version__
from .engine.kernels import cache_info
from .initial import ball, grid
from .io import load, save
from .landscapes import LANDSCAPES, CriticalPoint, Landscape, get_landscape
from .optimizers import OPTIMIZERS, Hyper, Optimizer, get_optimizer
from .analysis.boundaries import basin_entropy, uncertainty_exponent
from .analysis.box_counting import box_counting_dimension
from .analysis.escape import escape_statistics
from .simulate import simulate
from .studies import basins, period_scan
from .tangent import continue_orbit, lyapunov, refine_orbits

__all__ = [
    "LANDSCAPES",
    "OPTIMIZERS",
    "CriticalPoint",
    "Hyper",
    "Landscape",
    "Optimizer",
    "__version__",
    "analysis",
    "ball",
    "basin_entropy",
    "basins",
    "box_counting_dimension",
    "cache_info",
    "continue_orbit",
    "escape_statistics",
    "get_landscape",
    "get_optimizer",
    "grid",
    "load",
    "lyapunov",
    "noise",
    "observe",
    "period_scan",
    "plot",
    "refine_orbits",
    "save",
    "schedule",
    "simulate",
    "uncertainty_exponent",
]
