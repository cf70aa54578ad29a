"""Gradient noise models for stochastic-gradient studies."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Gaussian:
    """Additive Gaussian gradient noise: g̃_t = ∇f(w_{t-1}) + σ·ξ_t, ξ_t ~ N(0, I).

    ξ comes from a counter-based generator (Philox4x32-10 + Box–Muller, see
    :mod:`simdyn.engine.rng`) keyed by (seed, global trajectory index, step, coordinate): a
    trajectory's noise does not depend on the batch it runs in, the thread count or the target.
    """

    sigma: float
    seed: int = 0

    def __post_init__(self):
        if isinstance(self.sigma, (bool, np.bool_)) or not isinstance(self.sigma, (int, float, np.integer, np.floating)):
            raise TypeError(f"noise.Gaussian: sigma must be a number, got {self.sigma!r}")
        if not (math.isfinite(self.sigma) and self.sigma >= 0):
            raise ValueError(f"noise.Gaussian: sigma must be finite and >= 0, got {self.sigma!r}")
        if isinstance(self.seed, (bool, np.bool_)) or not isinstance(self.seed, (int, np.integer)) \
                or not 0 <= self.seed < 2**63:
            raise ValueError(f"noise.Gaussian: seed must be an integer in [0, 2**63), got {self.seed!r}")
        object.__setattr__(self, "sigma", float(self.sigma))
        object.__setattr__(self, "seed", int(self.seed))

    def attrs(self) -> dict:
        return {"noise": "gaussian", "noise_sigma": float(self.sigma), "noise_seed": int(self.seed)}
