"""Execute a fused kernel over a batch: allocate state, advance time in segments, gather results.

The batch is flattened combination-major: trajectory index g = c·n_ic + i, c the hyperparameter
combination, i the initial condition. One call runs the trajectories ``start ≤ g < stop`` (the
whole batch by default), so a study can be split into chunks that give identical numbers. The
time loop runs in segments so a progress bar can be shown and Ctrl-C is honoured between
segments; the last step runs on its own so the final displacement ‖w_T − w_{T−1}‖ (the
convergence test) costs nothing in the hot loop.
"""

from __future__ import annotations

import contextlib
import functools
import math
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .allocation import TABLES, kernel_arrays, zeros
from .array_codegen import TILE_ROWS, array_argument_names
from .codegen import argument_names
from .gather import gather_columns, inverse_permutation
from .kernels import KernelRequest, get_kernel
from .sharpness import SharpnessProbe

#: Largest number of trajectories per CPU tile: the tile's state stays in L2 while the time
#: loop runs (measured: 2048 beat 512 by ~40 % for Adam on the valley; per-step loop overhead is
#: amortised over more trajectories). Smaller batches get smaller tiles so every thread has work.
CPU_TILE = 2048
#: Threads per CUDA block.
CUDA_BLOCK = 128
#: Aimed-for wall time of one segment of the time loop (seconds).
SEGMENT_SECONDS = 0.5


@dataclass
class BatchInputs:
    """Per-combination tables and the initial conditions of one optimizer's run."""

    hypers: np.ndarray  # (n_hyper, C)
    schedule: np.ndarray  # (n_sched, C)
    params: np.ndarray  # (n_params, C)
    init_state: np.ndarray  # (n_slots, C): the optimizer's initial slots per combination
    x0: np.ndarray  # (n_ic, d)
    observer_params: np.ndarray  # (total observer params, C)
    observer_buffers: tuple  # per observer: (length, width) of its history buffer, or None
    steps: int
    record_every: int  # 0 = no recording
    seed: int = 0
    sigma: float = 0.0
    threshold: float = 1e10
    #: (C,) int64: combinations with the same number share every value but the kernel's lane
    #: rows, and may share a CPU tile. None: each combination is its own group.
    tile_group: np.ndarray | None = None
    #: (C,) int64: the combination whose trajectories this one's copy, because the two differ
    #: only along sweep dims this optimizer ignores (a β₁ sweep beside SGD). None: all differ.
    representative: np.ndarray | None = None
    #: Observers run between segments of the time loop, outside the step kernel
    #: (``between_segments``, e.g. :class:`simdyn.observe.Sharpness`).
    probes: tuple = ()

    @property
    def size(self) -> int:
        """Trajectories in the whole batch (combinations × initial conditions)."""
        return self.hypers.shape[1] * self.x0.shape[0]


@dataclass
class BatchResult:
    w: np.ndarray  # (d, N) final positions
    w_prev: np.ndarray  # (d, N) positions one step before the end
    frozen: np.ndarray  # (N,) 0 active, +t diverged at t, −t non-finite at t
    observer_state: np.ndarray  # (n_observer_slots, N)
    records: np.ndarray | None  # (n_records, d, N)
    #: () -> (n_slots, d, N): the optimizer's slots at the end, in batch order. Made only when
    #: asked (:attr:`state`): no analysis reads them, and after a launch whose tiles reordered
    #: the trajectories they would cost a gather of every slot row (4 of the 9 rows gathered
    #: back after a 512² (lr, β₁) Adam grid). It holds the kernel's slot array only, never the
    #: other results (a chunked run frees each chunk's arrays once concatenated).
    final_slots: Callable[[], np.ndarray]
    seconds: float
    observer_buffers: list  # per observer: (length, width, N) array or None
    probe_series: list = ()  # per probe of the inputs: (measurements, N) array

    @property
    def state(self) -> np.ndarray:
        """(n_slots, d, N): the optimizer's slots after the last step, in batch order."""
        return self.final_slots()


