"""Every batch shape at full speed: hyperparameter grids, any dimension, the divider.

Prints ratios measured in one run (float64 throughout), each row against baselines run in the
same process:

``grid``
    Adam on the valley (a = 1e-3), one initial point × a 512 × 512 (lr, β₁) grid against 2¹⁸
    initial points × one combination, in trajectory-steps per second of the kernel (bar ≥ 0.8×).
    Both run through the same engine; the grid fills whole CPU tiles with one combination per
    trajectory (the learning rate is read per trajectory, β₁ is a tile constant).
``quadratic d``
    Adam on ½wᵀHw with a random SPD H (spectrum 1 … 10, seeded rotation), N·d ≈ 2²¹, for
    d = 10, 100, 1000, in N·d·T per second, against batched eager torch (``G = W @ H`` and
    Adam's in-place updates on an (N, d) tensor, ``torch.set_num_threads(cores)``) and two
    hand-written numba kernels: per-trajectory loops, and a tile of trajectories with one
    ``np.dot`` per tile and step. Bars: ≥ 2× torch at d = 10, ≥ 1.2× at 100, ≥ 0.9× at 1000.
    simdyn takes the tuple form at d ≤ 8 and the array form above (d = 10 is the array form).
``adam 2-D``
    Adam on the valley, 2²⁰ trajectories × 1000 steps, against a hand-written tiled kernel with
    one division per coordinate-step (m/(√v·(1/√bc₂) + ε), the formula simdyn now uses) and the
    one with torch's two divisions (bar ≥ 0.9× the one-division kernel). The hand kernels do not
    check for divergence; a third one adds simdyn's freeze rule (a compare per coordinate, a
    select per state value and the frozen code, every step) to show what that rule costs. The
    hand kernels run on arrays laid out as simdyn's (rows an odd multiple of 512 bytes apart,
    placed in their pages), so the ratio compares the arithmetic; the one-division kernel on
    plain (2, N) NumPy arrays is printed too (their rows alias, which slows it).
``network``
    GD on the trainability paper's network (``sd.landscapes.mlp``: 16-16-1 tanh, 272 parameters,
    272 Gaussian examples), one initial point × a 64 × 64 grid of per-layer learning rates, in
    trajectory-steps per second, with and without ``sd.observe.Trainability`` (which needs the
    loss every step), against batched eager torch over the 4096 learning-rate pairs (``einsum``
    forward, autograd backward, per-pair SGD step; the loss comes with the backward pass) (bar
    ≥ 2×). Also the extrapolated time of the paper's 4096² × 500-step image on this machine.
``compile``
    Cold compile of the first array-form kernel and whether later dimensions compile anything
    (the array form's source does not depend on d).

Usage: ``python scripts/bench_highd.py [--quick] [--only ROW ...] [--clock wall|cpu] [--repeats K]``
(``--quick``: small sizes, a smoke run; ``--only``: the rows named, e.g. ``--only network``;
``--clock cpu``: the adam row in the process's CPU time, e.g. ``NUMBA_NUM_THREADS=1 python
scripts/bench_highd.py --only adam --clock cpu --repeats 7``; ``--repeats``: its rounds).
"""

from __future__ import annotations

import argparse
import math
import os
import time

import numba
import numpy as np

import simdyn as sd
from simdyn.engine.allocation import padded_width, zeros
from simdyn.engine.run import run_batch
from simdyn.plan import make_plan

BETA1, BETA2, EPS = 0.9, 0.999, 1e-8


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def kernel_rate(plan, repeats=3) -> float:
    """Trajectory-steps per second of the plan's kernel (best of ``repeats`` after a warm-up)."""
    return kernel_rates({"plan": plan}, repeats)["plan"]


