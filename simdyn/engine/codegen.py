"""Source generation for the fused kernels.

A kernel advances every trajectory of a batch through ``t_begin < t ≤ t_end`` with one
optimizer on one landscape, with noise, projection and observers fused in. Its body is
generated as text for the given dimension d (tuples of generic length cannot be built in
numba), then compiled with ``numba.njit(parallel=True)`` or ``numba.cuda.jit``. The per-step
body is shared by both targets and works on local scalars; only the loops around it differ:

* CPU: ``prange`` over tiles; time loop per tile; an inner loop over the tile that loads the
  state from (·, N) arrays, runs the body and stores it back, so it vectorises. The
  trajectories of a tile share their hyperparameters except the *lane rows* of the layout,
  which are read per trajectory from LR/LQ: a grid over few initial points then fills whole
  tiles with one combination per trajectory, while the shared values stay loop-invariant
  scalars (per-step quantities such as 1 − β₁ᵗ are hoisted out of the inner loop by LLVM).
* CUDA: one thread per trajectory, state in registers for the whole time loop.

A launch covers the trajectories ``first ≤ g < first + N`` of the flattened batch (g = c·n_ic + i:
combination c, initial condition i), so a study can run in chunks with identical results.
Column j of the state holds trajectory G[j]; on the CPU the columns may be permuted so that
trajectories sharing their tile-wide values sit together (see :mod:`simdyn.engine.run`).
The (·, N) arrays may be wider than N (padded rows, see :mod:`simdyn.engine.run`); only their
first ``n_traj`` = N columns are trajectories.
Array arguments: W (d, N) positions, S (slots, d, N) optimizer state, F (N,) frozen code (0 =
active, +t diverged at step t, −t non-finite at step t; int32 in float32 kernels so that its
vector lanes are as wide as the floats', int64 otherwise), H (hypers, C), Q (schedule params, C),
P (landscape params, C) per combination c of this launch, T (3, tiles) the CPU tiles (local
first index, end index, a combination of the tile), G (N,) the global index of each column,
LR / LQ (lane rows, N) the per-trajectory table entries, O (observer slots, N) float64,
OQ (observer params, C),
R (records, d, N) recordings, and B<m> (length, width, N) float64 history buffers of the
observers that declare one (passed with the trajectory index to their init/update). An observer
that sees the optimizer state receives z = (w_k …, s_i_k …) instead of w, one that sees the
previous point also w_{t−1}, one that sees the loss the value ``lv`` = L(w_{t−1}; p, t) computed
next to the gradient (see :mod:`simdyn.observe.base`).
"""

from __future__ import annotations

import re

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class KernelLayout:
    """Everything that shapes the generated source (part of the kernel cache key)."""

    dim: int
    n_slots: int
    n_hyper: int
    n_sched: int
    n_params: int
    project: bool
    noise: bool
    observer_slots: tuple[int, ...]
    observer_params: tuple[int, ...]
    record: bool
    observer_buffers: tuple[bool, ...] = ()
    observer_sees_state: tuple[bool, ...] = ()
    observer_sees_previous: tuple[bool, ...] = ()
    #: Observers whose first p·n slots (n = d·(1 + n_slots)) are p tangent vectors of the state
    #: that the step advances with its JVP and orthonormalises (:class:`simdyn.observe.Lyapunov`;
    #: at most one; p follows from its slot count, p·n + 2p + 1).
    observer_tangent: tuple[bool, ...] = ()
    #: Table rows that vary inside a CPU tile, read per trajectory: ("H" | "Q" | "P", row) from
    #: the lane array LR (in this order), ("OQ", row) from LQ. Empty when every tile holds one
    #: combination.
    lane_rows: tuple[tuple[str, int], ...] = ()
    #: Coordinate groups with their own hyperparameters: (lo, hi) per group, covering 0 … d − 1
    #: once. H and Q then hold n_hyper / n_groups (n_sched / n_groups) rows per group, group
    #: after group. () is one group of every coordinate.
    groups: tuple[tuple[int, int], ...] = ()
    #: "tuple": the landscape's functions work on d-tuples (per-coordinate generated code, small
    #: d); "array": on (d,) arrays with data (:mod:`simdyn.engine.array_codegen`, any d).
    form: str = "tuple"
    #: ndim of each data array of an array-form landscape (kernel arguments D0, D1, …).
    data_ndims: tuple[int, ...] = ()
    #: The array-form landscape has a CPU tile gradient ``tile_grad(W, p, data, t, G)``.
    tile_grad: bool = False
    #: The array-form landscape declares ``scratch`` floats per trajectory: its grad and loss take
    #: the trajectory's scratch row as a last argument (the size is read from the array at run time).
    scratch: bool = False
    #: Observers that receive the loss L(w_{t−1}) at the point where step t's gradient is taken
    #: (``sees_loss``, :mod:`simdyn.observe.base`): the step then evaluates it as ``lv``.
    observer_sees_loss: tuple[bool, ...] = ()
    #: Array form, with a loss-seeing observer: the landscape's ``value_grad`` (loss and gradient
    #: in one pass) replaces ``grad`` + ``loss``; ``tile_value_grad`` replaces ``tile_grad``.
    value_grad: bool = False
    tile_value_grad: bool = False

    @property
    def n_groups(self) -> int:
        return max(1, len(self.groups))

    def group_of(self, k: int) -> int:
        """The group of coordinate k."""
        for gi, (lo, hi) in enumerate(self.groups):
            if lo <= k < hi:
                return gi
        return 0

    def buffer_args(self) -> list[str]:
        """Kernel arguments of the observers' history buffers (B<m>, one per buffered observer)."""
        return [f"B{m}" for m, has in enumerate(self.observer_buffers) if has]