def cpu_tiles(g: np.ndarray, n_ic: int, tile: int, tile_group: np.ndarray | None = None):
    """The CPU tiles of the trajectories of the sorted global indices ``g`` and the order of
    the columns.

    Returns ``(tiles, order)``: ``tiles`` is (3, n_tiles) int64, the local column range [lo, hi)
    and a combination of each tile, relative to the first trajectory's; ``order`` (n,) int64
    the position in ``g`` held by each column, or None when column j holds g[j].
    Trajectories are sorted by ``tile_group`` (stably, so by g within a group) and a tile never
    straddles two groups, so every value but the lane rows is a constant of the tile. Without
    groups every combination is its own group and the order is the identity.
    """
    g = np.asarray(g, dtype=np.int64)
    first_combo = g[0] // n_ic
    combo = g // n_ic
    group = combo if tile_group is None else np.asarray(tile_group, dtype=np.int64)[combo]
    order = None
    if np.any(group[1:] < group[:-1]):
        order = np.argsort(group, kind="stable")
        group = group[order]
        combo = combo[order]
    edges = np.flatnonzero(group[1:] != group[:-1]) + 1
    run_lo = np.concatenate([[0], edges])
    run_hi = np.concatenate([edges, [g.size]])
    counts = (run_hi - run_lo + tile - 1) // tile
    owner = np.repeat(np.arange(run_lo.size), counts)
    rank = np.arange(owner.size) - np.repeat(np.cumsum(counts) - counts, counts)
    tile_lo = run_lo[owner] + rank * tile
    tile_hi = np.minimum(tile_lo + tile, run_hi[owner])
    tiles = np.ascontiguousarray(np.stack([tile_lo, tile_hi, combo[tile_lo] - first_combo]).astype(np.int64))
    return tiles, order


