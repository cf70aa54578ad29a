"""Engine benchmark: Adam on the valley f(x, y) = x² + a·y², many independent trajectories.

Workload: torch.optim.Adam semantics (lr=1e-3, β₁=0.9, β₂=0.999, ε=1e-8, bias correction on) on
the valley with a = 1e-3 (gradient (2x, 2a·y)), N = 2²⁰ trajectories × 1000 steps, initial
points uniform in [−1, 1]² from a fixed seed, in float64 and float32. The metric is
trajectory-steps per second (N·steps / seconds), best of a few repeats after a warm-up
(compilation excluded). The repeats are interleaved (round 1 times every row once, then round
2, ...) so that other processes on a shared machine slow all rows alike and the ratios stay
meaningful; the load average is printed at the start and the end. Rows:

``hand_tiled_numba``
    A hand-written kernel for exactly this workload and nothing else: ``numba.njit(parallel=True,
    error_model="numpy", fastmath=False)``, ``prange`` over tiles of trajectories, the time loop
    per tile, state in (2, N) arrays walked one coordinate at a time inside one inner loop over
    the tile, scalar Adam inlined, bias corrections computed once per step outside the inner
    loop (in float64, as torch does with Python floats, then cast to the run's dtype). A few
    tile sizes are tried and the best kept. This is the practical ceiling on a CPU. It follows
    torch's operation order: m ← m + (1−β₁)(g − m) (lerp), v ← β₂v + ((1−β₂)g)g (addcmul),
    w ← w + ((−lr/bc₁)·m) / (√v/√bc₂ + ε) (``addcdiv_``: self + value·t1/t2, left to right).
    It matches torch.optim.Adam to a few ulp per step, not bitwise: on this CPU torch's float64
    ``sqrt`` is not correctly rounded (1 ulp off in ~1.4 % of elements) and its ``lerp_``
    evaluates with a fused multiply-add.

    Vectorisation note (measured here, numba 0.68): with signed loop bounds
    ``for j in range(lo, hi)`` numba keeps its negative-index wrap-around (``j < 0 → j + n``) in
    every array access, the addresses are no longer affine and LLVM does not vectorise the loop
    (scalar ``vsqrtsd``/``vdivsd`` only; ~0.19 G trajectory-steps/s in float64). Making the bounds
    unsigned (``range(np.uint64(lo), np.uint64(hi))``) removes the wrap-around and the loop
    vectorises (``vsqrtpd``/``vdivpd`` on zmm registers on this Zen 4 CPU, ymm on AVX2-only
    machines): ~4× faster. The script prints what it finds in ``kernel.inspect_asm(sig)``.
``numpy``
    The same formulas vectorised over trajectories on (2, N) arrays, in place with scratch
    buffers (fewer steps: per-step cost is constant).
``torch_optim_adam``
    A (N, 2) parameter tensor, ``torch.optim.Adam(foreach=False)``, the gradient written by hand
    each step (``p.grad = (2x, 2a·y)``), ``torch.set_num_threads(<cores>)`` (fewer steps).
``jax_scan``
    ``jax.jit`` of a ``jax.lax.scan`` over steps on (2, N) arrays (float64 needs
    ``jax_enable_x64``); "not installed" when jax cannot be imported (fewer steps).
``simdyn``
    ``sd.simulate(optimizer="adam", landscape="valley", x0=X0, steps=..., hyper={},
    params={"a": 1e-3}, dtype=..., target="cpu", progress=False)``; the first call compiles and
    is the warm-up, the later calls are timed. Any failure is printed in its row.
``bound_sqrt_div`` / ``bound_sqrt_2div``
    Context, not a baseline: the hardware bound. Adam needs at least one square root and one
    division per coordinate-step. Rather than estimating from instruction tables, we *measure*
    a kernel with the hand kernel's tiling, threads and (2, N) layout whose only work per
    coordinate-step is ``u ← 1/(√u + 1)`` (one sqrt, one divide, a fixed point, so no
    overflow or denormals). ``bound_sqrt_2div`` does ``u ← 1/(√u/s + 1)``: the sqrt and the two
    divides that torch's exact formula ``m / (√v / √bc₂ + ε)`` needs.

Every baseline's final positions are checked against the hand kernel run for the same number of
steps (column ``max rel diff``), which also validates the hand kernel against torch.optim.Adam.
The hand kernel divides by √bc₂ as torch does; simdyn multiplies by 1/√bc₂, computed once per
step (one division fewer per coordinate-step, at most an ulp per step apart), so its check is
|Δ| ≤ 10⁻¹⁰·(|w| + 1): relative to the coordinate, or to the initial points' scale (1) for a
coordinate that has converged towards 0, where a relative difference means nothing.

Usage: ``python scripts/bench_engine.py [--n 1048576] [--steps 1000] [--dtype float64 float32]
[--quick]`` (``--quick``: N = 2¹⁶, 200 steps, a smoke test).
"""