def _tuple(items: list[str]) -> str:
    if not items:
        return "()"
    return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"


def _has(flags: tuple[bool, ...], m: int) -> bool:
    """Whether observer m has a per-observer layout flag (missing entries are False)."""
    return m < len(flags) and flags[m]


def _observed(layout: KernelLayout, m: int, w: str, s: str, previous: str) -> str:
    """The tuple observer m receives: w, then the optimizer slots when it sees the state, then
    w_{t−1} when it sees the previous point (``w``, ``s`` and ``previous`` are format strings of
    the coordinate k and slot i)."""
    items = [w.format(k=k) for k in range(layout.dim)]
    if _has(layout.observer_sees_state, m):
        items += [s.format(i=i, k=k) for i in range(layout.n_slots) for k in range(layout.dim)]
    if _has(layout.observer_sees_previous, m):
        items += [previous.format(k=k) for k in range(layout.dim)]
    return _tuple(items)


def _observer_offsets(layout: KernelLayout) -> list[tuple[int, int, int, int]]:
    """(slot offset, n slots, param offset, n params) of each observer."""
    out, slot, par = [], 0, 0
    for ns, nq in zip(layout.observer_slots, layout.observer_params):
        out.append((slot, ns, par, nq))
        slot += ns
        par += nq
    return out


def _tangent(layout: KernelLayout) -> tuple[int, int] | None:
    """(observer index, slot offset) of the tangent observer, or None."""
    for m, (so, _, _, _) in enumerate(_observer_offsets(layout)):
        if _has(layout.observer_tangent, m):
            return m, so
    return None


def _tangent_size(layout: KernelLayout, m: int) -> tuple[int, int]:
    """(n, p): the state dimension n = d·(1 + n_slots) and the number p of tangent vectors of the
    tangent observer m, whose slots are the p vectors (vector c at c·n …), ``log_stretch`` of
    each, the step count, then ``stretch`` of each: p·n + 2p + 1 slots."""
    n = layout.dim * (1 + layout.n_slots)
    return n, (layout.observer_slots[m] - 1) // (n + 2)


def start_frame(n: int, p: int) -> list[list[float]]:
    """The p tangent vectors (each of length n) the tangent observer starts from, and restarts
    from after its transient: the identity when p = n (as :func:`simdyn.lyapunov`); otherwise
    (1, …, 1)/√n first, so that every coordinate is excited (a unit vector would miss the other
    blocks of a decoupled map such as GD on a separable loss), then fixed pseudo-random vectors,
    orthonormalised (a generic frame: the first p exponents need one)."""
    if p == n:
        return [[1.0 if i == c else 0.0 for i in range(n)] for c in range(n)]
    import numpy as np

    frame = np.random.default_rng(12).standard_normal((n, p))
    frame[:, 0] = 1.0
    q, r = np.linalg.qr(frame)
    q *= np.sign(np.diag(r))[None, :]
    q[:, 0] = 1.0 / n ** 0.5
    return [[float(v) for v in q[:, c]] for c in range(p)]


