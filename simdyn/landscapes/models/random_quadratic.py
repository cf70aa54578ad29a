"""``random_quadratic``: ½ wᵀ H w with a prescribed spectrum in a random orientation.

Formula
    f(w) = ½ wᵀ H w,  H = Q diag(λ₁ … λ_d) Qᵀ,  ∇f(w) = H w
    Q is a rotation drawn from the Haar measure on SO(d) (``scipy.stats.special_ortho_group``,
    seeded), so H has exactly the given eigenvalues and eigenvectors in no preferred direction
    (the standard test problem of optimizer analyses, e.g. Goh 2017, "Why momentum really works").
Critical points
    The origin: a minimum when every λ > 0, a maximum when every λ < 0, a saddle with both signs
    (from :func:`simdyn.landscapes.quadratic`); none is listed when some λ = 0.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import special_ortho_group

from ..quadratic import quadratic


def random_quadratic(d, eigenvalues, seed=0, form=None):
    """The landscape ½ wᵀ Q diag(eigenvalues) Qᵀ w, Q a Haar-random rotation seeded by ``seed``.

    ``d``: the dimension; ``eigenvalues``: d numbers (the spectrum of H); ``form``: as in
    :func:`simdyn.landscapes.quadratic` (tuple form up to d = 8, array form above).
    The matrix is available as ``landscape.hessian``, the arguments as ``landscape.arguments``
    (saved with a run, so ``{"name": "random_quadratic", **arguments}`` rebuilds it).
    """
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1:
        raise ValueError(f"random_quadratic: d must be an integer >= 1, got {d!r}")
    try:
        lam = np.array(eigenvalues, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise TypeError("random_quadratic: eigenvalues must be d numbers") from None
    if lam.size != d:
        raise ValueError(f"random_quadratic: eigenvalues must have d = {d} entries, got {lam.size}")
    if not np.all(np.isfinite(lam)):
        raise ValueError("random_quadratic: eigenvalues must be finite")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"random_quadratic: seed must be an integer >= 0, got {seed!r}")
    q = np.eye(1) if d == 1 else special_ortho_group.rvs(int(d), random_state=int(seed))
    h = (q * lam) @ q.T
    h = 0.5 * (h + h.T)
    land = quadratic(h, form=form)
    land.name = "random_quadratic"
    land.formula = "0.5 * w^T H w, H = Q diag(eigenvalues) Q^T, Q Haar-random in SO(d)"
    land.doc = __doc__
    land.hessian = h
    land.rotation = q
    #: what rebuilds it by name (simdyn.landscapes.BUILDERS); files store it
    land.arguments = {"d": int(d), "eigenvalues": lam.tolist(), "seed": int(seed), "form": land.form}
    return land