from __future__ import annotations

import argparse
import functools
import math
import os
import re
import sys
import time
import traceback

import numba
import numpy as np

# --- the workload --------------------------------------------------------------------------
LR = 1e-3
BETA1 = 0.9
BETA2 = 0.999
EPS = 1e-8
VALLEY_A = 1e-3
SEED = 20240601

DEFAULT_N = 1 << 20
DEFAULT_STEPS = 1000
QUICK_N = 1 << 16
QUICK_STEPS = 200
TILES = (512, 1024, 2048, 4096)

# slow baselines run fewer steps (their per-step cost does not depend on the step count)
SLOW_BASELINE_STEPS = {"numpy": 100, "torch_optim_adam": 50, "jax_scan": 200}

ROW_ORDER = ("hand_tiled_numba", "numpy", "torch_optim_adam", "jax_scan", "simdyn",
             "bound_sqrt_div", "bound_sqrt_2div")

# bars simdyn must meet in float64
BAR_VS_HAND = 0.70
BAR_VS_NUMPY = 10.0
BAR_VS_JAX = 2.0
CORRECTNESS_RTOL = 1e-10


def n_cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def load_average():
    try:
        return "/".join(f"{x:.2f}" for x in os.getloadavg())
    except (AttributeError, OSError):
        return "n/a"


def initial_points(n, seed=SEED):
    """X0 of shape (n, 2), uniform in [−1, 1]², float64."""
    return np.random.default_rng(seed).uniform(-1.0, 1.0, size=(n, 2))


def step_constants(steps, dtype):
    """Per step t = 1..steps: −lr/(1 − β₁ᵗ) and √(1 − β₂ᵗ), in float64 then cast (as torch).

    Python floats (libm ``pow``, as torch and numba use), not ``np.power``, whose SIMD pow can
    differ by an ulp and would show up as spurious differences against the hand kernel.
    """
    neg_step = [-(LR / (1.0 - BETA1 ** float(t))) for t in range(1, steps + 1)]
    bc2_sqrt = [math.sqrt(1.0 - BETA2 ** float(t)) for t in range(1, steps + 1)]
    return np.array(neg_step).astype(dtype), np.array(bc2_sqrt).astype(dtype)


class Case:
    """One row to time: ``run(setup())`` does ``steps`` steps and returns the final (2, N) points
    (or None); ``setup`` (untimed) builds fresh state. Warm-up/compilation happens before."""

    def __init__(self, name, dtype, steps, setup, run, note=""):
        self.name, self.dtype, self.steps, self.setup, self.run = name, dtype, steps, setup, run
        self.note = note
        self.seconds = math.inf
        self.w = None

    def time_once(self):
        state = self.setup()
        t0 = time.perf_counter()
        out = self.run(state)
        self.seconds = min(self.seconds, time.perf_counter() - t0)
        self.w = out