def _tangent_names(layout: KernelLayout, so: int, c: int) -> tuple[list[str], list[list[str]]]:
    """The observer slots holding ẇ (per coordinate) and ṡ (per coordinate, per optimizer slot)
    of tangent vector c."""
    d, n = layout.dim, layout.n_slots
    base = so + c * d * (1 + n)
    dw = [f"ob_{base + k}" for k in range(d)]
    ds = [[f"ob_{base + d * (1 + i) + k}" for i in range(n)] for k in range(d)]
    return dw, ds


def _step_body(layout: KernelLayout, traj: str, target: str) -> list[str]:
    """One step of one trajectory on local scalars: w_k, s_i_k, fa, ob_m. A single tangent vector
    is rescaled in it (:func:`_rescale`, branch-free; ``due`` says whether step t renormalises); the
    rest of the tangent observer's bookkeeping (:func:`_renormalisation`: the restart after the
    transient and, for several vectors, the Gram–Schmidt and the logarithms) is part of it on
    CUDA, while the CPU kernel runs that in loops of its own, which keep the square root and the
    logarithm out of the step loop."""
    d = layout.dim
    tangent = _tangent(layout)
    w = [f"w_{k}" for k in range(d)]
    g = [f"g_{k}" for k in range(d)]
    n = [f"n_{k}" for k in range(d)]
    if tangent is None:
        lines = [f"{', '.join(g)}, = grad({_tuple(w)}, p, t)"]
    else:
        vectors = range(_tangent_size(layout, tangent[0])[1])
        names = [_tangent_names(layout, tangent[1], c) for c in vectors]
        lines = []
        for c in vectors:  # the gradient itself is the same in every call (LLVM keeps one)
            lines += [f"r = grad_jvp({_tuple(w)}, p, t, {_tuple([f'DT({v})' for v in names[c][0]])})",
                      f"{', '.join(g)}, = r[0]",
                      f"{', '.join(f'dg_{c}_{k}' for k in range(d))}, = r[1]"]
    if any(layout.observer_sees_loss):  # L(w_{t−1}), where this step's gradient is taken
        lines.append(f"lv = loss({_tuple(w)}, p, t)")
    if layout.noise:  # additive noise does not depend on the state: the tangent is unchanged
        for k in range(0, d, 2):
            lines.append(f"z_a, z_b = normal_pair(seed, G[{traj}], t, {k // 2})")
            lines.append(f"g_{k} = g_{k} + sigma * DT(z_a)")
            if k + 1 < d:
                lines.append(f"g_{k + 1} = g_{k + 1} + sigma * DT(z_b)")
    for k in range(d):
        slots = _tuple([f"s_{i}_{k}" for i in range(layout.n_slots)])
        group = _suffix(layout, layout.group_of(k))
        if tangent is None:
            lines.append(f"n_{k}, u_{k} = update(w_{k}, g_{k}, {slots}, t, lr{group}, h{group}, FLAGS)")
        else:
            for c in vectors:
                dw, ds = names[c]
                dslots = _tuple([f"DT({v})" for v in ds[k]])
                lines += [f"r = update_jvp(w_{k}, g_{k}, {slots}, t, lr{group}, h{group}, FLAGS, DT({dw[k]}), "
                          f"dg_{c}_{k}, {dslots})",
                          f"n_{k}, u_{k} = r[0]", f"dn_{c}_{k}, du_{c}_{k} = r[1]"]
    if layout.project:
        if tangent is None:
            lines.append(f"{', '.join(n)}, = project({_tuple(n)}, p)")
        else:
            for c in vectors:  # each vector's JVP at the unprojected point
                dn = [f"dn_{c}_{k}" for k in range(d)]
                lines += [f"r = project_jvp({_tuple(n)}, p, {_tuple(dn)})",
                          f"{', '.join(f'pn_{k}' for k in range(d))}, = r[0]", f"{', '.join(dn)}, = r[1]"]
            lines += [f"n_{k} = pn_{k}" for k in range(d)]
    inside = " & ".join(f"(abs(n_{k}) <= thr)" for k in range(d))
    finite = " & ".join(f"(abs(n_{k}) < INF)" for k in range(d))
    lines += [
        f"ok = (fa == 0) & {inside}",
        f"fin = {finite}",
        "fa = fa if ((fa != 0) | ok) else (FT(t) if fin else FT(-t))",
    ]
    if any(layout.observer_sees_previous):
        lines += [f"v_{k} = w_{k}" for k in range(d)]  # w_{t−1}, for the observers that see it
    for k in range(d):
        lines.append(f"w_{k} = DT(n_{k}) if ok else w_{k}")
        for i in range(layout.n_slots):
            lines.append(f"s_{i}_{k} = DT(u_{k}[{i}]) if ok else s_{i}_{k}")
    if tangent is not None:
        lines += _tangent_step(layout, *tangent)
        if _tangent_size(layout, tangent[0])[1] == 1:
            if target == "cuda":
                lines.append(f"due = t % I64(oq_{tangent[0]}[1]) == 0")
            lines += _rescale(layout, *tangent, target)
        if target == "cuda":
            lines += _renormalisation(layout, *tangent, "ob_{}", "ok", f"oq_{tangent[0]}[{{}}]", [])
    for m, (so, ns, qo, nq) in enumerate(_observer_offsets(layout)):
        if _has(layout.observer_tangent, m):
            continue
        state = _tuple([f"ob_{so + i}" for i in range(ns)])
        params = f"oq_{m}"
        buffer = f", B{m}, {traj}" if _has(layout.observer_buffers, m) else ""
        loss_value = ", lv" if _has(layout.observer_sees_loss, m) else ""
        observed = _observed(layout, m, "w_{k}", "s_{i}_{k}", "v_{k}")
        lines.append(f"ov = observer_update_{m}({state}, t, {observed}, ok, {params}{loss_value}{buffer})")
        lines += [f"ob_{so + i} = ov[{i}]" for i in range(ns)]
    return lines


