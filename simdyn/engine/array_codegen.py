"""Source generation for array-form landscapes: any dimension d, with data.

An array-form landscape writes its gradient on arrays, ``grad(w, p, data, t, g)`` with ``w`` and
``g`` of shape (d,) and ``data`` the tuple of its data arrays (a design matrix, a dataset), so
nothing in the generated source grows with d: compile time and memory are those of d = 1.

The state is laid out per trajectory, rows of contiguous coordinates: W (N, d), S (slots, N, d),
R (records, N, d); the other arrays are those of :mod:`simdyn.engine.codegen` (same argument
list, :data:`ARRAY_ARGUMENTS`, with the data arrays D0, D1, … and scratch rows at the end). One
step of trajectory j:

1. ``grad(W[j], p, data, t, g)`` into a scratch row (or, on the CPU, the landscape's
   ``tile_grad(WT, p, data, t, GT)`` once per tile and step: one matrix–matrix product for the
   whole tile where the per-trajectory form would re-stream the data per trajectory). The tile's
   rows are copied into WT, always :data:`TILE_ROWS` rows (zero rows pad the last tile): a BLAS
   product's rounding can depend on the number of rows it is given (which kernel handles a
   row), so a fixed shape keeps every trajectory's bits independent of the chunking and of its
   neighbours;
2. the optimizer's scalar ``update`` on every coordinate k, with the hyperparameters of k's
   coordinate group, into scratch rows — this loop runs along the contiguous coordinates and
   vectorises;
3. the step is kept if every new coordinate is finite and within the divergence threshold,
   else the trajectory is frozen at its last state (F[j] = +t diverged, −t non-finite) and
   skipped from then on;
4. every observer m runs its ``update_array(O[j, slots of m], t, w_t, w_{t−1}, ok, q_m)``
   (one that sees the loss gets ``lv`` = L(w_{t−1}) after q_m: evaluated with the gradient, by
   ``value_grad`` / ``tile_value_grad`` when the landscape has them, else by ``loss``; NaN on
   the steps of a trajectory frozen before them)
   (:mod:`simdyn.observe.base`), ``ok`` whether the step was applied, as in the tuple form:
   at every step, frozen trajectories included (with w_t = w_{t−1} and ``ok`` False). Its slots
   are a row of O (N, observer slots), its parameters the column ``q_m = OQ[rows of m, c_j]``
   of the trajectory's combination c_j = G[j] // n_ic − first // n_ic; at t = 0 its
   ``init_array(W[j], q_m, O[j, slots of m])``. An observer that sees the optimizer state
   (``sees_state``) also gets the trajectory's (slots, d) optimizer slots after the step (the
   new slots ``u`` of step 2; ``S[:, j]`` at t = 0 and on a frozen trajectory), and an observer
   with a history buffer its trajectory's (length, width) row B<m>[j], last. (The engine transposes O and B<m> back
   to the tuple form's (slots, N) and (length, width, N) before ``finalize``.)

The CPU kernel tiles trajectories as the tuple form does (tile constants and lane rows, see
:mod:`simdyn.engine.tiling`); the CUDA kernel runs one thread per trajectory with scratch rows
in global memory.

Landscape scratch rows: a landscape that declares ``scratch = n > 0`` floats of working memory
(hidden activations of a deep network: a CUDA device function cannot allocate) gets a row ``s``
of n floats as the last argument of every ``grad`` (and ``loss``) call. On the CPU each prange
tile allocates one row (its trajectories run one after another, so they share it); on CUDA the
kernel argument XS holds one row per trajectory, (N, n) in global memory, and thread j passes
XS[j]. The CPU kernel reads n from XS's shape (a (1, n) placeholder there), so one compiled
kernel serves every size. A landscape function must not expect the row to keep anything between
calls.
"""

from __future__ import annotations

from dataclasses import replace

from .codegen import (
    ARGUMENTS,
    KernelLayout,
    _combination_scalars,
    _combination_tuples,
    _indent,
    _has,
    _lr_varies_per_trajectory,
    _observer_offsets,
    _schedules,
    _suffix,
    _tuple,
)

