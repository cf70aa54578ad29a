"""In-kernel streaming observers (see :mod:`simdyn.observe.base` for the protocol)."""

from .base import Observer
from .exit import Exit
from .hitting import Hitting
from .loss import LossTrace, Trainability
from .lyapunov import Lyapunov
from .path import MaxStep, PathLength
from .period import Period
from .sharpness import Sharpness
from .tail import Tail

__all__ = ["Exit", "Hitting", "LossTrace", "Lyapunov", "MaxStep", "Observer", "PathLength", "Period", "Sharpness", "Tail",
           "Trainability"]