def _tangent_step(layout: KernelLayout, m: int, so: int) -> list[str]:
    """Store each tangent vector's J_t·ż_{t−1} where the trajectory moved and count the steps after
    the transient (oq_m[0])."""
    d, ns = layout.dim, layout.n_slots
    n, vectors = _tangent_size(layout, m)
    lines = []
    for c in range(vectors):
        new = [f"dn_{c}_{k}" for k in range(d)] + [f"du_{c}_{k}[{i}]" for i in range(ns) for k in range(d)]
        lines += [f"ob_{so + c * n + i} = float({e}) if ok else ob_{so + c * n + i}" for i, e in enumerate(new)]
    steps = f"ob_{so + vectors * (n + 1)}"
    lines.append(f"{steps} += 1.0 if (ok & (t > oq_{m}[0])) else 0.0")
    return lines


#: Per target, the binary exponent ⌊log₂ x⌋ of a float64 x > 0 (``{x}``) and the float64 2ᵉ of
#: an integer e (``{e}``). On the CPU from the bits (x's biased exponent field, x ≥ 0), which
#: vectorises; on CUDA by frexp/ldexp (numba-cuda compiles a view of the bits as a device
#: function that needs a GPU to compile). The two agree for every normal x and every e in
#: [−1022, 1023].
_POW2 = {
    "cpu": ("I64((np.float64({x}).view(np.uint64) >> 52) & 2047) - 1023",
            "np.uint64(({e} + 1023) << 52).view(np.float64)"),
    "cuda": ("math.frexp({x})[1] - 1", "math.ldexp(1.0, {e})"),
}


def _rescale(layout: KernelLayout, m: int, so: int, target: str) -> list[str]:
    """The renormalisation of a single tangent vector ż after step t (its ``ob_`` slots), where the
    trajectory moved (``ok``) and step t renormalises (``due``): ż is divided by 2ᵉ, e = ⌊log₂
    maxᵢ |żᵢ|⌋, and after the transient (oq_m[0]) e·ln 2 is added to ``log_stretch`` (``stretch``
    stays 1: with one vector no logarithm is taken). Dividing by a power of two is exact, so
    ln ‖J_t ⋯ J_1 ż₀‖ = Σ e·ln 2 + ln ‖ż_t‖ holds to the rounding of the JVPs and of the sum,
    whatever the scale; the largest component lands in [1, 2) and ‖ż‖ in [1, 2√n), as far from
    overflow as a division by the norm would leave it. No square root, division or logarithm:
    the rescaling runs inside the vectorised step loop on the CPU."""
    n, _ = _tangent_size(layout, m)
    vector = [f"ob_{so + i}" for i in range(n)]
    log_stretch = f"ob_{so + n}"
    exponent, power = _POW2[target]
    largest = f"abs({vector[0]})"
    for v in vector[1:]:
        largest = f"max({largest}, abs({v}))"
    return [f"exponent = {exponent.format(x=largest)}",
            "exponent = exponent if (ok & due) else 0",
            f"shrink = {power.format(e='-exponent')}",
            f"{log_stretch} += {math.log(2.0)!r} * exponent if (t > oq_{m}[0]) else 0.0",
            *[f"{v} = {v} * shrink" for v in vector]]


