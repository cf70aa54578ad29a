"""``Lyapunov``: the largest Lyapunov exponent of every trajectory, computed inside the kernel.

The state z_t = (w_t, s_t) of a trajectory (the d parameters, then each optimizer slot for every
coordinate, slot-major) evolves by the step map z_t = F_t(z_{t−1}). A tangent vector ż evolves by
its Jacobian, ż_t = J_t(z_{t−1})·ż_{t−1}, and the largest exponent is its growth rate

    λ₁ = lim_{T→∞} (1/T) ln ‖J_T ⋯ J_1 ż₀‖ = (1/T) Σ_r ln ‖ż_{t_r}‖   (ż renormalised at the t_r)

(Benettin, Galgani, Giorgilli & Strelcyn, Meccanica 15, 1980; the one-vector form of
:func:`simdyn.lyapunov`). The kernel generator emits the forward-mode JVP of the step
(:mod:`simdyn.tangent.forward`: the gradient's JVP is the Hessian–vector product, then each
coordinate's ``update`` and the projection), so the state and its tangent advance in the same
fused step; ż lives in this observer's first d·(1 + slots) slots. Every ``renormalize_every``
steps (t a multiple of it) ż is divided by 2ᵉ, e = ⌊log₂ maxᵢ |żᵢ|⌋ (its largest component lands
in [1, 2), ‖ż‖ in [1, 2√n)), and, after the transient, e·ln 2 is added to ``log_stretch``. The
method needs only that ż be kept away from overflow and that the factors it was divided by be
accounted for, ln ‖J_T ⋯ J_1 ż₀‖ = Σ ln(factors) + ln ‖ż_T‖ for any factors; a power of two
divides exactly, and costs no square root, division or logarithm (on the CPU a few integer
operations on the bits, inside the vectorised step loop). ``stretch`` stays 1 with one vector
(it carries the spectrum's products, below). The stretch since the last renormalisation is
added in ``finalize`` from the norm of the final ż, so the result does not depend on where the
renormalisations fall.
ż starts along (1, …, 1)/√n, and restarts there after step ``transient``.

``spectrum=True`` carries p tangent vectors (``n_exponents``, default n) and, every
``renormalize_every`` steps, orthonormalises them by modified Gram–Schmidt, Q_t R_t = J_t ⋯ Q_{t−k}:
vector c is made orthogonal to the vectors before it and divided by its norm r_cc, which goes
into its own ``stretch`` product (Benettin et al. 1980, part 2; Parker & Chua, *Practical
Numerical Algorithms for Chaotic Systems*, 1989, §5.3), so that λ_c = Σ ln r_cc / T; every
max(8, ``renormalize_every``) steps the logarithm of each ``stretch`` is added to its
``log_stretch`` and ``stretch`` restarts at 1 (a product of norms with a logarithm every few
steps: the square roots and divisions vectorise on the CPU, the logarithm does not). The frame
starts at the identity (p = n; otherwise (1, …, 1)/√n and fixed generic vectors,
:func:`simdyn.engine.codegen.start_frame`); ``finalize`` adds the r_cc of the last, partial
interval. Each vector costs one JVP of the step, and the Gram–Schmidt p²n/2 products, so the
state dimension is limited to 32 (an error names ``spectrum``).

Output ``lyapunov`` = (log_stretch + ln stretch + ln ‖ż_T‖) / (number of steps after ``transient``
on which the trajectory moved), in natural log per step; a trajectory frozen (diverged or
non-finite) stops accumulating, and one with no step after the transient gets NaN. ż overflows
only if it grows by more than 10³⁰⁸ within ``renormalize_every`` steps. With the spectrum, in
float64 the product of the norms between two logarithms overflows (NaN) or underflows (−∞) only
when a vector grows or shrinks by a factor beyond 10³⁰⁸ over max(8, k) + k steps (k =
``renormalize_every``), i.e. |λ| above about 700/(max(8, k) + k) per step.
"""

from __future__ import annotations

import numbers

import numpy as np

from .base import Observer

#: Steps between the logarithms of the spectrum's accumulated stretch (at least
#: ``renormalize_every``): a product of the norms over 8 steps stays within float64 unless a
#: vector grows or shrinks by more than 10³⁸ in one step.
LOG_EVERY = 8


#: The largest state dimension d·(1 + slots) that ``spectrum=True`` accepts (the kernel carries
#: n² tangent numbers per trajectory and its generated Gram–Schmidt grows as n³).
MAX_SPECTRUM = 32