def kernel_rates(plans: dict, repeats: int) -> dict:
    """Trajectory-steps per second of each plan's kernel (the ``run_batch`` call: the launch and
    the gathers after it, not the allocation), best of ``repeats`` rounds in which every plan
    runs once (interleaved, so a change of the machine's speed hits them alike), after a
    warm-up."""
    launches = {name: plan.launches[0] for name, plan in plans.items()}
    for launch in launches.values():
        run_batch(launch.request, launch.inputs)
    best = dict.fromkeys(plans, math.inf)
    for _ in range(repeats):
        for name, launch in launches.items():
            best[name] = min(best[name], run_batch(launch.request, launch.inputs).seconds)
    return {name: launches[name].inputs.size * plans[name].steps / best[name] for name in plans}


# -- row 1: grids ----------------------------------------------------------------------------------

def grid_row(side: int, n_ic: int, steps: int, repeats: int = 3) -> dict:
    rng = np.random.default_rng(0)
    batch = make_plan("adam", "valley", rng.uniform(-1, 1, (n_ic, 2)), steps, hyper={"lr": 1e-2}, params={"a": 1e-3})
    grid = make_plan("adam", "valley", np.array([[0.5, 0.5]]), steps, params={"a": 1e-3},
                     hyper={"lr": np.geomspace(1e-4, 1e-1, side), "beta1": np.linspace(0.0, 0.99, side)})
    rates = kernel_rates({"batch": batch, "grid": grid}, repeats)
    a, b = rates["batch"], rates["grid"]
    return {"initial-point batch": a, "grid": b, "ratio": b / a}


# -- row 2: quadratic in dimension d --------------------------------------------------------------

def random_spd(d: int, seed: int = 0) -> np.ndarray:
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(d, d)))
    return (q * np.linspace(1.0, 10.0, d)) @ q.T


@numba.njit(parallel=True, error_model="numpy")
def _hand_per_trajectory(w, m, v, h, lr, steps):
    n, d = w.shape
    g = np.empty((n, d))
    for j in numba.prange(n):
        for t in range(1, steps + 1):
            bc1 = 1.0 - BETA1 ** t
            bc2 = 1.0 - BETA2 ** t
            for i in range(d):  # g = H w, axpy order (H symmetric): columns of H stream contiguously
                g[j, i] = 0.0
            for k in range(d):
                wk = w[j, k]
                for i in range(d):
                    g[j, i] += h[k, i] * wk
            for i in range(d):
                m[j, i] += (1.0 - BETA1) * (g[j, i] - m[j, i])
                v[j, i] = BETA2 * v[j, i] + (1.0 - BETA2) * g[j, i] * g[j, i]
                w[j, i] -= (lr / bc1) * m[j, i] / (math.sqrt(v[j, i]) / math.sqrt(bc2) + EPS)


@numba.njit(parallel=True, error_model="numpy")
def _hand_tile_dot(w, m, v, h, lr, steps, tile):
    n, d = w.shape
    n_tiles = (n + tile - 1) // tile
    for it in numba.prange(n_tiles):
        lo, hi = it * tile, min(n, (it + 1) * tile)
        for t in range(1, steps + 1):
            bc1 = 1.0 - BETA1 ** t
            bc2 = 1.0 - BETA2 ** t
            g = np.dot(w[lo:hi], h)
            for j in range(hi - lo):
                for i in range(d):
                    m[lo + j, i] += (1.0 - BETA1) * (g[j, i] - m[lo + j, i])
                    v[lo + j, i] = BETA2 * v[lo + j, i] + (1.0 - BETA2) * g[j, i] * g[j, i]
                    w[lo + j, i] -= (lr / bc1) * m[lo + j, i] / (math.sqrt(v[lo + j, i]) / math.sqrt(bc2) + EPS)