def _renormalisation(layout: KernelLayout, m: int, so: int, slot: str, moved: str, param: str,
                     loop: list[str]) -> list[str]:
    """The tangent observer's bookkeeping after step t (:class:`simdyn.observe.Lyapunov`):

    * with p > 1 vectors, every ``renormalize_every`` steps (param 1), where the trajectory moved,
      orthonormalise them by modified Gram–Schmidt (Q R = the propagated frame, vector c divided
      by r_cc, its norm after the projections on the vectors before it) and, after the transient
      (param 0), multiply r_cc into ``stretch`` of vector c (a single vector is rescaled in the
      step instead, :func:`_rescale`);
    * with p > 1, every param 2 steps (≥ 8) add ln ``stretch`` to ``log_stretch`` and reset it to
      1, so the logarithm is off the steps that only renormalise, which vectorise on the CPU;
    * after the transient step, restart the vectors at :func:`start_frame`.

    ``slot`` formats a slot index into its variable, ``moved`` says whether the trajectory moved
    at step t, ``param`` formats a parameter index into its value, ``loop`` heads the loop over
    trajectories (empty on CUDA)."""
    n, vectors = _tangent_size(layout, m)

    def vec(c):
        return [slot.format(so + c * n + i) for i in range(n)]

    log_stretch = [slot.format(so + vectors * n + c) for c in range(vectors)]
    stretch = [slot.format(so + vectors * (n + 1) + 1 + c) for c in range(vectors)]
    slots = [v for c in range(vectors) for v in vec(c)] + log_stretch + stretch

    def local(v):
        return f"tv_{slots.index(v)}"

    transient, every, log_every = (f"I64({param.format(i)})" for i in range(3))
    renormalise = []
    for c in range(vectors if vectors > 1 else 0):
        for b in range(c):
            renormalise += [
                "proj = " + " + ".join(f"{u} * {v}" for u, v in zip(vec(b), vec(c))),
                f"proj = proj if {moved} else 0.0",
                *[f"{v} -= proj * {u}" for u, v in zip(vec(b), vec(c))],
            ]
        renormalise += [
            "nrm = math.sqrt(" + " + ".join(f"{v} * {v}" for v in vec(c)) + ")",
            f"nrm = nrm if {moved} else 1.0",
            f"{stretch[c]} *= nrm if ({moved} & (t > {transient})) else 1.0",
            "inv = 1.0 / nrm",
            *[f"{v} *= inv" for v in vec(c)],
        ]
    logarithm = []
    for c in range(vectors if vectors > 1 else 0):
        logarithm += [f"{log_stretch[c]} += math.log({stretch[c]})", f"{stretch[c]} = 1.0"]
    restart = [f"{v} = {value!r}" for c, column in enumerate(start_frame(n, vectors))
               for v, value in zip(vec(c), column)]
    lines = []
    for condition, body in ((f"t % {every} == 0", renormalise), (f"t % {log_every} == 0", logarithm),
                            (f"t == {transient}", restart)):
        if not body:
            continue
        if loop:  # work on local copies: stores into O may alias its other rows for LLVM, which then
            # reloads every operand and does not vectorise (the Gram–Schmidt reads each row many times)
            used = sorted({v for v in slots if any(v in line for line in body)}, key=slots.index)
            body = ([f"{local(v)} = {v}" for v in used] + [_localise(line, used, local) for line in body]
                    + [f"{v} = {local(v)}" for v in used])
        lines += [f"if {condition}:"] + _indent(loop, 1) + _indent(body, 1 + len(loop))
    return lines


def _localise(line: str, names: list[str], local) -> str:
    """``line`` with each of ``names`` replaced by ``local(name)`` (longest names first)."""
    for name in sorted(names, key=len, reverse=True):
        line = line.replace(name, local(name))
    return line