def time_round_robin(cases, repeats):
    """Best of ``repeats`` per case, the repeats interleaved (round 1 times every case once, then
    round 2, ...) so that load from other processes on a shared machine hits all rows alike."""
    for _ in range(repeats):
        for case in cases:
            case.time_once()


# --- (a) the hand-written tiled numba kernel ---------------------------------------------------
@functools.lru_cache(maxsize=None)
def hand_kernel(dtype):
    """The hand-written tiled Adam-on-valley kernel for one dtype (literals of that dtype)."""
    f = np.dtype(dtype).type
    w1 = f(1.0 - BETA1)          # lerp weight, as torch: exp_avg.lerp_(grad, 1 − β₁)
    b2 = f(BETA2)
    w2 = f(1.0 - BETA2)
    eps = f(EPS)
    two = f(2.0)
    two_a = f(2.0 * VALLEY_A)

    @numba.njit(parallel=True, error_model="numpy", fastmath=False)
    def adam_valley(w, m, v, steps, tile):
        n = w.shape[1]
        n_tiles = (n + tile - 1) // tile
        for it in numba.prange(n_tiles):
            lo = it * tile
            hi = min(lo + tile, n)
            # unsigned bounds: no negative-index wrap-around, so the inner loop vectorises
            ulo = np.uint64(lo)
            uhi = np.uint64(hi)
            for t in range(1, steps + 1):
                neg_step = f(-(LR / (1.0 - BETA1 ** float(t))))
                bc2_sqrt = f(math.sqrt(1.0 - BETA2 ** float(t)))
                for j in range(ulo, uhi):
                    x = w[0, j]
                    y = w[1, j]
                    gx = two * x
                    gy = two_a * y
                    mx = m[0, j]
                    my = m[1, j]
                    mx = mx + w1 * (gx - mx)                   # torch lerp (weight < 0.5)
                    my = my + w1 * (gy - my)
                    vx = v[0, j] * b2 + w2 * gx * gx           # torch mul_ then addcmul_
                    vy = v[1, j] * b2 + w2 * gy * gy
                    # torch addcdiv_(m, denom, value=-step_size): w + ((value·m) / denom)
                    w[0, j] = x + (neg_step * mx) / (math.sqrt(vx) / bc2_sqrt + eps)
                    w[1, j] = y + (neg_step * my) / (math.sqrt(vy) / bc2_sqrt + eps)
                    m[0, j] = mx
                    m[1, j] = my
                    v[0, j] = vx
                    v[1, j] = vy

    return adam_valley


@functools.lru_cache(maxsize=None)
def bound_kernel(dtype, divides):
    """The hardware-bound kernel: per coordinate-step one sqrt and ``divides`` (1 or 2) divides."""
    f = np.dtype(dtype).type
    one = f(1.0)

    if divides == 1:
        @numba.njit(parallel=True, error_model="numpy", fastmath=False)
        def sqrt_div(u, steps, tile, s):
            n = u.shape[1]
            n_tiles = (n + tile - 1) // tile
            for it in numba.prange(n_tiles):
                lo = it * tile
                hi = min(lo + tile, n)
                ulo = np.uint64(lo)
                uhi = np.uint64(hi)
                for t in range(steps):
                    for j in range(ulo, uhi):
                        u[0, j] = one / (math.sqrt(u[0, j]) + one)
                        u[1, j] = one / (math.sqrt(u[1, j]) + one)
        return sqrt_div

    @numba.njit(parallel=True, error_model="numpy", fastmath=False)
    def sqrt_2div(u, steps, tile, s):
        n = u.shape[1]
        n_tiles = (n + tile - 1) // tile
        for it in numba.prange(n_tiles):
            lo = it * tile
            hi = min(lo + tile, n)
            ulo = np.uint64(lo)
            uhi = np.uint64(hi)
            for t in range(steps):
                for j in range(ulo, uhi):
                    u[0, j] = one / (math.sqrt(u[0, j]) / s + one)
                    u[1, j] = one / (math.sqrt(u[1, j]) / s + one)
    return sqrt_2div