#: Rows of every tile-gradient call on the CPU (tiles of such landscapes hold this many
#: trajectories): a fixed shape, so a trajectory's gradient does not depend on its tile.
TILE_ROWS = 64

#: Scratch rows of the CUDA kernel (the CPU kernel allocates them per tile): gradient (N, d),
#: new point (N, d), new slots (slots, N, d), the landscape's own scratch (N, scratch).
SCRATCH = (("GS", "real", 2), ("NS", "real", 2), ("US", "real", 3), ("XS", "real", 2))


def data_names(layout: KernelLayout) -> list[str]:
    return [f"D{i}" for i in range(len(layout.data_ndims))]


def array_argument_names(layout: KernelLayout) -> list[str]:
    """The array-form kernel's arguments: :data:`codegen.ARGUMENTS`, scratch rows, data, then the
    observers' history buffers B<m> (N, length, width)."""
    return [name for name, _, _ in ARGUMENTS] + [name for name, _, _ in SCRATCH] + data_names(layout) \
        + layout.buffer_args()


def _signature(layout: KernelLayout) -> str:
    return ", ".join(array_argument_names(layout))


def _data_tuple(layout: KernelLayout) -> str:
    return "data = " + _tuple(data_names(layout))


def _tables(layout: KernelLayout) -> KernelLayout:
    """The layout the table helpers of :mod:`codegen` see: without observers, whose parameters
    the array form reads as columns of OQ per trajectory (:func:`_observer_calls`)."""
    return replace(layout, observer_slots=(), observer_params=())


def _observer_calls(layout: KernelLayout, j: str, function: str, arguments: str, slots: str,
                   loss: str = "") -> list[str]:
    """``observer_<function>_m(…)`` for every observer of trajectory ``j``: ``arguments`` is a
    format string of ``o`` (the observer's slot row) and ``q`` (its parameter column); an
    observer that sees the optimizer state also gets ``slots``, the trajectory's (slots, d)
    optimizer slots, and one that sees the loss ``loss`` (``update`` only), in this order,
    before its history buffer."""
    if not layout.observer_slots:
        return []
    lines = [f"cj = G[{j}] // n_ic - first // n_ic"]
    for m, (so, ns, qo, nq) in enumerate(_observer_offsets(layout)):
        o, q = f"O[{j}, {so}:{so + ns}]", f"OQ[{qo}:{qo + nq}, cj]"
        state = f", {slots}" if _has(layout.observer_sees_state, m) else ""
        loss_value = f", {loss}" if loss and _has(layout.observer_sees_loss, m) else ""
        buffer = f", B{m}[{j}]" if _has(layout.observer_buffers, m) else ""
        lines.append(f"observer_{function}_{m}({arguments.format(o=o, q=q)}{state}{loss_value}{buffer})")
    return lines


def _observer_init(layout: KernelLayout, j: str) -> list[str]:
    return _observer_calls(layout, j, "init", "W[" + j + "], {q}, {o}", f"S[:, {j}]")


def _frozen_observers(layout: KernelLayout, j: str, loss: str = "NAN") -> list[str]:
    """The observers' update on a step a frozen trajectory does not take (``loss``: the value
    the loss-seeing observers get: NaN for a trajectory frozen before this step, whose loss
    is not evaluated; ``lv`` on the step that freezes it, taken at its last point)."""
    return _observer_calls(layout, j, "update", "{o}, t, W[" + j + "], W[" + j + "], False, {q}", f"S[:, {j}]", loss)


def _with_scratch(layout: KernelLayout, call: str) -> str:
    """``call`` (ending in ``)``) with the trajectory's scratch row ``s`` last when the landscape
    declares one."""
    return call[:-1] + ", s)" if layout.scratch else call


def sees_loss(layout: KernelLayout) -> bool:
    """Whether some observer receives the loss (the step then evaluates it)."""
    return any(layout.observer_sees_loss)