def _loads(layout: KernelLayout, j: str) -> list[str]:
    d = layout.dim
    lines = [f"w_{k} = W[{k}, {j}]" for k in range(d)]
    lines += [f"s_{i}_{k} = S[{i}, {k}, {j}]" for i in range(layout.n_slots) for k in range(d)]
    lines.append(f"fa = F[{j}]")
    lines += [f"ob_{m} = O[{m}, {j}]" for m in range(sum(layout.observer_slots))]
    return lines


def _stores(layout: KernelLayout, j: str) -> list[str]:
    d = layout.dim
    lines = [f"W[{k}, {j}] = w_{k}" for k in range(d)]
    lines += [f"S[{i}, {k}, {j}] = s_{i}_{k}" for i in range(layout.n_slots) for k in range(d)]
    lines.append(f"F[{j}] = fa")
    lines += [f"O[{m}, {j}] = ob_{m}" for m in range(sum(layout.observer_slots))]
    return lines


_ASSIGNED = re.compile(r"^\s*([^=]*?)\s*[-+*/%]?=(?!=)")
_SLOT = re.compile(r"\bob_\d+\b")


def _touched_slots(lines: list[str], step: list[str], stores: bool) -> list[str]:
    """``lines`` (loads or stores) less those of observer slots the step leaves alone: a slot it
    never names is neither loaded nor stored, one it only reads is not stored (on the CPU every
    load and store is a stream through the tile's memory; a single-vector Lyapunov observer
    keeps a slot only its spectrum form updates)."""
    if stores:
        names = {name for line in step if (m := _ASSIGNED.match(line)) for name in _SLOT.findall(m.group(1))}
    else:
        names = {name for line in step for name in _SLOT.findall(line)}
    return [line for line in lines if not (slots := _SLOT.findall(line)) or slots[0] in names]


def _observer_init(layout: KernelLayout, j: str) -> list[str]:
    """Observer state at step 0 (only when the run starts at t = 0)."""
    lines = []
    for m, (so, ns, qo, nq) in enumerate(_observer_offsets(layout)):
        if _has(layout.observer_tangent, m):  # the start frame, log_stretch = steps = 0, stretch = 1
            n, vectors = _tangent_size(layout, m)
            lines += [f"O[{so + c * n + i}, {j}] = {value!r}" for c, column in enumerate(start_frame(n, vectors))
                      for i, value in enumerate(column)]
            lines += [f"O[{so + vectors * n + i}, {j}] = 0.0" for i in range(vectors + 1)]
            lines += [f"O[{so + vectors * (n + 1) + 1 + c}, {j}] = 1.0" for c in range(vectors)]
            continue
        w = _observed(layout, m, "W[{k}, %s]" % j, "S[{i}, {k}, %s]" % j, "W[{k}, %s]" % j)
        params = f"oq_{m}"
        buffer = f", B{m}, {j}" if _has(layout.observer_buffers, m) else ""
        lines.append(f"ov = observer_init_{m}({w}, {params}{buffer})")
        lines += [f"O[{so + i}, {j}] = ov[{i}]" for i in range(ns)]
    return lines


_TABLE_SIZES = (("H", "n_hyper"), ("Q", "n_sched"), ("P", "n_params"))


def _suffix(layout: KernelLayout, gi: int) -> str:
    """The name suffix of group gi's hyperparameter tuples (none with a single group)."""
    return "" if layout.n_groups == 1 else f"_g{gi}"


def _table_rows(layout: KernelLayout) -> dict[str, list[tuple[str, int]]]:
    """For each tuple the step needs (h, q, p, oq_m; h_g<i>, q_g<i> per coordinate group): its
    (table, row) entries in order."""
    out = {}
    n_h, n_q = layout.n_hyper // layout.n_groups, layout.n_sched // layout.n_groups
    for gi in range(layout.n_groups):
        out["h" + _suffix(layout, gi)] = [("H", gi * n_h + i) for i in range(n_h)]
        out["q" + _suffix(layout, gi)] = [("Q", gi * n_q + i) for i in range(n_q)]
    out["p"] = [("P", i) for i in range(layout.n_params)]
    for m, (_, _, qo, nq) in enumerate(_observer_offsets(layout)):
        out[f"oq_{m}"] = [("OQ", qo + i) for i in range(nq)]
    return out