def vector_report(kernel):
    """What ``inspect_asm`` shows: packed sqrt/div instructions and their register widths."""
    try:
        asm = kernel.inspect_asm(kernel.signatures[0])
    except Exception as exc:  # pragma: no cover - diagnostics only
        return f"inspect_asm failed: {exc}"
    parts = []
    for op in ("vsqrtp", "vdivp", "vsqrts", "vdivs"):
        found = re.findall(op + r"([sd])\s[^\n]*?%([xyz]mm)", asm) if op.endswith("p") else \
            re.findall(op + r"([sd])\s", asm)
        if not found:
            continue
        if op.endswith("p"):
            regs = sorted({reg for _, reg in found if reg != "xmm"} or {"xmm"})
            parts.append(f"{op}{found[0][0]}×{len(found)} ({'/'.join(regs)})")
        else:
            parts.append(f"{op}{found[0]}×{len(found)}")
    vectorised = any(p.startswith(("vsqrtp", "vdivp")) for p in parts)
    return ("vectorised: " if vectorised else "NOT vectorised: ") + ", ".join(parts)


def run_hand(x0_2n, steps, tile, dtype):
    """Final (2, N) positions of the hand kernel from x0 after ``steps`` steps (no timing)."""
    kernel = hand_kernel(dtype)
    w = np.array(x0_2n, dtype=dtype, order="C")
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    kernel(w, m, v, steps, tile)
    return w


def prepare_hand(x0_2n, steps, dtype, tiles=TILES, log=print):
    """Compile, report vectorisation, pick the fastest tile (interleaved sweep); return a Case."""
    kernel = hand_kernel(dtype)
    small = np.ascontiguousarray(x0_2n[:, :256], dtype=dtype)
    kernel(small.copy(), np.zeros_like(small), np.zeros_like(small), 2, 64)  # compile
    log(f"  hand kernel asm: {vector_report(kernel)}")

    def setup():
        w = np.array(x0_2n, dtype=dtype, order="C")
        return w, np.zeros_like(w), np.zeros_like(w)

    def make_run(k, tile):
        def run(state):
            kernel(*state, k, tile)
            return state[0]
        return run

    n = x0_2n.shape[1]
    tiles = [t for t in tiles if t <= n] or [n]
    sweep_steps = min(steps, 100)
    sweep = [Case(f"tile {t}", dtype, sweep_steps, setup, make_run(sweep_steps, t)) for t in tiles]
    time_round_robin(sweep, 3)
    best = min(sweep, key=lambda c: c.seconds)
    tile = tiles[sweep.index(best)]
    log(f"  tile sweep ({sweep_steps} steps, best of 3, trajectory-steps/s): "
        + ", ".join(f"{t}: {n * sweep_steps / c.seconds:.3g}" for t, c in zip(tiles, sweep))
        + f" -> tile {tile}")
    return Case("hand_tiled_numba", dtype, steps, setup, make_run(steps, tile),
                note=f"tile {tile}"), tile


def prepare_bound(x0_2n, steps, dtype, tile, divides, log=print):
    kernel = bound_kernel(dtype, divides)
    f = np.dtype(dtype).type
    small = np.abs(np.ascontiguousarray(x0_2n[:, :256], dtype=dtype))
    kernel(small, 2, 64, f(1.5))  # compile
    log(f"  bound (sqrt + {divides} div) asm: {vector_report(kernel)}")

    def setup():
        return np.abs(np.array(x0_2n, dtype=dtype, order="C")) + f(0.5)

    def run(u):
        kernel(u, steps, tile, f(1.5))

    return Case(f"bound_sqrt_{'' if divides == 1 else '2'}div", dtype, steps, setup, run,
                note=f"1 sqrt + {divides} div per coordinate-step, tile {tile}")