def _timed(fn, *args):
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def quadratic_row(d: int, coords: int, steps: int) -> dict:
    from threadpoolctl import threadpool_limits

    n = max(1, coords // d)
    h = random_spd(d)
    x0 = np.random.default_rng(1).normal(size=(n, d))
    work = n * d * steps
    out = {}
    plan = make_plan("adam", "quadratic", x0, steps, hyper={"lr": 1e-3}, params={"h": h})
    out["simdyn"] = kernel_rate(plan) * d
    for name, fn, extra in (("numba per trajectory", _hand_per_trajectory, ()),
                            ("numba tile + np.dot", _hand_tile_dot, (max(1, min(256, n // (4 * cores()))),))):
        with threadpool_limits(1, user_api="blas"):
            fn(x0.copy(), np.zeros_like(x0), np.zeros_like(x0), h, 1e-3, 2, *extra)  # compile
            best = min(_timed(fn, x0.copy(), np.zeros_like(x0), np.zeros_like(x0), h, 1e-3, steps, *extra)
                       for _ in range(2))
        out[name] = work / best
    out["torch"] = torch_rate(x0, h, max(5, steps // 4))
    return out


def torch_rate(x0, h, steps) -> float:
    try:
        import torch
    except ImportError:
        return float("nan")
    torch.set_num_threads(cores())
    w = torch.tensor(x0)
    hh = torch.tensor(h)
    m, v = torch.zeros_like(w), torch.zeros_like(w)

    def run():
        for t in range(1, steps + 1):
            g = w @ hh
            m.lerp_(g, 1.0 - BETA1)
            v.mul_(BETA2).addcmul_(g, g, value=1.0 - BETA2)
            denom = (v.sqrt() / math.sqrt(1.0 - BETA2 ** t)).add_(EPS)
            w.addcdiv_(m, denom, value=-1e-3 / (1.0 - BETA1 ** t))

    run()
    best = min(_timed(run) for _ in range(2))
    return w.numel() * steps / best


# -- row 3: the divider in 2-D --------------------------------------------------------------------

def _make_hand_2d(one_division: bool, freeze: bool = False):
    """A tiled Adam-on-valley kernel for exactly this workload (the style of bench_engine.py's
    hand kernel): unsigned tile bounds so the inner loop vectorises, per-step terms hoisted.
    ``freeze``: also simdyn's divergence rule, a trajectory whose step leaves |w_k| ≤ thr (or is
    not finite) keeps its last state and gets a frozen code ±t in F (a compare per coordinate and
    a select per state value, every step)."""
    w1, b2, w2 = 1.0 - BETA1, BETA2, 1.0 - BETA2

    @numba.njit(parallel=True, error_model="numpy")
    def kernel(w, m, v, f, lr, a, steps, tile, thr):
        n = w.shape[1]
        for it in numba.prange((n + tile - 1) // tile):
            ulo, uhi = np.uint64(it * tile), np.uint64(min(n, (it + 1) * tile))
            for t in range(1, steps + 1):
                neg_step = -(lr * (1.0 / (1.0 - BETA1 ** float(t))))
                root_bc2 = math.sqrt(1.0 - BETA2 ** float(t))
                inv_root_bc2 = 1.0 / root_bc2
                for j in range(ulo, uhi):
                    x, y = w[0, j], w[1, j]
                    gx, gy = 2.0 * x, 2.0 * a * y
                    mx = m[0, j] + w1 * (gx - m[0, j])
                    my = m[1, j] + w1 * (gy - m[1, j])
                    vx = v[0, j] * b2 + w2 * gx * gx
                    vy = v[1, j] * b2 + w2 * gy * gy
                    if one_division:
                        nx = x + (neg_step * mx) / (math.sqrt(vx) * inv_root_bc2 + EPS)
                        ny = y + (neg_step * my) / (math.sqrt(vy) * inv_root_bc2 + EPS)
                    else:
                        nx = x + (neg_step * mx) / (math.sqrt(vx) / root_bc2 + EPS)
                        ny = y + (neg_step * my) / (math.sqrt(vy) / root_bc2 + EPS)
                    if freeze:
                        fa = f[j]
                        ok = (fa == 0) & (abs(nx) <= thr) & (abs(ny) <= thr)
                        fin = (abs(nx) < math.inf) & (abs(ny) < math.inf)
                        f[j] = fa if ((fa != 0) | ok) else (t if fin else -t)
                        w[0, j], w[1, j] = (nx, ny) if ok else (x, y)
                        m[0, j], m[1, j] = (mx, my) if ok else (m[0, j], m[1, j])
                        v[0, j], v[1, j] = (vx, vy) if ok else (v[0, j], v[1, j])
                    else:
                        w[0, j], w[1, j] = nx, ny
                        m[0, j], m[1, j], v[0, j], v[1, j] = mx, my, vx, vy
    return kernel


#: The hand kernels of the 2-D row: (name, one division, simdyn's divergence freeze).
HAND_2D = (("hand, 1 division", True, False), ("hand, 2 divisions", False, False),
           ("hand, 1 division + freeze", True, True))


def adam_2d_row(n: int, steps: int, repeats: int = 3, clock=time.perf_counter) -> dict:
    """Trajectory-steps per second of simdyn's kernel (the whole ``run_batch`` call) and of each
    hand kernel, best of ``repeats`` rounds in which every kernel runs once (interleaved, so a
    change of the machine's load hits them alike), timed by ``clock``."""
    x0 = np.random.default_rng(2).uniform(-1, 1, (n, 2))
    plan = make_plan("adam", "valley", x0, steps, hyper={"lr": 1e-3}, params={"a": 1e-3})
    launch = plan.launches[0]

    def state():
        """The hand kernels' arrays in simdyn's layout (rows an odd multiple of 512 bytes long,
        each array placed in its page, :mod:`simdyn.engine.allocation`): the comparison is then
        of the arithmetic. The few padding columns are advanced too (< 0.01 % of the work)."""
        width = padded_width(n, 8)
        a = zeros({"w": ((2, width), np.float64), "m": ((2, width), np.float64),
                   "v": ((2, width), np.float64), "f": ((width,), np.int64)})
        a["w"][:, :n] = x0.T
        return a["w"], a["m"], a["v"], a["f"]

    def plain_numpy_state():
        """(2, N) arrays as NumPy allocates them: with N = 2²⁰ the two rows of each are 8 MiB
        apart, and their loads wait on each other's stores (4K aliasing)."""
        return (np.ascontiguousarray(x0.T), np.zeros((2, n)), np.zeros((2, n)), np.zeros(n, dtype=np.int64))

    runs = {"simdyn": lambda: run_batch(launch.request, launch.inputs)}
    for name, one, freeze in HAND_2D:
        kernel = _make_hand_2d(one, freeze)
        kernel(*state(), 1e-3, 1e-3, 2, 2048, 1e10)  # compile
        runs[name] = lambda kernel=kernel: kernel(*state(), 1e-3, 1e-3, steps, 2048, 1e10)
        if name == "hand, 1 division":
            runs[name + ", (2, N) arrays"] = lambda kernel=kernel: kernel(*plain_numpy_state(), 1e-3, 1e-3, steps,
                                                                          2048, 1e10)
    run_batch(launch.request, launch.inputs)  # compile
    best = dict.fromkeys(runs, math.inf)
    for _ in range(repeats):
        for name, run in runs.items():
            start = clock()
            run()
            best[name] = min(best[name], clock() - start)
    return {name: n * steps / seconds for name, seconds in best.items()}


# -- row 4: the trainability network over a learning-rate grid ----------------------------------

def network_data(seed: int = 0):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(272, 16)), rng.normal(size=(272, 1))
    return x, y, sd.landscapes.mlp_init(16, 16, 1, n=1, seed=seed + 1)


def network_row(side: int, steps: int) -> dict:
    x, y, w0 = network_data()
    land = sd.landscapes.mlp(x, y, width=16)
    lr = {"layer1": np.geomspace(1e2, 1e6, side), "layer2": np.geomspace(1e0, 1e2, side)}
    out = {}
    for name, observers in (("simdyn", []), ("simdyn + Trainability", [sd.observe.Trainability()])):
        out[name] = kernel_rate(make_plan("sgd", land, w0, steps, hyper={"lr": lr}, observers=observers), repeats=2)
    out["torch"] = torch_network_rate(x, y, w0, lr, max(5, steps // 2))
    return out


def torch_network_losses(x, y, w0, lr, steps):
    """Batched eager torch GD on B = side² copies of the network, one per (lr_layer1, lr_layer2)
    pair (``indexing="ij"``): einsum forward, autograd backward; returns the (steps, B) losses
    L(w_0) … L(w_{steps−1}) of every copy (the trainability measure needs them)."""
    import torch

    lr1, lr2 = np.meshgrid(lr["layer1"], lr["layer2"], indexing="ij")
    b = lr1.size
    xt, yt = torch.tensor(x), torch.tensor(y)
    a1 = torch.tensor(lr1.ravel())[:, None, None]
    a2 = torch.tensor(lr2.ravel())[:, None, None]
    w1 = torch.tensor(w0[0, :256].reshape(16, 16)).expand(b, 16, 16).clone().requires_grad_(True)
    w2 = torch.tensor(w0[0, 256:].reshape(16, 1)).expand(b, 16, 1).clone().requires_grad_(True)
    losses = []
    for _ in range(steps):
        hidden = torch.tanh(math.sqrt(2.0) * torch.einsum("mi,bij->bmj", xt, w1) / 4.0)  # Z1 = X W1 / sqrt(16)
        out = torch.einsum("bmj,bjo->bmo", hidden, w2) / 4.0 / 4.0  # Z2 = H W2 / sqrt(16), out = Z2 / sqrt(16)
        loss = ((out - yt) ** 2).mean(dim=(1, 2))
        g1, g2 = torch.autograd.grad(loss.sum(), (w1, w2))
        with torch.no_grad():
            w1 -= a1 * g1
            w2 -= a2 * g2
        losses.append(loss.detach())
    return torch.stack(losses).numpy()


def torch_network_rate(x, y, w0, lr, steps) -> float:
    """Trajectory-steps per second of :func:`torch_network_losses` (best of two after a warm-up)."""
    try:
        import torch
    except ImportError:
        return float("nan")
    torch.set_num_threads(cores())
    torch_network_losses(x, y, w0, lr, 2)
    best = min(_timed(torch_network_losses, x, y, w0, lr, steps) for _ in range(2))
    return lr["layer1"].size * lr["layer2"].size * steps / best


# -- compile time ----------------------------------------------------------------------------------

def compile_row(quick: bool) -> dict:
    """Seconds of the first array-form call (compiles) minus a repeat, and builds at other d."""
    rng = np.random.default_rng(4)
    dims = (10, 100) if quick else (10, 100, 1000)
    os.environ["SIMDYN_DISK_CACHE"] = "0"  # cold: no kernel from the disk cache (run first, nothing compiled yet)
    before = sd.cache_info()["builds"]
    h = random_spd(dims[0])
    x0 = rng.normal(size=(2, dims[0]))
    start = time.perf_counter()
    sd.simulate("rmsprop", "quadratic", x0, 2, params={"h": h}, progress=False)
    first = time.perf_counter() - start
    start = time.perf_counter()
    sd.simulate("rmsprop", "quadratic", x0, 2, params={"h": h}, progress=False)
    repeat = time.perf_counter() - start
    builds_first = sd.cache_info()["builds"] - before
    for d in dims[1:]:
        sd.simulate("rmsprop", "quadratic", rng.normal(size=(2, d)), 2, params={"h": random_spd(d)}, progress=False)
    del os.environ["SIMDYN_DISK_CACHE"]
    return {"compile seconds": first - repeat, "kernels built": builds_first,
            "kernels built at other d": sd.cache_info()["builds"] - before - builds_first}


ROWS = ("compile", "grid", "quadratic", "network", "adam")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run, not a measurement")
    parser.add_argument("--only", choices=ROWS, action="append", help="run only this row (repeatable)")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="adam row: wall-clock time, or the process's CPU time (run with NUMBA_NUM_THREADS=1 "
                             "for one thread's, which a busy machine disturbs less)")
    parser.add_argument("--repeats", type=int, default=3, help="grid and adam rows: interleaved rounds, best of (default 3)")
    args = parser.parse_args(argv)
    q = args.quick
    rows = set(args.only or ROWS)
    print(f"bench_highd: {cores()} cores, numba {numba.__version__}, float64"
          + (" (quick: smoke sizes, ratios not meaningful)" if q else ""))
    if "compile" in rows:
        c = compile_row(q)
        print(f"compile   first array-form kernel {c['compile seconds']:.1f} s cold ({c['kernels built']} kernels); "
              f"kernels built at the other d: {c['kernels built at other d']}")
    if "grid" in rows:
        g = grid_row(32 if q else 512, 2**10 if q else 2**18, 50 if q else 300, args.repeats)
        print(f"grid      Adam 2-D, 1 IC x {32 if q else 512}^2 (lr, beta1): {g['grid']:.3g} traj-steps/s; "
              f"IC batch: {g['initial-point batch']:.3g}; ratio {g['ratio']:.2f}x (bar >= 0.8x)")
    bars = {10: 2.0, 100: 1.2, 1000: 0.9}
    for d in ((10, 100) if q else (10, 100, 1000)) if "quadratic" in rows else ():
        r = quadratic_row(d, 2**12 if q else 2**21, 10 if q else (100 if d < 1000 else 20))
        print(f"quadratic d={d:<5} simdyn {r['simdyn']:.3g} N.d.T/s | torch {r['torch']:.3g} "
              f"({r['simdyn'] / r['torch']:.2f}x, bar >= {bars[d]}x) | numba tile+dot {r['numba tile + np.dot']:.3g} "
              f"({r['simdyn'] / r['numba tile + np.dot']:.2f}x) | numba per-trajectory {r['numba per trajectory']:.3g} "
              f"({r['simdyn'] / r['numba per trajectory']:.2f}x)")
    if "network" in rows:
        side, steps = (8, 10) if q else (64, 12)
        nw = network_row(side, steps)
        paper = 4096 ** 2 * 500 / nw["simdyn + Trainability"]
        print(f"network   mlp 272 params, 1 init x {side}^2 per-layer lr, GD {steps} steps: simdyn {nw['simdyn']:.3g} "
              f"traj-steps/s, with Trainability {nw['simdyn + Trainability']:.3g} | torch einsum+autograd "
              f"{nw['torch']:.3g} ({nw['simdyn + Trainability'] / nw['torch']:.2f}x with Trainability, "
              f"{nw['simdyn'] / nw['torch']:.2f}x without; bar >= 2x) | paper's 4096^2 x 500 image: "
              f"{paper / 3600:.3g} h here")
    if "adam" in rows:
        clock = time.process_time if args.clock == "cpu" else time.perf_counter
        a = adam_2d_row(2**14 if q else 2**20, 50 if q else 1000, args.repeats, clock)
        print(f"adam 2-D  ({args.clock} time, {numba.get_num_threads()} threads, best of {args.repeats}) "
              f"simdyn {a['simdyn']:.3g} traj-steps/s | hand 1 div {a['hand, 1 division']:.3g} "
              f"({a['simdyn'] / a['hand, 1 division']:.2f}x, bar >= 0.9x) | hand 2 div {a['hand, 2 divisions']:.3g} "
              f"({a['simdyn'] / a['hand, 2 divisions']:.2f}x) | hand 1 div + freeze {a['hand, 1 division + freeze']:.3g} "
              f"({a['simdyn'] / a['hand, 1 division + freeze']:.2f}x) | hand 1 div on (2, N) NumPy arrays "
              f"{a['hand, 1 division, (2, N) arrays']:.3g} ({a['simdyn'] / a['hand, 1 division, (2, N) arrays']:.2f}x)")


if __name__ == "__main__":
    main()