def _schedules(layout: KernelLayout) -> list[str]:
    """η_t of each coordinate group: ``lr = DT(schedule(t, q))`` (``lr_g<i>`` per group)."""
    return [f"lr{_suffix(layout, gi)} = DT(schedule(t, q{_suffix(layout, gi)}))" for gi in range(layout.n_groups)]


def _lane_source(layout: KernelLayout, entry: tuple[str, int], j: str) -> str:
    """Where a per-trajectory (lane) table entry is read: LR for real tables, LQ for OQ."""
    real = [e for e in layout.lane_rows if e[0] != "OQ"]
    if entry[0] == "OQ":
        return f"LQ[{[e for e in layout.lane_rows if e[0] == 'OQ'].index(entry)}, {j}]"
    return f"LR[{real.index(entry)}, {j}]"


def _combination_scalars(layout: KernelLayout) -> list[str]:
    """The combination's constants as scalars (``H_0 = H[0, c]`` …), the lane rows excepted."""
    lanes = set(layout.lane_rows)
    return [f"{t}_{i} = {t}[{i}, c]" for entries in _table_rows(layout).values() for t, i in entries
            if (t, i) not in lanes]


def _combination_tuples(layout: KernelLayout, j: str, per_trajectory: bool) -> list[str]:
    """``h = (…)``, ``q``, ``p``, ``oq_m``: those without lane rows when ``per_trajectory`` is
    False (once per tile), those with lane rows (read at trajectory ``j``) when it is True."""
    lanes = set(layout.lane_rows)
    lines = []
    for name, entries in _table_rows(layout).items():
        if any(e in lanes for e in entries) != per_trajectory:
            continue
        items = [_lane_source(layout, e, j) if e in lanes else f"{e[0]}_{e[1]}" for e in entries]
        lines.append(f"{name} = {_tuple(items)}")
    return lines


def _lr_varies_per_trajectory(layout: KernelLayout) -> bool:
    return any(t == "Q" for t, _ in layout.lane_rows)


#: The kernel's arguments in order: (name, element type, ndim). Element types: "real" (the run's
#: dtype), "frozen" (int32 with float32, int64 with float64: the frozen codes), "f64", "i64";
#: ndim 0 is a scalar. The observers' history buffers B<m> (f64, 3-D) follow. The launches
#: (:mod:`simdyn.engine.run`) and the CUDA signature (:func:`simdyn.engine.kernels.cuda_signature`)
#: are both built from this one list.
ARGUMENTS = (
    ("W", "real", 2), ("S", "real", 3), ("F", "frozen", 1),
    ("H", "real", 2), ("Q", "real", 2), ("P", "real", 2), ("O", "f64", 2), ("OQ", "f64", 2),
    ("R", "real", 3), ("T", "i64", 2), ("G", "i64", 1), ("LR", "real", 2), ("LQ", "f64", 2),
    ("t_begin", "i64", 0), ("t_end", "i64", 0), ("n_ic", "i64", 0), ("first", "i64", 0),
    ("n_traj", "i64", 0), ("rec_every", "i64", 0), ("seed", "i64", 0), ("sigma", "real", 0), ("thr", "real", 0),
)


def argument_names(layout: KernelLayout) -> list[str]:
    """The kernel's argument names in order (:data:`ARGUMENTS`, then the history buffers)."""
    return [name for name, _, _ in ARGUMENTS] + layout.buffer_args()


def _signature(layout: KernelLayout) -> str:
    return ", ".join(argument_names(layout))


def _indent(lines: list[str], level: int) -> list[str]:
    return ["    " * level + line for line in lines]