def _integer(value, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not low <= value <= high:
        raise ValueError(f"Lyapunov({name}): must be an integer in [{low}, {high}], got {value!r}")
    return int(value)


def gram_schmidt_diagonal(frame: np.ndarray) -> np.ndarray:
    """|r_cc| of the QR factorisation of each (n, p) frame in ``frame`` (N, n, p), by modified
    Gram–Schmidt (Golub & Van Loan, Matrix Computations, §5.2.8), the same sweep as the kernel's."""
    q = np.array(frame, dtype=np.float64)
    out = np.empty((q.shape[0], q.shape[2]))
    for c in range(q.shape[2]):
        for b in range(c):
            q[:, :, c] -= np.sum(q[:, :, b] * q[:, :, c], axis=1)[:, None] * q[:, :, b]
        out[:, c] = np.sqrt(np.sum(q[:, :, c] * q[:, :, c], axis=1))
        with np.errstate(divide="ignore", invalid="ignore"):
            q[:, :, c] /= out[:, c][:, None]
    return out


class Lyapunov(Observer):
    """The largest Lyapunov exponent, or the spectrum: ``sd.observe.Lyapunov(spectrum=False,
    transient=0, renormalize_every=1, n_exponents=None)``.

    Adds the variable ``lyapunov`` (the largest exponent, natural log per step) and, with
    ``spectrum=True``, ``lyapunov_spectrum`` (dim ``exponent``, descending): the first
    ``n_exponents`` exponents (default all n = d·(1 + slots), at most 32), from n_exponents
    tangent vectors orthonormalised by modified Gram–Schmidt every ``renormalize_every`` steps.
    The first ``transient`` steps are run but not averaged. Method: module docstring.
    """

    name = "lyapunov"
    #: The kernel generator advances this observer's first p·n slots as p tangent vectors of the
    #: state and orthonormalises them (:mod:`simdyn.engine.codegen`); it has no init/update.
    tangent = True
    sees_state = True

    def __init__(self, spectrum: bool = False, transient: int = 0, renormalize_every: int = 1,
                 n_exponents: int | None = None):
        if not isinstance(spectrum, (bool, np.bool_)):
            raise TypeError(f"Lyapunov(spectrum): expected a bool, got {type(spectrum).__name__}")
        self.transient = _integer(transient, "transient", 0, 2**62)
        self.renormalize_every = _integer(renormalize_every, "renormalize_every", 1, 2**31)
        if n_exponents is not None:
            if not spectrum:
                raise ValueError("Lyapunov(n_exponents): only with spectrum=True")
            n_exponents = _integer(n_exponents, "n_exponents", 1, MAX_SPECTRUM)
        self.spectrum = bool(spectrum)
        self.n_exponents = n_exponents

    def width(self, dim: int) -> int:
        """n = d·(1 + slots), the length of a tangent vector."""
        return dim * (1 + self.state_slots)

    def vectors(self, dim: int) -> int:
        """p, the number of tangent vectors: 1, or ``n_exponents`` (default n) with the spectrum."""
        if not self.spectrum:
            return 1
        return self.n_exponents if self.n_exponents is not None else self.width(dim)

    def _check(self, dim: int) -> None:
        if not self.spectrum:
            return
        n = self.width(dim)
        if n > MAX_SPECTRUM:
            raise ValueError(f"Lyapunov(spectrum): the state dimension d*(1 + slots) = {n} exceeds {MAX_SPECTRUM}; "
                             "use spectrum=False for the largest exponent")
        if self.n_exponents is not None and self.n_exponents > n:
            raise ValueError(f"Lyapunov(n_exponents): at most the state dimension d*(1 + slots) = {n}, "
                             f"got {self.n_exponents}")

    def slots(self, dim):
        self._check(dim)
        n, p = self.width(dim), self.vectors(dim)
        if not self.spectrum:
            return tuple(f"tangent_{i}" for i in range(n)) + ("log_stretch", "lyapunov_steps", "stretch")
        return (tuple(f"tangent_{c}_{i}" for c in range(p) for i in range(n))
                + tuple(f"log_stretch_{c}" for c in range(p)) + ("lyapunov_steps",)
                + tuple(f"stretch_{c}" for c in range(p)))

    def params(self, dim):
        return (float(self.transient), float(self.renormalize_every), float(max(self.renormalize_every, LOG_EVERY)))

    def attrs(self):
        out = {"transient": self.transient, "renormalize_every": self.renormalize_every, "spectrum": int(self.spectrum)}
        if self.spectrum:
            out["n_exponents"] = self.vectors(1) if self.n_exponents is not None else "all"
        return out

    def cache_key(self, dim):
        return (type(self).__name__, len(self.slots(dim)), len(self.params(dim)), self.state_slots)

    def finalize(self, state, dim):
        n, p = self.width(dim), self.vectors(dim)
        names = [[f"tangent_{i}" for i in range(n)]] if not self.spectrum else \
            [[f"tangent_{c}_{i}" for i in range(n)] for c in range(p)]
        frame = np.stack([np.stack([state[name] for name in column], axis=1) for column in names], axis=2)
        suffix = [""] if not self.spectrum else [f"_{c}" for c in range(p)]
        log_stretch = np.stack([state["log_stretch" + s] for s in suffix], axis=1)
        stretch = np.stack([state["stretch" + s] for s in suffix], axis=1)
        steps = state["lyapunov_steps"][:, None]
        with np.errstate(divide="ignore", invalid="ignore"):  # r_cc of the frame since the last renormalisation
            total = log_stretch + np.log(stretch) + np.log(gram_schmidt_diagonal(frame))
            value = np.where(steps > 0, total / np.maximum(steps, 1), np.nan)
        value = np.where(np.isfinite(value), value, np.nan)
        value = -np.sort(-value, axis=1)
        out = {"lyapunov": ((), value[:, 0], {"long_name": "largest Lyapunov exponent (natural log per step)",
                                              "units": "1/step", "transient": self.transient})}
        if self.spectrum:
            out["lyapunov_spectrum"] = (("exponent",), value, {
                "long_name": "Lyapunov exponents, descending (natural log per step)", "units": "1/step",
                "transient": self.transient})
        return out
