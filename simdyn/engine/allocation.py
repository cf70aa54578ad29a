"""The arrays a launch allocates: one list of names, shapes and dtypes, used to allocate them and
to budget memory before anything is allocated.

:func:`kernel_arrays` lists the kernel's array arguments that :func:`simdyn.engine.run.run_batch`
makes for n trajectories (:func:`simdyn.engine.run._allocate` allocates exactly these);
:func:`returned_copies` the arrays its result holds that are not views of them;
:func:`launch_bytes` sums both, the memory one launch (or one chunk) holds at its peak, which
:func:`simdyn.simulate.check_memory` compares with the run's ``max_memory``, and
:func:`recording_bytes` the part of it that the recording ``R`` takes, which
:func:`simdyn.plan.make_plan` checks for the whole batch before anything else is sized.

Tuple-form kernels keep each quantity in rows of the padded width of
:func:`padded_width` (columns are trajectories); array-form kernels a row per trajectory.
"""

from __future__ import annotations

import numpy as np

#: The per-combination tables copied into every launch, by kernel argument name, and the
#: :class:`simdyn.engine.run.BatchInputs` field each comes from.
TABLES = {"H": "hypers", "Q": "schedule", "P": "params", "OQ": "observer_params"}


#: Bytes between the starts of a state array's consecutive rows: an odd multiple of this.
ROW_BLOCK = 512
#: The span of the low address bits a load is first matched on against earlier stores.
PAGE = 4096