def _tile_size(n: int) -> int:
    """CPU_TILE, or less (a multiple of 64) when the batch would leave threads without a tile."""
    import numba

    per_thread = -(-n // (4 * numba.get_num_threads()))
    return min(CPU_TILE, max(64, -(-per_thread // 64) * 64))


#: Bytes of state an array-form tile aims at (its rows stay in L2 while the time loop runs).
ARRAY_TILE_BYTES = 1 << 18


def _array_tile_size(n: int, d: int, n_slots: int) -> int:
    """Trajectories per array-form tile: about ARRAY_TILE_BYTES of state, at most CPU_TILE, and
    small enough that every thread has a few tiles."""
    import numba

    fits = ARRAY_TILE_BYTES // (8 * d * (2 + 2 * n_slots))
    per_thread = -(-n // (4 * numba.get_num_threads()))
    return int(max(1, min(CPU_TILE, fits, per_thread)))


#: Above this many combinations in one launch, per-trajectory columns are gathered by fancy
#: indexing instead of one slice copy per combination.
SLICE_COPY_MAX = 64


def per_trajectory(x0: np.ndarray, table: np.ndarray, start: int, stop: int, out_x0=None, out_table=None):
    """Columns ``start ≤ g < stop`` of the flattened batch (g = c·n_ic + i): the initial points
    x0[i] (n_ic, d) written transposed into ``out_x0`` (d, n) and the per-combination ``table``
    (k, C) columns c into ``out_table`` (k, …, n). Slice copies per combination (the common case
    of few combinations), gathers otherwise."""
    n_ic = x0.shape[0]
    first, last = start // n_ic, (stop - 1) // n_ic + 1
    if last - first > SLICE_COPY_MAX:
        g = np.arange(start, stop)
        if out_x0 is not None:
            out_x0[...] = x0[g % n_ic].T
        if out_table is not None:
            out_table[...] = table[:, g // n_ic].reshape(table.shape[:1] + (1,) * (out_table.ndim - 2) + (g.size,))
        return
    for c in range(first, last):
        lo, hi = max(start, c * n_ic), min(stop, (c + 1) * n_ic)
        if out_x0 is not None:
            out_x0[:, lo - start:hi - start] = x0[lo - c * n_ic:hi - c * n_ic].T
        if out_table is not None:
            out_table[..., lo - start:hi - start] = table[:, c].reshape(table.shape[:1] + (1,) * (out_table.ndim - 1))


def _zeros(req: KernelRequest, inp: BatchInputs, n: int, n_combos: int) -> dict:
    """Zeroed kernel arrays, exactly those :func:`simdyn.engine.allocation.kernel_arrays` lists
    (the memory check counts the same list), placed in their pages by
    :func:`simdyn.engine.allocation.zeros`."""
    return zeros(kernel_arrays(req, inp, n, n_combos))


def _fill_tables(a: dict, inp: BatchInputs, first: int, last: int) -> dict:
    """Copy the per-combination tables' columns first … last − 1 into ``a``; return them by name."""
    tables = {name: getattr(inp, field) for name, field in TABLES.items()}
    for name, table in tables.items():
        a[name][...] = table[:, first:last]
    return tables


def _fill_lanes(a: dict, req: KernelRequest, tables: dict, combo: np.ndarray, n: int) -> None:
    """Each trajectory's values of the lane rows (``LR``: hyperparameter, schedule and landscape
    rows; ``LQ``: observer parameter rows)."""
    for name, kinds in (("LR", ("H", "Q", "P")), ("LQ", ("OQ",))):
        rows = [(t, i) for t, i in req.layout.lane_rows if t in kinds]
        for k, (t, i) in enumerate(rows):
            a[name][k, :n] = tables[t][i, combo]


def _buffers(a: dict, req: KernelRequest, inp: BatchInputs) -> list:
    """The history buffers in observer order (None for an observer without one)."""
    names = iter(req.layout.buffer_args())
    return [None if shape is None else a[next(names)] for shape in inp.observer_buffers]


def _allocate(req: KernelRequest, inp: BatchInputs, g: np.ndarray, contiguous: bool):
    """The kernel's arrays by argument name; column j holds trajectory g[j] (``contiguous``:
    g is a range of consecutive indices)."""
    n_ic, d = inp.x0.shape
    n = g.size
    start, stop = int(g.min()), int(g.max()) + 1
    first, last = start // n_ic, (stop - 1) // n_ic + 1
    if req.layout.form == "array":
        return _allocate_array_form(req, inp, g, first, last)
    a = _zeros(req, inp, n, last - first)
    if contiguous:
        per_trajectory(inp.x0, inp.init_state, start, stop, a["W"][:, :n], a["S"][:, :, :n])
    else:
        a["W"][:, :n] = inp.x0[g % n_ic].T
        a["S"][:, :, :n] = inp.init_state[:, None, g // n_ic]
    if inp.record_every:
        a["R"][0, :, :n] = a["W"][:, :n]
    tables = _fill_tables(a, inp, first, last)
    a["G"][:n] = g
    _fill_lanes(a, req, tables, g // n_ic, n)
    return a, _buffers(a, req, inp)


def _allocate_array_form(req: KernelRequest, inp: BatchInputs, g: np.ndarray, first: int, last: int):
    """The array-form kernel's arrays: a row of d contiguous coordinates per trajectory (W (n, d),
    S (slots, n, d), R (records, n, d), history buffers (n, length, width)); the tables as in
    :func:`_allocate`; the landscape's data as it is (converted to the run's dtype if needed)."""
    n_ic = inp.x0.shape[0]
    n = g.size
    combo = g // n_ic
    a = _zeros(req, inp, n, last - first)
    a["W"][...] = inp.x0[g % n_ic]
    a["S"][...] = inp.init_state[:, combo, None]
    if inp.record_every:
        a["R"][0] = a["W"]
    tables = _fill_tables(a, inp, first, last)
    a["G"][...] = g
    _fill_lanes(a, req, tables, combo, n)
    for i, array in enumerate(req.landscape.data_arrays):
        if f"D{i}" in a:  # allocated in the run's dtype
            a[f"D{i}"][...] = array
        else:
            a[f"D{i}"] = array
    return a, _buffers(a, req, inp)


def _segments(total_steps: int, n_traj: int, timer, every: int = 0):
    """Yield (t_begin, t_end) covering 0 < t ≤ total_steps − 1, sized to ~SEGMENT_SECONDS each;
    with ``every`` = k, every multiple of k ends a segment."""
    t, length = 0, max(1, min(total_steps - 1, 2_000_000 // max(n_traj, 1)))
    while t < total_steps - 1:
        end = min(total_steps - 1, t + length)
        if every:
            end = min(end, (t // every + 1) * every)
        start = time.perf_counter()
        yield t, end
        elapsed = time.perf_counter() - start
        rate = (end - t) / max(elapsed, 1e-6)
        length = int(max(1, min(4 * length, rate * SEGMENT_SECONDS)))
        t = end
        timer(end)


def run_batch(req: KernelRequest, inp: BatchInputs, progress=None, start: int = 0, stop: int | None = None) -> BatchResult:
    """Advance trajectories ``start ≤ g < stop`` of the batch ``inp.steps`` steps with ``req``'s kernel.

    ``progress(n)`` (optional) is called with the trajectory-steps done so far. A trajectory
    whose combination differs from its representative's only along dims this optimizer ignores
    (``inp.representative``, noise-free runs) is not run: it is a copy of the representative's.
    """
    stop = inp.size if stop is None else stop
    if not 0 <= start < stop <= inp.size:
        raise ValueError(f"run_batch: need 0 <= start < stop <= {inp.size}, got [{start}, {stop})")
    g = np.arange(start, stop, dtype=np.int64)
    if inp.representative is not None and inp.sigma == 0:
        n_ic = inp.x0.shape[0]
        reps = inp.representative[g // n_ic] * n_ic + g % n_ic
        if np.any(reps != g):
            unique = np.unique(reps)
            done = _run_trajectories(req, inp, unique, False, progress)
            return _select(done, np.searchsorted(unique, reps))
    return _run_trajectories(req, inp, g, True, progress)


def _select(result: BatchResult, columns: np.ndarray) -> BatchResult:
    """The result of the trajectories ``columns`` of ``result`` (repeated columns are copies)."""
    def take(a):
        return None if a is None else np.ascontiguousarray(a[..., columns])

    return BatchResult(w=take(result.w), w_prev=take(result.w_prev), frozen=take(result.frozen),
                       observer_state=take(result.observer_state), records=take(result.records),
                       final_slots=lambda slots=result.final_slots: take(slots()), seconds=result.seconds,
                       observer_buffers=[take(b) for b in result.observer_buffers],
                       probe_series=[take(b) for b in result.probe_series])


def _run_trajectories(req: KernelRequest, inp: BatchInputs, g: np.ndarray, contiguous: bool, progress) -> BatchResult:
    """Run the trajectories of the sorted global indices ``g``."""
    kernel = get_kernel(req)
    n_ic = inp.x0.shape[0]
    n = g.size
    if req.target == "cpu":
        if req.layout.form == "tuple":
            tile = _tile_size(n)
        elif req.layout.tile_grad:
            tile = TILE_ROWS  # the fixed shape of every tile-gradient call
        else:
            tile = _array_tile_size(n, inp.x0.shape[1], req.layout.n_slots)
        tiles, order = cpu_tiles(g, n_ic, tile, inp.tile_group)
    else:
        tiles, order = np.zeros((3, 1), dtype=np.int64), None  # tiles are a CPU notion
    columns = g if order is None else g[order]
    args, buffers = _allocate(req, inp, columns, contiguous and order is None)
    args["T"] = tiles
    real = np.dtype(req.dtype).type
    args.update(n_ic=n_ic, first=int(g[0]), n_traj=n, rec_every=inp.record_every, seed=inp.seed,
                sigma=real(inp.sigma), thr=real(inp.threshold))
    array_form = req.layout.form == "array"
    names = array_argument_names(req.layout) if array_form else argument_names(req.layout)
    begin = time.perf_counter()

    def update_progress(t_done):
        if progress is not None:
            progress(t_done * n)

    if req.target == "cpu":
        def launch(t_begin, t_end):
            args.update(t_begin=t_begin, t_end=t_end)
            with _single_threaded_blas() if req.layout.tile_grad else contextlib.nullcontext():
                kernel(*(args[name] for name in names))

        def fetch(name):
            return args[name]
    else:
        from numba import cuda

        device = {name: cuda.to_device(value) if isinstance(value, np.ndarray) else value for name, value in args.items()}
        blocks = (n + CUDA_BLOCK - 1) // CUDA_BLOCK

        def launch(t_begin, t_end):
            device.update(t_begin=t_begin, t_end=t_end)
            kernel[blocks, CUDA_BLOCK](*(device[name] for name in names))
            cuda.synchronize()

        def fetch(name):
            return device[name].copy_to_host()

    probes = [SharpnessProbe(obs, req, inp, columns) for obs in inp.probes]

    def measure(t):
        """Run the probes due after step t on the launch's current state."""
        if not any(t % obs.every == 0 for obs in inp.probes):
            return
        W, S, F = fetch("W"), fetch("S"), fetch("F")
        if array_form:
            W, S, F = W[:n], S[:, :n], F[:n]
        else:
            W, S, F = W[:, :n].T, np.swapaxes(S[:, :, :n], 1, 2), F[:n]
        for probe in probes:
            probe.measure(t, W, S, F)

    every = math.gcd(*(obs.every for obs in inp.probes)) if inp.probes else 0
    measure(0)
    for t_begin, t_end in _segments(inp.steps, n, update_progress, every):
        launch(t_begin, t_end)
        measure(t_end)
    columns = _columns(n, order)
    # the positions before the last step, in the results' (d, N) layout and batch order: a copy
    # of n columns (the gather makes one when the tiles reordered the trajectories)
    w_prev = columns(fetch("W").T if array_form else fetch("W"))
    w_prev = w_prev.copy() if np.shares_memory(w_prev, args["W"]) else w_prev
    launch(inp.steps - 1, inp.steps)
    measure(inp.steps)
    update_progress(inp.steps)
    buffer_arrays = iter([fetch(name) for name in req.layout.buffer_args()])
    host_buffers = [None if b is None else next(buffer_arrays) for b in buffers]
    if array_form:  # rows of d coordinates (of observer slots) -> the (…, d, N) layout of the results
        host_buffers = [None if b is None else np.moveaxis(b, 0, -1) for b in host_buffers]
        fetch_rows = fetch

        def fetch(name):
            a = fetch_rows(name)
            return np.swapaxes(a, -1, -2) if name in ("W", "S", "R", "O") else a
    return BatchResult(
        w=columns(fetch("W")),
        w_prev=w_prev,
        frozen=columns(fetch("F")),
        observer_state=columns(fetch("O")),
        records=columns(fetch("R")) if inp.record_every else None,
        final_slots=functools.partial(columns, fetch("S")),  # the kernel's slots (a host copy from a GPU)
        seconds=time.perf_counter() - begin,
        observer_buffers=[None if b is None else columns(b) for b in host_buffers],
        probe_series=[columns(probe.series) for probe in probes],
    )


def _single_threaded_blas():
    """BLAS limited to one thread: a tile gradient's matrix product runs inside numba's threads,
    and BLAS's own pool on top of them would oversubscribe the cores."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def _columns(n: int, order):
    """A function taking a padded (…, N) array to its n trajectory columns in batch order."""
    if order is None:
        return lambda a: a[..., :n]
    inverse = inverse_permutation(order)
    return lambda a: gather_columns(a, inverse)


def concatenate_results(parts: list[BatchResult]) -> BatchResult:
    """One result from consecutive chunks of the same batch (in order)."""
    if len(parts) == 1:
        return parts[0]

    def cat(arrays):
        return None if arrays[0] is None else np.concatenate(arrays, axis=-1)

    return BatchResult(
        w=cat([p.w for p in parts]),
        w_prev=cat([p.w_prev for p in parts]),
        frozen=cat([p.frozen for p in parts]),
        observer_state=cat([p.observer_state for p in parts]),
        records=cat([p.records for p in parts]),
        final_slots=lambda slots=[p.final_slots for p in parts]: cat([part() for part in slots]),
        seconds=sum(p.seconds for p in parts),
        observer_buffers=[cat([p.observer_buffers[m] for p in parts]) for m in range(len(parts[0].observer_buffers))],
        probe_series=[cat([p.probe_series[m] for p in parts]) for m in range(len(parts[0].probe_series))],
    )
