"""Slow, obviously correct reference implementations: the oracles the tests name.

One home for them, as stumpy keeps its ``tests/naive.py``: each is a plain loop (NumPy on an
array of points, or Python integers) written from the formula of the reference it cites, never
from simdyn's code. A test imports its oracle from here (``import naive``; ``naive.adam(...)``).
"""

from __future__ import annotations

import math

import numpy as np

# -- optimizers on an array of points: grad maps an array of points to the array of gradients ---


def gradient_descent(grad, w0, lrs, record=False):
    """w_t = w_{t−1} − η_t·∇f(w_{t−1}) for t = 1 … len(lrs) (torch.optim.SGD; a schedule is a
    sequence of η_t). Returns w_T, or with ``record`` the states (len(lrs) + 1, *w0.shape)."""
    w = np.array(w0, dtype=np.float64)
    out = [w.copy()]
    for eta in lrs:
        w = w - eta * grad(w)
        out.append(w.copy())
    return np.stack(out) if record else w


def heavy_ball(grad, w0, lr, momentum, steps):
    """torch.optim.SGD(momentum=μ), Polyak's heavy ball: b_t = μ·b_{t−1} + g_t (b_0 = 0, so
    b_1 = g_1 as torch's first step), w_t = w_{t−1} − η·b_t. Returns w_T."""
    w = np.array(w0, dtype=np.float64)
    b = np.zeros_like(w)
    for _ in range(steps):
        b = momentum * b + grad(w)
        w = w - lr * b
    return w


def heavy_ball_on_the_wall(w0, lr, momentum, steps):
    """(w_t, b_t) of torch's heavy ball on f(w) = w, clipped to [−1, 1] after each step
    (b_1 = g_1 = 1, b_t = μ·b_{t−1} + 1): (steps + 1, 2)."""
    w, b = w0, 0.0
    out = [(w, b)]
    for t in range(1, steps + 1):
        b = 1.0 if t == 1 else b * momentum + 1.0
        w = min(max(w - lr * b, -1.0), 1.0)
        out.append((w, b))
    return np.array(out)


def adam(grad, w0, steps, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, bias_correction=True,
         eps_inside_sqrt=False, aten_order=False, record=False):
    """Adam (Kingma & Ba 2015; torch.optim.Adam) in NumPy:

        m_t = β₁·m_{t−1} + (1 − β₁)·g_t,   v_t = β₂·v_{t−1} + (1 − β₂)·g_t²,
        w_t = w_{t−1} − η/(1 − β₁ᵗ) · m_t / (√(v_t/(1 − β₂ᵗ)) + ε),

    with ``bias_correction=False`` dropping both 1 − βᵗ factors and ``eps_inside_sqrt`` giving
    m_t/√(v_t/(1 − β₂ᵗ) + ε) (the formula of simdyn.optimizers.adam's docstring). With
    ``aten_order`` the operations follow ATen's kernel, which torch.optim.Adam runs to the last
    bit: m ← m + (1 − β₁)(g − m), v ← v·β₂ + (1 − β₂)·g·g, w ← w + (−η/bc₁)·m/(√v/√bc₂ + ε).
    Returns w_T, or with ``record`` the states (steps + 1, *w0.shape).
    """
    w = np.array(w0, dtype=np.float64)
    m, v = np.zeros_like(w), np.zeros_like(w)
    out = [w.copy()]
    for t in range(1, steps + 1):
        g = grad(w)
        bc1 = 1.0 - beta1 ** t if bias_correction else 1.0
        bc2 = 1.0 - beta2 ** t if bias_correction else 1.0
        if aten_order:
            m = m + (1.0 - beta1) * (g - m)
            v = v * beta2 + (1.0 - beta2) * g * g
            w = w + ((-(lr / bc1)) * m) / (np.sqrt(v) / math.sqrt(bc2) + eps)
        else:
            m = beta1 * m + (1.0 - beta1) * g
            v = beta2 * v + (1.0 - beta2) * g * g
            if eps_inside_sqrt:
                w = w - lr / bc1 * m / np.sqrt(v / bc2 + eps)
            else:
                w = w - lr / bc1 * m / (np.sqrt(v / bc2) + eps)
        out.append(w.copy())
    return np.stack(out) if record else w


# -- observers and analyses, by direct counting ---------------------------------------------------


def minimal_period(series, atol=1e-12, max_period=64, window=256):
    """The smallest p ≤ max_period with x_{t+p} = x_t (within atol) over the last ``window``
    values, 0 if none."""
    tail = series[-window:]
    return next((p for p in range(1, max_period + 1) if np.allclose(tail[p:], tail[:-p], rtol=0, atol=atol)), 0)


def first_exit(traj, center, radius, norm):
    """The smallest t ≥ 1 with ‖w_t − c‖ > r in a recorded (…, step, coord) array, −1 if none."""
    offset = traj - np.asarray(center)
    dist = np.sqrt((offset ** 2).sum(-1)) if norm == "l2" else np.abs(offset).max(-1)
    out = dist[..., 1:] > radius
    return np.where(out.any(-1), out.argmax(-1) + 1, -1)