# --- (b) NumPy ---------------------------------------------------------------------------------
def prepare_numpy(x0_2n, steps, dtype):
    f = np.dtype(dtype).type
    w1, b2, w2, eps = f(1.0 - BETA1), f(BETA2), f(1.0 - BETA2), f(EPS)
    scale = np.array([[2.0], [2.0 * VALLEY_A]], dtype=dtype)      # gradient = scale * w
    neg_steps, bc2_sqrts = step_constants(steps, dtype)

    def setup():
        w = np.array(x0_2n, dtype=dtype, order="C")
        return w, np.zeros_like(w), np.zeros_like(w), np.empty_like(w), np.empty_like(w)

    def run(state):
        w, m, v, g, tmp = state
        for t in range(steps):
            np.multiply(w, scale, out=g)
            np.subtract(g, m, out=tmp)                  # m ← m + (1−β₁)(g − m)
            tmp *= w1
            m += tmp
            v *= b2                                     # v ← β₂ v + (1−β₂) g g
            np.multiply(g, w2, out=tmp)
            tmp *= g
            v += tmp
            np.sqrt(v, out=tmp)                         # denom ← √v / √bc₂ + ε
            tmp /= bc2_sqrts[t]
            tmp += eps
            np.multiply(m, neg_steps[t], out=g)         # w ← w + ((−lr/bc₁)·m) / denom
            np.divide(g, tmp, out=tmp)
            w += tmp
        return w

    run(setup())  # warm-up
    return Case("numpy", dtype, steps, setup, run)


# --- (c) torch.optim.Adam ----------------------------------------------------------------------
def prepare_torch(x0_2n, steps, dtype):
    import torch

    torch.set_num_threads(n_cores())
    tdtype = getattr(torch, dtype)
    scale = torch.tensor([2.0, 2.0 * VALLEY_A], dtype=tdtype)       # row-broadcast over (N, 2)

    def setup():
        p = torch.tensor(np.ascontiguousarray(x0_2n.T), dtype=tdtype).requires_grad_(True)
        opt = torch.optim.Adam([p], lr=LR, betas=(BETA1, BETA2), eps=EPS, foreach=False)
        return p, opt, torch.empty_like(p)

    def run(state):
        p, opt, grad = state
        for _ in range(steps):
            with torch.no_grad():
                torch.mul(p, scale, out=grad)           # (2x, 2a·y), by hand
            p.grad = grad
            opt.step()
        return p.detach().numpy().T

    run(setup())  # warm-up
    return Case("torch_optim_adam", dtype, steps, setup, run,
                note=f"foreach=False, {torch.get_num_threads()} threads")


# --- (d) JAX -----------------------------------------------------------------------------------
def prepare_jax(x0_2n, steps, dtype):
    import jax

    jax.config.update("jax_enable_x64", True)       # float64 needs it; float32 stays float32
    import jax.numpy as jnp

    w1, b2, w2, eps = (np.dtype(dtype).type(c) for c in (1.0 - BETA1, BETA2, 1.0 - BETA2, EPS))
    scale = jnp.asarray(np.array([[2.0], [2.0 * VALLEY_A]], dtype=dtype))
    neg_steps, bc2_sqrts = (jnp.asarray(c) for c in step_constants(steps, dtype))

    def step(carry, consts):
        w, m, v = carry
        neg_step, bc2_sqrt = consts
        g = w * scale
        m = m + w1 * (g - m)
        v = v * b2 + w2 * g * g
        w = w + (neg_step * m) / (jnp.sqrt(v) / bc2_sqrt + eps)
        return (w, m, v), None

    @jax.jit
    def simulate(w, m, v):
        (w, m, v), _ = jax.lax.scan(step, (w, m, v), (neg_steps, bc2_sqrts))
        return w

    def setup():
        w = jnp.asarray(np.asarray(x0_2n, dtype=dtype))
        z = jnp.zeros_like(w)
        return jax.block_until_ready((w, z, jnp.zeros_like(w)))

    def run(state):
        return np.asarray(simulate(*state).block_until_ready())

    run(setup())  # compile + warm-up
    return Case("jax_scan", dtype, steps, setup, run, note=f"jax {jax.__version__}")