def cpu_source(layout: KernelLayout) -> str:
    """A ``numba.njit(parallel=True)`` kernel: prange over tiles, time loop, vectorised tile loop.

    A tile's trajectories share every table entry but the lane rows, which are read per
    trajectory (a hyperparameter grid over few initial points then still fills whole tiles);
    what depends only on the shared entries and t (1 − β₁ᵗ, the schedule) is hoisted out of
    the tile loop by LLVM. A trajectory's arithmetic is the same either way, so its numbers do
    not depend on the batch's shape.
    """
    out = [f"def kernel({_signature(layout)}):"]
    body = ["for it in prange(T.shape[1]):"]
    tile_lines = [
        "lo = T[0, it]",
        "hi = T[1, it]",
        "c = T[2, it]",
        *_combination_scalars(layout),
        *_combination_tuples(layout, "j", per_trajectory=False),
    ]
    per_trajectory = _combination_tuples(layout, "j", per_trajectory=True)
    if layout.observer_slots:
        tile_lines += ["if t_begin == 0:", "    for j in range(U64(lo), U64(hi)):"]
        tile_lines += _indent(per_trajectory + _observer_init(layout, "j"), 2)
    schedule = _schedules(layout)
    lane_lr = _lr_varies_per_trajectory(layout)
    tangent = _tangent(layout)
    if tangent is not None:  # the tangent observer's parameters are the same in every combination:
        # read them from the tile's
        m, so = tangent
        qo = _observer_offsets(layout)[m][2]
    single = tangent is not None and _tangent_size(layout, tangent[0])[1] == 1
    if single:  # whether step t rescales the single vector, once per step
        tile_lines += [f"tangent_every = I64(OQ[{qo} + 1, c])"]
    tile_lines += ["for t in range(t_begin + 1, t_end + 1):"]
    tile_lines += _indent([] if lane_lr else schedule, 1)
    if single:
        tile_lines += ["    due = t % tangent_every == 0"]
    # An unsigned tile index spares numba's negative-index wraparound, which blocks vectorisation.
    tile_lines += ["    for j in range(U64(lo), U64(hi)):"]
    step = _step_body(layout, "j", target="cpu")
    inner = per_trajectory + (schedule if lane_lr else []) + _touched_slots(_loads(layout, "j"), step, False) \
        + step + _touched_slots(_stores(layout, "j"), step, True)
    tile_lines += _indent(inner, 2)
    if tangent is not None:  # after the step: F[j] == 0 exactly when trajectory j moved at step t
        tile_lines += _indent(_renormalisation(layout, m, so, "O[{}, j]", "(F[j] == 0)", f"OQ[{qo} + {{}}, c]",
                                               ["for j in range(U64(lo), U64(hi)):"]), 1)
    if layout.record:
        tile_lines += _indent(
            [
                "if t % rec_every == 0:",
                "    r = t // rec_every",
                "    for j in range(U64(lo), U64(hi)):",
                *[f"        R[r, {k}, j] = W[{k}, j]" for k in range(layout.dim)],
            ],
            1,
        )
    body += _indent(tile_lines, 1)
    out += _indent(body, 1)
    return "\n".join(out) + "\n"


def cuda_source(layout: KernelLayout) -> str:
    """A ``numba.cuda.jit`` kernel: one thread per trajectory, state in registers."""
    out = [f"def kernel({_signature(layout)}):"]
    body = ["j = cuda.grid(1)", "if j < n_traj:"]
    thread = [
        "c = G[j] // n_ic - first // n_ic",
        *_combination_scalars(layout),
        *_combination_tuples(layout, "j", per_trajectory=False),
        *_combination_tuples(layout, "j", per_trajectory=True),
    ]
    if layout.observer_slots:
        thread += ["if t_begin == 0:"] + _indent(_observer_init(layout, "j"), 1)
    thread += _loads(layout, "j")
    thread += ["for t in range(t_begin + 1, t_end + 1):", *_indent(_schedules(layout), 1)]
    step = _step_body(layout, "j", target="cuda")
    if layout.record:
        step += [
            "if t % rec_every == 0:",
            *[f"    R[t // rec_every, {k}, j] = w_{k}" for k in range(layout.dim)],
        ]
    thread += _indent(step, 1)
    thread += _stores(layout, "j")
    body += _indent(thread, 1)
    out += _indent(body, 1)
    return "\n".join(out) + "\n"


def loss_source(dim: int, n_params: int) -> str:
    """A ``numba.njit(parallel=True)`` loop evaluating the loss at every final point."""
    w = _tuple([f"W[{k}, j]" for k in range(dim)])
    p = _tuple([f"P[{i}, c]" for i in range(n_params)])
    return (
        "def loss_kernel(W, P, n_ic, first, t, out):\n"
        "    for j in prange(W.shape[1]):\n"
        "        c = (first + j) // n_ic - first // n_ic\n"
        f"        p = {p}\n"
        f"        out[j] = loss({w}, p, t)\n"
    )