def padded_width(n: int, itemsize: int, block: int = ROW_BLOCK) -> int:
    """Row length ≥ n whose size in bytes is an odd multiple of ``block`` (512 bytes: 8 cache lines).

    The state lives in (rows, N) arrays walked row by row in one loop, which loads every row at
    column j and stores it back. Two effects set the row length:

    * L1 cache sets: with N a power of two every row starts on the same set and the rows evict
      each other (4x slower with a few observers); an odd multiple of ``block`` spreads the rows
      over PAGE / block groups of sets.
    * 4K aliasing: the CPU first matches a load against the stores still in flight on the low 12
      address bits only, and holds it back when they agree. With rows an odd number of 64-byte
      lines apart (the previous rule), row r + 1 at column j sits one line past row r at column
      j in those bits, so the next iteration's loads of row r wait for this iteration's stores
      of row r + 1. Rows 512 bytes apart (mod 4096) are 8 vectorised iterations apart: measured
      on Adam in 2-D (2¹⁷ trajectories, one thread, CPU time), 0.70x the hand-written kernel with
      rows 64 bytes apart (mod 4096), 0.82x at 128, 0.86x at 256, 0.91–0.92x at 512, 1024, 1536.
    """
    per_block = max(1, block // itemsize)
    blocks = -(-n // per_block)
    return (blocks + (blocks % 2 == 0)) * per_block


def zeros(arrays: dict) -> dict:
    """Zeroed arrays for ``name -> (shape, dtype)``, each a view of a buffer up to 2 · PAGE bytes
    longer, placed in its page: array i starts (k mod 8) · ROW_BLOCK bytes past a page boundary, k
    the rows (all axes but the last) of the arrays before it. Rows an odd multiple of ROW_BLOCK
    long (:func:`padded_width`) then all start a multiple of ROW_BLOCK past a page boundary, and
    the first rows of consecutive arrays in different groups of L1 sets. Separately allocated
    arrays would start anywhere in their pages, and rows of two arrays a few cache lines apart
    (mod 4096) slow the step loop as rows of one array do (:func:`padded_width`)."""
    out, rows = {}, 0
    for name, (shape, dtype) in arrays.items():
        dtype = np.dtype(dtype)
        size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if size == 0:  # nothing to place (an empty array owns no buffer)
            out[name] = np.zeros(shape, dtype=dtype)
            continue
        offset = (rows % (PAGE // ROW_BLOCK)) * ROW_BLOCK
        raw = np.zeros(size + 2 * PAGE, dtype=np.uint8)
        start = (-raw.ctypes.data) % PAGE + offset
        out[name] = raw[start:start + size].view(dtype).reshape(shape)
        rows += int(np.prod(shape[:-1], dtype=np.int64))
    return out


def frozen_dtype(dtype) -> np.dtype:
    """dtype of the frozen codes ``F`` (the kernels' FT): int32 beside float32, else int64."""
    return np.dtype(np.int32 if np.dtype(dtype) == np.float32 else np.int64)


def combinations_spanned(n: int, n_ic: int, n_combos: int) -> int:
    """Most combinations n consecutive trajectories can span (the columns of the tables a chunk
    copies): all C for the whole batch."""
    return int(min(n_combos, -(-(n - 1) // n_ic) + 1))


def lane_row_counts(layout) -> tuple[int, int]:
    """Rows of ``LR`` (per-trajectory hyperparameter, schedule and landscape values) and of
    ``LQ`` (per-trajectory observer parameters), each at least 1."""
    real = sum(1 for t, _ in layout.lane_rows if t in ("H", "Q", "P"))
    observer = sum(1 for t, _ in layout.lane_rows if t == "OQ")
    return max(1, real), max(1, observer)


def kernel_arrays(req, inp, n: int, n_combos: int | None = None) -> dict:
    """``name -> (shape, dtype)`` of every array argument the kernel of ``req`` gets to advance
    n trajectories of ``inp`` spanning ``n_combos`` combinations (default: the most they can
    span). The tile table ``T`` (3 int64 per tile) is not listed: its size depends on the
    threads, and it is a few bytes per thousand trajectories."""
    dt = np.dtype(req.dtype)
    layout = req.layout
    d = inp.x0.shape[1]
    n_combos = combinations_spanned(n, inp.x0.shape[0], inp.hypers.shape[1]) if n_combos is None else n_combos
    lr_rows, lq_rows = lane_row_counts(layout)
    records = inp.steps // inp.record_every + 1 if inp.record_every else 0
    obs_slots = sum(layout.observer_slots)
    tables = {name: ((getattr(inp, field).shape[0], n_combos), np.dtype(np.float64) if name == "OQ" else dt)
              for name, field in TABLES.items()}
    if layout.form == "array":
        cuda = req.target == "cuda"
        arrays = {
            "W": ((n, d), dt), "S": ((layout.n_slots, n, d), dt), "F": ((n,), frozen_dtype(dt)),
            "O": ((n, obs_slots), np.dtype(np.float64)),
            "R": ((records, n, d) if records else (1, 1, d), dt),
            **tables,
            "G": ((n,), np.dtype(np.int64)),
            "LR": ((lr_rows, n), dt), "LQ": ((lq_rows, n), np.dtype(np.float64)),
            "GS": ((n, d) if cuda else (1, 1), dt), "NS": ((n, d) if cuda else (1, 1), dt),
            "US": ((layout.n_slots, n, d) if cuda else (1, 1, 1), dt),
            # the landscape's scratch rows (CPU: a (1, n) placeholder giving the size)
            "XS": ((n, max(1, req.landscape.scratch)) if cuda else (1, max(1, req.landscape.scratch)), dt),
        }
        for i, array in enumerate(req.landscape.data_arrays):
            if not (array.dtype == dt and array.flags.c_contiguous):  # converted: a copy
                arrays[f"D{i}"] = (array.shape, dt)
        buffer_shape = [None if shape is None else (n, *shape) for shape in inp.observer_buffers]
    else:
        width = {np.dtype(t).itemsize: padded_width(n, np.dtype(t).itemsize) for t in (dt, np.float64, np.int32)}

        def rows(shape, dtype):
            return (tuple(shape) + (width[np.dtype(dtype).itemsize],), np.dtype(dtype))

        arrays = {
            "W": rows((d,), dt), "S": rows((layout.n_slots, d), dt), "F": rows((), frozen_dtype(dt)),
            "O": rows((obs_slots,), np.float64),
            # written outside the step loop: padded to lines only (a recording may have many rows)
            "R": ((records, d, padded_width(n, dt.itemsize, 64)), dt) if records else ((1, d, 1), dt),
            **tables,
            "G": rows((), np.int64),
            "LR": rows((lr_rows,), dt), "LQ": rows((lq_rows,), np.float64),
        }
        buffer_shape = [None if shape is None else rows(tuple(shape), np.float64)[0] for shape in inp.observer_buffers]
    names = iter(layout.buffer_args())
    for shape in buffer_shape:
        if shape is not None:
            arrays[next(names)] = (shape, np.dtype(np.float64))
    return arrays


def reordered(req, inp) -> bool:
    """Whether the CPU tiles put the trajectories out of batch order (tile groups not sorted by
    combination: :func:`simdyn.engine.run.cpu_tiles`), so the results are gathered back."""
    return req.target == "cpu" and inp.tile_group is not None and bool(np.any(np.diff(inp.tile_group) < 0))


def _result_names(req, inp, slots: bool = True) -> list:
    return ["W", "F", "O"] + (["S"] if slots else []) + (["R"] if inp.record_every else []) \
        + list(req.layout.buffer_args())


def returned_copies(req, inp, n: int) -> dict:
    """``name -> (shape, dtype)`` of the arrays a launch's result holds besides the kernel's
    arguments: the positions one step before the end (``w_prev``, n columns; from a GPU the
    host copy of ``W`` it is taken from); from a GPU, the host copy of every result array (``W``,
    ``F``, ``O``, ``S``, ``R``, history buffers); on the CPU, when the tiles reordered the
    trajectories (:func:`reordered`), those arrays but the slots ``S`` (gathered only when asked,
    ``BatchResult.state``) gathered back into batch order, n columns each. Otherwise the results
    are views of the kernel's arrays."""
    arrays = kernel_arrays(req, inp, n, n_combos=1)

    def columns(name):
        shape, dtype = arrays[name]
        return (shape[:-1] + (n,) if req.layout.form == "tuple" else shape), dtype  # padded rows -> n columns

    if req.target == "cuda":
        copies = {"w_prev": arrays["W"]}
        copies.update({f"host_{name}": arrays[name] for name in _result_names(req, inp)})
        return copies
    copies = {"w_prev": columns("W")}
    if reordered(req, inp):
        copies.update({f"ordered_{name}": columns(name) for name in _result_names(req, inp, slots=False)})
    return copies


def nbytes(arrays: dict) -> int:
    """Bytes of the ``name -> (shape, dtype)`` arrays."""
    return sum(int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize for shape, dtype in arrays.values())


def probe_bytes(req, inp, n: int) -> int:
    """Bytes of the observers run between segments (:class:`simdyn.engine.sharpness.SharpnessProbe`)
    for n trajectories: each holds its float64 series and, per trajectory, rows of d for the
    state, the preconditioner factors, the iterate and its work rows (at most nine) and the
    optimizer slots it reads."""
    d, slots = inp.x0.shape[1], req.layout.n_slots
    return sum(8 * n * (probe.series_length(inp.steps) + d * (9 + slots)) for probe in getattr(inp, "probes", ()))


def launch_bytes(req, inp, n: int) -> int:
    """Bytes :func:`simdyn.engine.run.run_batch` holds to advance n trajectories of ``inp``:
    :func:`kernel_arrays` (state, slots, frozen codes, observer slots and history buffers,
    recording, tables, lane and scratch rows, converted data), :func:`returned_copies` and the
    between-segment observers' rows (:func:`probe_bytes`)."""
    return nbytes(kernel_arrays(req, inp, n)) + nbytes(returned_copies(req, inp, n)) + probe_bytes(req, inp, n)


def recording_bytes(req, inp, n: int) -> int:
    """Bytes of the recording ``R`` of n trajectories (0 without one)."""
    return nbytes({"R": kernel_arrays(req, inp, n)["R"]}) if inp.record_every else 0