# --- (e) simdyn --------------------------------------------------------------------------------
def final_positions(ds):
    """simdyn's final points as an (N, 2) array (dims ``traj``, ``coord``)."""
    w = ds["w"]
    dims = getattr(w, "dims", ())
    if set(dims) == {"traj", "coord"}:
        w = w.transpose("traj", "coord")
    return np.asarray(w)


def prepare_simdyn(x0_2n, steps, dtype):
    import simdyn as sd

    x0 = np.ascontiguousarray(x0_2n.T, dtype=dtype)
    kwargs = dict(optimizer="adam", landscape="valley", x0=x0, steps=steps, hyper={},
                  params={"a": VALLEY_A}, dtype=dtype, target="cpu", progress=False)
    t0 = time.perf_counter()
    ds = sd.simulate(**kwargs)                       # first call: compiles (the warm-up)
    first = time.perf_counter() - t0
    final_positions(ds)                              # fail here, not while timing

    def run(_):
        return final_positions(sd.simulate(**kwargs)).T

    return Case("simdyn", dtype, steps, lambda: None, run,
                note=f"timed calls after the first; first call (compile + run) {first:.2f} s")


# --- driver ------------------------------------------------------------------------------------
def max_rel_diff(a, b):
    """max |a − b| / |b| over elements (|b| = 0: the absolute difference)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"shape {a.shape} vs {b.shape}")
    diff = np.abs(a - b)
    scale = np.abs(b)
    rel = np.where(scale > 0, diff / np.where(scale > 0, scale, 1.0), diff)
    if not np.all(np.isfinite(a)):
        return math.inf
    return float(rel.max()) if rel.size else 0.0


def describe_error(name, exc):
    """'not installed' for a missing optional baseline, else the exception in one line."""
    missing = (getattr(exc, "name", None) or "").split(".")[0]
    if isinstance(exc, ImportError) and (
        (name == "jax_scan" and missing in ("jax", "jaxlib"))
        or (name == "torch_optim_adam" and missing == "torch")
    ):
        return "not installed"
    return f"{type(exc).__name__}: {exc}"


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=None, help=f"trajectories (default {DEFAULT_N})")
    p.add_argument("--steps", type=int, default=None, help=f"steps (default {DEFAULT_STEPS})")
    p.add_argument("--dtype", nargs="+", default=["float64", "float32"],
                   choices=["float64", "float32"], help="precisions to time (default both)")
    p.add_argument("--quick", action="store_true",
                   help=f"smoke test: N = {QUICK_N}, {QUICK_STEPS} steps")
    p.add_argument("--repeats", type=int, default=3, help="timed repeats, best kept (default 3)")
    p.add_argument("--seed", type=int, default=SEED, help=f"seed of the initial points (default {SEED})")
    p.add_argument("--skip", nargs="*", default=[],
                   choices=["numpy", "torch_optim_adam", "jax_scan", "simdyn", "bound"],
                   help="rows to leave out")
    args = p.parse_args(argv)
    if args.n is None:
        args.n = QUICK_N if args.quick else DEFAULT_N
    if args.steps is None:
        args.steps = QUICK_STEPS if args.quick else DEFAULT_STEPS
    if args.n < 1 or args.steps < 1 or args.repeats < 1:
        p.error("--n, --steps and --repeats must be positive")
    return args


def main(argv=None):
    """Run the benchmark; print the table and the bars; return the rows (a list of dicts)."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    n, steps = args.n, args.steps
    x0_2n = np.ascontiguousarray(initial_points(n, args.seed).T)     # (2, N) float64

    print(f"Adam (lr={LR}, betas=({BETA1}, {BETA2}), eps={EPS}) on the valley x² + a·y², "
          f"a={VALLEY_A}; N={n} trajectories, {steps} steps, seed {args.seed}")
    print(f"numba {numba.__version__} ({numba.config.NUMBA_NUM_THREADS} threads), "
          f"numpy {np.__version__}, {n_cores()} cores, best of {args.repeats} after a warm-up; "
          f"load average at start {load_average()}")

    rows = []
    hand_cache = {}

    def reference(dtype, k, tile):
        if (dtype, k) not in hand_cache:
            hand_cache[dtype, k] = run_hand(x0_2n, k, tile, dtype)
        return hand_cache[dtype, k]

    preparers = [
        ("numpy", prepare_numpy),
        ("torch_optim_adam", prepare_torch),
        ("jax_scan", prepare_jax),
        ("simdyn", prepare_simdyn),
    ]
    for dtype in args.dtype:
        print(f"\n[{dtype}] compiling / warming up")
        hand, tile = prepare_hand(x0_2n, steps, dtype)
        cases, failed = [hand], []
        for name, prepare in preparers:
            if name in args.skip:
                continue
            k = min(steps, SLOW_BASELINE_STEPS.get(name, steps))
            try:
                cases.append(prepare(x0_2n, k, dtype))
            except Exception as exc:
                failed.append(dict(name=name, dtype=dtype, steps=k, seconds=None, note="",
                                   error=describe_error(name, exc), diff=None))
                print(f"  {name}: {failed[-1]['error']}")
                if name == "simdyn" and not isinstance(exc, ImportError):
                    traceback.print_exc(limit=4)
        if "bound" not in args.skip:
            cases += [prepare_bound(x0_2n, steps, dtype, tile, d) for d in (1, 2)]

        print(f"  timing: {args.repeats} interleaved rounds ...", flush=True)
        for _ in range(args.repeats):
            for case in list(cases):
                try:
                    case.time_once()
                except Exception as exc:  # a row that breaks while timed: report, go on
                    cases.remove(case)
                    failed.append(dict(name=case.name, dtype=dtype, steps=case.steps,
                                       seconds=None, note="", error=describe_error(case.name, exc),
                                       diff=None))
                    print(f"  {case.name}: {failed[-1]['error']}")

        hand_cache[dtype, steps] = hand.w
        for case in cases:
            row = dict(name=case.name, dtype=dtype, steps=case.steps, seconds=case.seconds,
                       note=case.note, error=None, diff=None)
            if case.w is not None:
                try:
                    ref = reference(dtype, case.steps, tile)
                    got = np.asarray(case.w, np.float64)
                    row["diff"] = max_rel_diff(got, ref)
                    delta = np.abs(got - ref)
                    row["abs_diff"] = float(delta.max())
                    with np.errstate(divide="ignore", invalid="ignore"):
                        worst = np.nanargmax(np.where(ref != 0, delta / np.abs(ref), delta))
                    row["worst_ref"] = float(np.abs(ref).flat[worst])
                    # |Δ| ≤ rtol·(|w| + 1): relative to the coordinate, or to the initial points'
                    # scale (1) for a coordinate that has converged towards 0
                    row["close"] = bool(np.all(delta <= CORRECTNESS_RTOL * (np.abs(ref) + 1.0)))
                except Exception as exc:
                    row["note"] += f"; result check failed: {exc}"
            rows.append(row)
        rows += failed
        rows.sort(key=lambda r: (args.dtype.index(r["dtype"]), ROW_ORDER.index(r["name"])))

    for row in rows:
        row["rate"] = n * row["steps"] / row["seconds"] if row.get("seconds") else None
    print_table(rows, n)
    print(f"load average at end {load_average()} (other processes on the machine skew timings)")
    print_bars(rows)
    return rows