def single_gradient(layout: KernelLayout) -> list[str]:
    """The per-trajectory gradient into ``g``, with the loss ``lv`` at the same point when an
    observer sees it: one ``value_grad`` call, or ``grad`` then ``loss`` (each with the scratch
    row ``s`` when the landscape has one)."""
    if not sees_loss(layout):
        return [_with_scratch(layout, "grad(w, p, data, t, g)")]
    if layout.value_grad:
        return ["lv = " + _with_scratch(layout, "value_grad(w, p, data, t, g)")]
    return [_with_scratch(layout, "grad(w, p, data, t, g)"), "lv = " + _with_scratch(layout, "loss(w, p, data, t)")]


def _tile_gradient(layout: KernelLayout) -> tuple[list[str], list[str]]:
    """(per tile and step, per trajectory) lines of the CPU tile gradient, with the losses."""
    if sees_loss(layout) and layout.tile_value_grad:
        return ["    tile_value_grad(WT, p, data, t, GT, LT)"], ["g = GT[j - lo]", "lv = LT[j - lo]"]
    per_trajectory = ["g = GT[j - lo]"] + (["lv = " + _with_scratch(layout, "loss(w, p, data, t)")]
                                           if sees_loss(layout) else [])
    return ["    tile_grad(WT, p, data, t, GT)"], per_trajectory


def _step(layout: KernelLayout, j: str, gradient: list[str]) -> list[str]:
    """One step of trajectory ``j`` (frozen trajectories are skipped by the caller)."""
    slots = _tuple([f"S[{i}, {j}, k]" for i in range(layout.n_slots)])
    lines = ["w = W[" + j + "]", *gradient]
    if layout.noise:
        lines += [
            "for k in range(0, d, 2):",
            f"    z_a, z_b = normal_pair(seed, G[{j}], t, k // 2)",
            "    g[k] = g[k] + sigma * DT(z_a)",
            "    if k + 1 < d:",
            "        g[k + 1] = g[k + 1] + sigma * DT(z_b)",
        ]
    lines += ["outside = 0", "nonfinite = 0"]
    groups = layout.groups or ((0, layout.dim),)
    for gi, (lo, hi) in enumerate(groups):
        suffix = _suffix(layout, gi)
        bounds = "0, d" if not layout.groups else f"{lo}, {hi}"
        lines += [
            f"for k in range({bounds}):",
            f"    n_k, u_k = update(w[k], g[k], {slots}, t, lr{suffix}, h{suffix}, FLAGS)",
            "    n[k] = n_k",
            *[f"    u[{i}, k] = u_k[{i}]" for i in range(layout.n_slots)],
            "    outside += not (abs(n_k) <= thr)",
            "    nonfinite += not (abs(n_k) < INF)",
        ]
    lines += [
        "if outside == 0:",
        *_indent(_observer_calls(layout, j, "update", "{o}, t, n, w, True, {q}", "u", "lv"), 1),
        "    for k in range(d):",
        f"        W[{j}, k] = n[k]",
        *[f"        S[{i}, {j}, k] = u[{i}, k]" for i in range(layout.n_slots)],
        "else:",
        f"    F[{j}] = FT(t) if nonfinite == 0 else FT(-t)",
        *_indent(_frozen_observers(layout, j, "lv"), 1),
    ]
    return lines