def product_limit(event, censor, horizon):
    """Kaplan–Meier: S(t) = Π over event times u ≤ t of (1 − d_u/n_u), by direct counting."""
    event, censor = np.asarray(event), np.asarray(censor)
    time = np.where(event >= 0, event, censor)
    s, out = 1.0, []
    for t in range(horizon + 1):
        d = np.sum(event == t)
        n = np.sum(time >= t)
        if d:
            s *= 1.0 - d / n
        out.append(s)
    return np.array(out)


def uncertain_fraction(grid, box):
    """Fraction of the (box + 1)² windows of a label grid that hold more than one label."""
    n0, n1 = grid.shape
    hits = [len(np.unique(grid[i:i + box + 1, j:j + box + 1])) > 1 for i in range(n0 - box) for j in range(n1 - box)]
    return np.mean(hits)


def box_entropies(grid, box):
    """(Gibbs entropy −Σ p log p, number of labels) of each disjoint box × box tile of a label grid."""
    out = []
    for i in range(0, grid.shape[0] - box + 1, box):
        for j in range(0, grid.shape[1] - box + 1, box):
            _, counts = np.unique(grid[i:i + box, j:j + box], return_counts=True)
            p = counts / counts.sum()
            out.append((-(p * np.log(p)).sum(), len(counts)))
    return np.array(out)


# -- the random generator, from the paper with Python's unbounded integers -------------------------


def boundary_box_count(grid, box):
    """Boxes of box × box cells (cell (i, j): the points (i..i+1, j..j+1)) holding a cell whose four
    corners carry more than one label, box by box from the grid's first cell."""
    n0, n1 = grid.shape[0] - 1, grid.shape[1] - 1
    count = 0
    for bi in range(0, n0, box):
        for bj in range(0, n1, box):
            count += any(len(np.unique(grid[i:i + 2, j:j + 2])) > 1
                         for i in range(bi, min(bi + box, n0)) for j in range(bj, min(bj + box, n1)))
    return count


def philox4x32_10(ctr, key):
    """Philox4x32-10 (Salmon et al., SC'11, "Parallel random numbers: as easy as 1, 2, 3"; the
    constants of Random123)."""
    m = (0xD2511F53, 0xCD9E8D57)
    w = (0x9E3779B9, 0xBB67AE85)
    c = list(ctr)
    k = list(key)
    for r in range(10):
        if r > 0:
            k = [(k[0] + w[0]) % 2**32, (k[1] + w[1]) % 2**32]
        p0 = m[0] * c[0]  # exact: Python ints are unbounded
        p1 = m[1] * c[2]
        hi0, lo0 = p0 // 2**32, p0 % 2**32
        hi1, lo1 = p1 // 2**32, p1 % 2**32
        c = [hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0]
    return tuple(c)


def normal_pair(seed, stream, step, pair):
    """Two standard normals by Box–Muller from one Philox block keyed by (seed), counter
    (stream, step, pair): u₁ ∈ (0, 1], u₂ ∈ [0, 1) from 53 bits each."""
    seed %= 2**64
    stream %= 2**64
    x = philox4x32_10((stream % 2**32, stream // 2**32, step % 2**32, pair % 2**32), (seed % 2**32, seed // 2**32))
    u1 = (x[0] * 2**21 + x[1] // 2**11 + 1) / 2**53
    u2 = (x[2] * 2**21 + x[3] // 2**11) / 2**53
    r = math.sqrt(-2.0 * math.log(u1))
    return r * math.cos(2.0 * math.pi * u2), r * math.sin(2.0 * math.pi * u2)


# -- losses along a run, and the trainability paper's convergence measure ---------------------


def gd_losses(loss, grad, w0, lr, steps, threshold=1e10):
    """Full-batch GD w_t = w_{t−1} − lr ⊙ ∇L(w_{t−1}) (``lr`` per coordinate) from one point,
    stopped as simdyn's engine stops a trajectory: the first step whose new point has a
    coordinate that is non-finite or beyond ``threshold`` is not taken. Returns (the losses
    L(w_0) … L(w_{T−1}) with NaN from the step that was not taken on, that step (0: none))."""
    w = np.array(w0, dtype=np.float64)
    out = np.full(steps, np.nan)
    for t in range(1, steps + 1):
        out[t - 1] = loss(w)
        new = w - lr * grad(w)
        if not np.all(np.abs(new) <= threshold):
            return out, t
        w = new
    return out, 0


def convergence_measure(v, window=20, cap=1e6):
    """The trainability paper's measure (Sohl-Dickstein 2024, notebook of the repository
    Sohl-Dickstein/fractal, ``convergence_measure``), transcribed: non-finite losses become
    ``cap``; v /= v[0]; values above ``cap`` become ``cap``; converged iff mean(v[-window:]) < 1;
    returns (converged, −Σv if converged else Σ1/v)."""
    v = np.asarray(v, dtype=np.float64)
    fin = np.isfinite(v)
    v = np.where(fin, v, cap)
    v = v / v[0]
    v = np.where(v > cap, cap, v)
    converged = bool(np.mean(v[-window:]) < 1)
    return converged, (-np.sum(v) if converged else np.sum(1 / v))