def _rate(rows, name, dtype):
    for r in rows:
        if r["name"] == name and r["dtype"] == dtype and r["rate"]:
            return r["rate"]
    return None


def print_table(rows, n):
    print(f"\nN = {n}; trajectory-steps/s = N·steps/seconds (steps column: steps actually run; "
          "slow baselines run fewer steps, their per-step cost is constant). Diffs: final points "
          "against the hand kernel run for the same steps.")
    head = (f"{'name':<18} {'dtype':<8} {'steps':>5} {'traj-steps/s':>13} {'× hand':>7} "
            f"{'× numpy':>8} {'max rel diff':>12} {'max abs diff':>12}  note")
    print(head)
    print("-" * len(head))
    for r in rows:
        hand = _rate(rows, "hand_tiled_numba", r["dtype"])
        npy = _rate(rows, "numpy", r["dtype"])
        if r["rate"] is None:
            print(f"{r['name']:<18} {r['dtype']:<8} {r['steps']:>5} {'—':>13} {'—':>7} {'—':>8} "
                  f"{'—':>12} {'—':>12}  {r['error'] or r['note']}")
            continue
        vs_hand = f"{r['rate'] / hand:.3f}" if hand else "—"
        vs_np = f"{r['rate'] / npy:.2f}" if npy else "—"
        diff = "—" if r["diff"] is None else f"{r['diff']:.2e}"
        abs_diff = "—" if r.get("abs_diff") is None else f"{r['abs_diff']:.2e}"
        print(f"{r['name']:<18} {r['dtype']:<8} {r['steps']:>5} {r['rate']:>13.4g} {vs_hand:>7} "
              f"{vs_np:>8} {diff:>12} {abs_diff:>12}  {r['note']}")