def cpu_source(layout: KernelLayout) -> str:
    """A ``numba.njit(parallel=True)`` kernel: prange over tiles, time loop, trajectories of the
    tile one after another, coordinates in a vectorised loop."""
    out = [f"def kernel({_signature(layout)}):", "    d = W.shape[1]", "    " + _data_tuple(layout)]
    body = ["for it in prange(T.shape[1]):"]
    tile = [
        "lo = T[0, it]",
        "hi = T[1, it]",
        "c = T[2, it]",
        "n = np.empty(d, dtype=DTYPE)",
        f"u = np.empty(({layout.n_slots}, d), dtype=DTYPE)",
        *(["WT = np.zeros((TILE_ROWS, d), dtype=DTYPE)", "GT = np.empty((TILE_ROWS, d), dtype=DTYPE)",
           "LT = np.empty(TILE_ROWS, dtype=DTYPE)"]
          if layout.tile_grad else ["g = np.empty(d, dtype=DTYPE)"]),
        *(["s = np.empty(XS.shape[1], dtype=DTYPE)"] if layout.scratch else []),
        *_combination_scalars(_tables(layout)),
        *_combination_tuples(_tables(layout), "j", per_trajectory=False),
    ]
    if layout.observer_slots:
        tile += ["if t_begin == 0:", "    for j in range(lo, hi):", *_indent(_observer_init(layout, "j"), 2)]
    per_trajectory = _combination_tuples(_tables(layout), "j", per_trajectory=True)
    schedule = _schedules(layout)
    lane_lr = _lr_varies_per_trajectory(layout)
    tile += ["for t in range(t_begin + 1, t_end + 1):"]
    tile += _indent([] if lane_lr else schedule, 1)
    if layout.tile_grad:
        per_tile, gradient = _tile_gradient(layout)
        tile += [
            "    for r in range(hi - lo):",
            "        for k in range(d):",
            "            WT[r, k] = W[lo + r, k]",
            *per_tile,
        ]
    else:
        gradient = single_gradient(layout)
    inner = ["if F[j] != 0:", *_indent(_frozen_observers(layout, "j"), 1), "    continue", *per_trajectory, *(schedule if lane_lr else []),
             *_step(layout, "j", gradient)]
    tile += ["    for j in range(lo, hi):"] + _indent(inner, 2)
    if layout.record:
        tile += _indent([
            "if t % rec_every == 0:",
            "    for j in range(lo, hi):",
            "        for k in range(d):",
            "            R[t // rec_every, j, k] = W[j, k]",
        ], 1)
    body += _indent(tile, 1)
    out += _indent(body, 1)
    return "\n".join(out) + "\n"


def cuda_source(layout: KernelLayout) -> str:
    """A ``numba.cuda.jit`` kernel: one thread per trajectory, scratch rows in global memory."""
    out = [f"def kernel({_signature(layout)}):", "    d = W.shape[1]", "    " + _data_tuple(layout)]
    body = ["j = cuda.grid(1)", "if j < n_traj:"]
    thread = [
        "c = G[j] // n_ic - first // n_ic",
        "g = GS[j]",
        "n = NS[j]",
        "u = US[:, j, :]",
        *(["s = XS[j]"] if layout.scratch else []),
        *_combination_scalars(_tables(layout)),
        *_combination_tuples(_tables(layout), "j", per_trajectory=False),
        *_combination_tuples(_tables(layout), "j", per_trajectory=True),
    ]
    if layout.observer_slots:
        thread += ["if t_begin == 0:", *_indent(_observer_init(layout, "j"), 1)]
    thread += ["for t in range(t_begin + 1, t_end + 1):"]
    step = ["if F[j] == 0:"] + _indent(_schedules(layout) + _step(layout, "j", single_gradient(layout)), 1)
    if layout.observer_slots:
        step += ["else:", *_indent(_frozen_observers(layout, "j"), 1)]
    if layout.record:
        step += ["if t % rec_every == 0:", "    for k in range(d):", "        R[t // rec_every, j, k] = W[j, k]"]
    thread += _indent(step, 1)
    body += _indent(thread, 1)
    out += _indent(body, 1)
    return "\n".join(out) + "\n"


def loss_source(n_params: int, n_data: int, scratch: bool = False) -> str:
    """A ``numba.njit(parallel=True)`` loop evaluating an array-form loss at every final point
    (W (N, d), P per combination); ``scratch``: the loss takes a row of ``n_scratch`` floats last."""
    p = _tuple([f"P[{i}, c]" for i in range(n_params)])
    data = _tuple([f"D{i}" for i in range(n_data)])
    extra = "".join(f", D{i}" for i in range(n_data))
    row = "        s = np.empty(max(1, n_scratch), dtype=W.dtype)\n" if scratch else ""
    return (
        f"def loss_kernel(W, P, n_ic, first, t, out, n_scratch{extra}):\n"
        f"    data = {data}\n"
        "    for j in prange(W.shape[0]):\n"
        "        c = (first + j) // n_ic - first // n_ic\n"
        f"        p = {p}\n"
        f"{row}"
        f"        out[j] = loss(W[j], p, data, t{', s' if scratch else ''})\n"
    )
