"""Tangent dynamics: derivatives of the step map, derived from the one scalar source.

* :mod:`~simdyn.tangent.forward`: forward-mode differentiation of plain scalar Python by source
  transformation (:func:`jvp`);
* :mod:`~simdyn.tangent.stepmap`: the step map z → z′ of an optimizer on a landscape and its
  Jacobian–vector product (:class:`StepMap`);
* :mod:`~simdyn.tangent.drivers`: compiled loops over trajectories (batched JVPs, Fᵖ and its
  Jacobian, Benettin's method);
* :mod:`~simdyn.tangent.orbits`: Newton refinement of periodic orbits, Floquet multipliers,
  continuation in one parameter (:func:`refine_orbits`, :func:`continue_orbit`);
* :mod:`~simdyn.tangent.lyapunov`: Lyapunov exponents (:func:`lyapunov`).
"""

from .drivers import jvp_batch
from .forward import jvp
from .lyapunov import lyapunov
from .orbits import continue_orbit, floquet_moduli, newton_orbits, refine_orbits, stability_changes
from .stepmap import T_INFINITY, StepMap, step_map

__all__ = ["StepMap", "T_INFINITY", "continue_orbit", "floquet_moduli", "jvp", "jvp_batch", "lyapunov", "newton_orbits",
           "refine_orbits", "stability_changes", "step_map"]