def print_bars(rows):
    if not any(r["dtype"] == "float64" for r in rows):
        print("\nbars: not evaluated (float64 not run)")
        return
    sd_row = next((r for r in rows if r["name"] == "simdyn" and r["dtype"] == "float64"), None)
    simdyn = sd_row["rate"] if sd_row else None
    why = "simdyn skipped" if sd_row is None else (sd_row["error"] or "no measurement")
    print("\nbars for simdyn, float64:")

    def bar(label, ref, need):
        if ref is None:
            print(f"  {label:<36} n/a (baseline not measured)")
        elif simdyn is None:
            print(f"  {label:<36} FAIL ({why})")
        else:
            ratio = simdyn / ref
            print(f"  {label:<36} {ratio:8.3f}×  {'PASS' if ratio >= need else 'FAIL'}")

    bar(f"simdyn ≥ {BAR_VS_HAND:.2f}× hand_tiled_numba", _rate(rows, "hand_tiled_numba",
                                                                 "float64"), BAR_VS_HAND)
    bar(f"simdyn ≥ {BAR_VS_NUMPY:.0f}× numpy", _rate(rows, "numpy", "float64"), BAR_VS_NUMPY)
    jax_row = next((r for r in rows if r["name"] == "jax_scan" and r["dtype"] == "float64"), None)
    if jax_row is not None and jax_row["error"] == "not installed":
        print(f"  {f'simdyn ≥ {BAR_VS_JAX:.0f}× jax_scan':<36} n/a (jax not installed)")
    else:
        bar(f"simdyn ≥ {BAR_VS_JAX:.0f}× jax_scan", _rate(rows, "jax_scan", "float64"), BAR_VS_JAX)
    label = f"simdyn final w ≈ hand (|Δ| ≤ {CORRECTNESS_RTOL:g}·(|w| + 1))"
    if sd_row is None or sd_row["diff"] is None:
        print(f"  {label:<36} FAIL ({why})")
    else:
        ok = sd_row["close"]
        detail = ""
        if sd_row["diff"] > 0:
            detail = (f"  (max abs diff {sd_row.get('abs_diff', math.nan):.2e}; the worst "
                      "relative difference is on a coordinate of size "
                      f"{sd_row.get('worst_ref', math.nan):.2e})")
        verdict = "PASS" if ok else "FAIL"
        print(f"  {label:<36} max rel diff {sd_row['diff']:.2e}  {verdict}{detail}")


if __name__ == "__main__":
    main()
