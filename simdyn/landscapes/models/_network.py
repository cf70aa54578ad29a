"""The feed-forward pass shared by ``deep_linear`` and ``mlp``: loss, gradient and Hessian–vector
product of a fully connected network of any depth, one example at a time.

Network (L layers, widths n₀ … n_L, a₀ = x_i one example)
    u_l = W_l a_{l−1}  (l = 1 … L),   a_l = φ(s_l·u_l)  (l < L),   out = c·s_L·u_L
    L(w) = κ Σ_i Σ_o (out_io − y_io)²
``deep_linear``: φ = identity, s_l = 1, c = 1, κ = 1/(2m); ``mlp`` (Sohl-Dickstein 2024):
φ its activation, s_l = 1/√n_{l−1}, c = 1/√n_{L−1}, κ = 1/(m n_L).

Gradient (reverse mode, per example), with g_out = 2κ(out − y)·c·s_L = ∂L/∂u_L:
    ∂L/∂W_l = g_l a_{l−1}ᵀ,   ∂L/∂a_{l−1} = W_lᵀ g_l,   g_l = ∂L/∂a_l ⊙ φ'(s_l u_l)·s_l  (l < L)
Hessian–vector product ∇²L·U (forward over reverse, Pearlmutter 1994, "Fast exact
multiplication by the Hessian"): the R-operator R{·} = d/dr (·)(w + rU)|_{r=0} applied to the
forward and the backward pass,
    R{u_l} = U_l a_{l−1} + W_l R{a_{l−1}},   R{a_l} = φ'·s_l R{u_l},   R{a₀} = 0
    R{g_out} = 2κ·c·s_L·R{out},   R{g_l} = (R{∂L/∂a_l} φ' + ∂L/∂a_l φ''·s_l R{u_l})·s_l
    R{∂L/∂W_l} = R{g_l} a_{l−1}ᵀ + g_l R{a_{l−1}}ᵀ,   R{∂L/∂a_{l−1}} = U_lᵀ g_l + W_lᵀ R{g_l}

``net`` (a data array) describes the network: [φ's code, 1 if W_l is stored (fan_in, fan_out)
else 0 (fan_out, fan_in), κ, c, L, n₀ … n_L, s₁ … s_L]. Weights are laid out layer after
layer, each in C order. The scratch row (:func:`scratch_size`) holds, for the hidden layers, the
activations, φ', R{a_l} and φ''·s_l R{u_l}, then two (R-)gradient vectors of the widest layer.

The tile form (CPU) turns the loops around: per trajectory, the examples run along the
contiguous direction, u₁ = W₁ᵀ·Xᵀ and ∂L/∂W₁ = g₁·X are one matrix product each, and every
other loop (axpys over the m examples, the activation by :func:`vector_tanh`) vectorises.
"""

from __future__ import annotations

import math

import numpy as np

from ._vector_tanh import vector_tanh

ACTIVATIONS = ("tanh", "relu", "identity")


def activate(z, code):
    """(φ(z), φ'(z), φ''(z)) for the activation with index ``code`` in ACTIVATIONS:
    tanh(√2 z), √2·max(z, 0) (φ'(0) = 0 as in torch) or z. √2 is written out, so that a float32
    run retypes it."""
    if code == 0.0:
        h = math.tanh(1.4142135623730951 * z)
        slope = 1.4142135623730951 * (1.0 - h * h)
        return h, slope, -2.0 * 1.4142135623730951 * h * slope
    if code == 1.0:
        if z > 0.0:
            return 1.4142135623730951 * z, 1.4142135623730951 + 0.0 * z, 0.0 * z
        return 0.0 * z, 0.0 * z, 0.0 * z
    return z, 1.0 + 0.0 * z, 0.0 * z


def describe(code: float, fan_in_major: bool, kappa: float, out_scale: float, widths, scales) -> np.ndarray:
    """The ``net`` array of the module docstring."""
    return np.array([code, 1.0 if fan_in_major else 0.0, kappa, out_scale, len(widths) - 1, *widths, *scales],
                    dtype=np.float64)


def sizes(widths) -> tuple:
    """(hidden units H, widest layer M) of a network with the given widths."""
    return int(sum(widths[1:-1])), int(max(widths[1:]))


def scratch_size(widths) -> int:
    """Floats of working memory per trajectory: 4H + 4M (module docstring)."""
    hidden, widest = sizes(widths)
    return 4 * hidden + 4 * widest


def _layout(net):
    """(L, H, M, number of weights) read from ``net``."""
    n_layers = int(net[4])
    hidden = 0
    widest = 0
    weights = 0
    for l in range(1, n_layers + 1):
        n = int(net[5 + l])
        if l < n_layers:
            hidden += n
        widest = max(widest, n)
        weights += n * int(net[4 + l])
    return n_layers, hidden, widest, weights


def _index(off, k, j, n_in, n_out, fan_in_major):
    """Position of the weight from input unit k to output unit j of a layer starting at ``off``."""
    if fan_in_major:
        return off + k * n_out + j
    return off + j * n_in + k


def forward(w, u, x, i, net, s, second, z1, col):
    """Forward pass of example i: hidden layers into s, c·s_L·u_L into s[4H:], with ``second``
    their R-values too; col ≥ 0: layer 1's u₁ is read from z1[i, col + j] (a tile's product)."""
    n_layers, hidden, widest, weights = _layout(net)
    code = net[0]
    fan_in_major = net[1] != 0.0
    off = 0
    at = 0
    prev = 0
    for l in range(1, n_layers + 1):
        n_in = int(net[4 + l])
        n_out = int(net[5 + l])
        scale = net[5 + n_layers + l]
        for j in range(n_out):
            acc = 0.0
            r_acc = 0.0
            if col >= 0 and l == 1:
                acc = z1[i, col + j]
            else:
                for k in range(n_in):
                    idx = _index(off, k, j, n_in, n_out, fan_in_major)
                    if l == 1:
                        acc += w[idx] * x[i, k]
                        if second:
                            r_acc += u[idx] * x[i, k]
                    else:
                        acc += w[idx] * s[prev + k]
                        if second:
                            r_acc += u[idx] * s[prev + k] + w[idx] * s[2 * hidden + prev + k]
            if l < n_layers:
                h, slope, curve = activate(acc * scale, code)
                s[at + j] = h
                s[hidden + at + j] = slope
                if second:
                    s[2 * hidden + at + j] = slope * r_acc * scale
                    s[3 * hidden + at + j] = curve * r_acc * scale
            else:
                s[4 * hidden + j] = acc * scale * net[3]
                if second:
                    s[4 * hidden + 2 * widest + j] = r_acc * scale * net[3]
        if l < n_layers:
            prev = at
            at += n_out
        off += n_in * n_out


def backward(w, u, x, i, net, s, g, second, back, col):
    """Backward pass of example i from ∂L/∂u_L in s[4H:] (and R{·} in s[4H + 2M:] with
    ``second``), adding ∂L/∂w (with ``second``: R{∂L/∂w} = ∇²L·u) of this example into g;
    col ≥ 0: layer 1's g₁ goes to back[i, col + j] instead (a tile's product)."""
    n_layers, hidden, widest, weights = _layout(net)
    fan_in_major = net[1] != 0.0
    cur = 4 * hidden
    nxt = cur + widest
    r_cur = cur + 2 * widest
    r_nxt = cur + 3 * widest
    off = weights
    at = hidden
    for l in range(n_layers, 0, -1):
        n_in = int(net[4 + l])
        n_out = int(net[5 + l])
        scale = net[5 + n_layers + l]
        off -= n_in * n_out
        if l < n_layers:
            for j in range(n_out):  # ∂L/∂a_l -> g_l (and R)
                ga = s[cur + j]
                slope = s[hidden + at + j]
                if second:
                    s[r_cur + j] = (s[r_cur + j] * slope + ga * s[3 * hidden + at + j]) * scale
                s[cur + j] = ga * slope * scale
        prev = at - n_in  # a_{l−1} (l > 1)
        if col >= 0 and l == 1:
            for j in range(n_out):
                back[i, col + j] = s[cur + j]
        else:
            for j in range(n_out):
                for k in range(n_in):
                    idx = _index(off, k, j, n_in, n_out, fan_in_major)
                    if l == 1:
                        if second:
                            g[idx] += s[r_cur + j] * x[i, k]
                        else:
                            g[idx] += s[cur + j] * x[i, k]
                    elif second:
                        g[idx] += s[r_cur + j] * s[prev + k] + s[cur + j] * s[2 * hidden + prev + k]
                    else:
                        g[idx] += s[cur + j] * s[prev + k]
        if l > 1:
            for k in range(n_in):
                acc = 0.0
                r_acc = 0.0
                for j in range(n_out):
                    idx = _index(off, k, j, n_in, n_out, fan_in_major)
                    acc += w[idx] * s[cur + j]
                    if second:
                        r_acc += u[idx] * s[cur + j] + w[idx] * s[r_cur + j]
                s[nxt + k] = acc
                s[r_nxt + k] = r_acc
            cur, nxt = nxt, cur
            r_cur, r_nxt = r_nxt, r_cur
            at = prev


def _output_gradient(y, i, net, s, second):
    """Turn out (in s[4H:]) into ∂L/∂u_L (and R{out} into R{∂L/∂u_L}); return Σ_o (out − y)²."""
    n_layers, hidden, widest, weights = _layout(net)
    factor = 2.0 * net[2] * net[3] * net[5 + 2 * n_layers]
    total = 0.0
    for o in range(y.shape[1]):
        e = s[4 * hidden + o] - y[i, o]
        total += e * e
        s[4 * hidden + o] = factor * e
        if second:
            s[4 * hidden + 2 * widest + o] = factor * s[4 * hidden + 2 * widest + o]
    return total


def value_grad(w, p, data, t, g, s):
    """L(w) and ∇L(w) into g, one example at a time (module docstring)."""
    x, y, net = data[0], data[1], data[2]
    for k in range(w.shape[0]):
        g[k] = 0.0
    total = 0.0
    for i in range(x.shape[0]):
        forward(w, w, x, i, net, s, False, x, -1)
        total += _output_gradient(y, i, net, s, False)
        backward(w, w, x, i, net, s, g, False, x, -1)
    return net[2] * total


def grad(w, p, data, t, g, s):
    """∇L(w) into g (:func:`value_grad`, whose loss comes with the pass)."""
    value_grad(w, p, data, t, g, s)


def loss(w, p, data, t, s):
    """L(w) = κ Σ_i Σ_o (out_io − y_io)², forward passes only."""
    x, y, net = data[0], data[1], data[2]
    n_layers, hidden, widest, weights = _layout(net)
    total = 0.0
    for i in range(x.shape[0]):
        forward(w, w, x, i, net, s, False, x, -1)
        for o in range(y.shape[1]):
            e = s[4 * hidden + o] - y[i, o]
            total += e * e
    return net[2] * total


def hvp(w, p, data, t, u, out, s):
    """∇²L(w)·u into out by the R-operator on the forward and backward passes (module docstring)."""
    x, y, net = data[0], data[1], data[2]
    for k in range(w.shape[0]):
        out[k] = 0.0
    for i in range(x.shape[0]):
        forward(w, u, x, i, net, s, True, x, -1)
        _output_gradient(y, i, net, s, True)
        backward(w, u, x, i, net, s, out, True, x, -1)


def _activate_rows(rows, scale, code):
    """φ(scale·u) in place over a (units, examples) block, for the tile forms: the same
    arithmetic as :func:`activate`, with tanh from :func:`vector_tanh` so that the loop
    vectorises."""
    for j in range(rows.shape[0]):
        row = rows[j]
        for i in range(row.shape[0]):
            z = row[i] * scale
            if code == 0.0:
                row[i] = vector_tanh(1.4142135623730951 * z)
            elif code == 1.0:
                row[i] = 1.4142135623730951 * z if z > 0.0 else 0.0 * z
            else:
                row[i] = z


def _slope(h, code):
    """φ' from the activation's value h = φ(z), as :func:`activate` computes it."""
    if code == 0.0:
        return 1.4142135623730951 * (1.0 - h * h)
    if code == 1.0:
        return 1.4142135623730951 if h > 0.0 else 0.0
    return 1.0


_slope.simdyn_inline = True  # inside a loop that must vectorise


def _axpy(a, x, y):
    """y += a·x on rows (a loop LLVM vectorises)."""
    for i in range(y.shape[0]):
        y[i] += a * x[i]


_axpy.simdyn_inline = True


def _scaled_copy(x, a, b, y):
    """y = x·a·b elementwise (in that order of products)."""
    for i in range(y.shape[0]):
        y[i] = x[i] * a * b


_scaled_copy.simdyn_inline = True


def _weight_rows(w, off, n_in, n_out, fan_in_major, into):
    """into[k, j] = the weight from input unit k to output unit j of the layer at ``off``."""
    for k in range(n_in):
        for j in range(n_out):
            into[k, j] = w[_index(off, k, j, n_in, n_out, fan_in_major)]


def _tile_row(w, g, y, net, a1, g1, acts, cur, nxt, wl):
    """Loss of one trajectory of a tile, its gradient for layers 2 … L into g, and ∂L/∂u₁ into g1,
    given its first-layer pre-activations a1 = u₁ (n₁, m), which become a₁ in place. Examples
    run along the rows (the contiguous, vectorised direction); acts holds layers 2 … L − 1."""
    n_layers, hidden, widest, weights = _layout(net)
    code = net[0]
    fan_in_major = net[1] != 0.0
    m = a1.shape[1]
    n1 = int(net[6])
    # Forward: a_l = φ(s_l·W_lᵀ a_{l−1}), out = c·s_L·W_Lᵀ a_{L−1} (into cur).
    if n_layers == 1:
        for o in range(n1):
            _scaled_copy(a1[o], net[5 + n_layers + 1], net[3], cur[o])
    else:
        _activate_rows(a1, net[5 + n_layers + 1], code)
    off = int(net[5]) * n1
    at = 0
    for l in range(2, n_layers + 1):
        n_in = int(net[4 + l])
        n_out = int(net[5 + l])
        scale = net[5 + n_layers + l]
        src = a1 if l == 2 else acts[at - n_in:at]
        dst = cur[:n_out] if l == n_layers else acts[at:at + n_out]
        weight = wl[:n_in, :n_out]
        _weight_rows(w, off, n_in, n_out, fan_in_major, weight)
        for j in range(n_out):
            row = dst[j]
            row[:] = 0.0
            for k in range(n_in):
                _axpy(weight[k, j], src[k], row)
        if l < n_layers:
            _activate_rows(dst, scale, code)
            at += n_out
        else:
            for j in range(n_out):
                _scaled_copy(dst[j], scale, net[3], dst[j])
        off += n_in * n_out
    # Loss and ∂L/∂u_L = 2κ·c·s_L·(out − y).
    n_out = y.shape[1]
    factor = 2.0 * net[2] * net[3] * net[5 + 2 * n_layers]
    total = 0.0
    for o in range(n_out):
        row = cur[o]
        for i in range(m):
            e = row[i] - y[i, o]
            total += e * e
            row[i] = factor * e
    # Backward: ∂L/∂W_l[k, j] = Σ_i g_l[j, i]·a_{l−1}[k, i];  g_{l−1} = (W_l g_l) ⊙ φ'·s_{l−1}.
    for l in range(n_layers, 1, -1):
        n_in = int(net[4 + l])
        n_out = int(net[5 + l])
        off -= n_in * n_out
        below = a1 if l == 2 else acts[at - n_in:at]
        weight = wl[:n_in, :n_out]
        _weight_rows(w, off, n_in, n_out, fan_in_major, weight)
        for k in range(n_in):
            for j in range(n_out):
                g[_index(off, k, j, n_in, n_out, fan_in_major)] = np.dot(cur[j], below[k])
        scale_below = net[5 + n_layers + l - 1]
        for k in range(n_in):
            row = nxt[k]
            row[:] = 0.0
            for j in range(n_out):
                _axpy(weight[k, j], cur[j], row)
            h = below[k]
            for i in range(m):
                row[i] = row[i] * _slope(h[i], code) * scale_below
        cur, nxt = nxt, cur
        if l > 2:
            at -= n_in
    g1[:, :] = cur[:n1]
    return net[2] * total


def tile_value_grad(w, p, data, t, g, out):
    """:func:`value_grad` for a tile of trajectories (rows of W, G; losses into out).

    Each trajectory runs with the examples along the contiguous direction: its first layer is
    one matrix product u₁ = W₁ᵀ·Xᵀ of shape (n₁, m), its other layers are loops over the m
    examples that vectorise (the activations included, :func:`vector_tanh`), and ∂L/∂W₁ is one
    product g₁·X. Every buffer is allocated once per call and is small (a few (n, m) blocks):
    tile-wide (64·n₁, m) products cost more in page faults than they saved."""
    x, y, net = data[0], data[1], data[2]
    n_layers, hidden, widest, weights = _layout(net)
    fan_in_major = net[1] != 0.0
    m, n0 = x.shape
    n1 = int(net[6])
    x_t = np.ascontiguousarray(x.T)  # (n₀, m)
    first = np.empty((n1, n0), dtype=w.dtype)  # W₁ᵀ of one trajectory
    a1 = np.empty((n1, m), dtype=w.dtype)
    back = np.empty((n1, m), dtype=w.dtype)
    grad_first = np.empty((n1, n0), dtype=w.dtype)
    acts = np.empty((max(hidden - n1, 1), m), dtype=w.dtype)
    cur = np.empty((widest, m), dtype=w.dtype)
    nxt = np.empty((widest, m), dtype=w.dtype)
    wl = np.empty((widest, widest), dtype=w.dtype)
    for r in range(w.shape[0]):
        row = w[r]
        for j in range(n1):
            for k in range(n0):
                first[j, k] = row[_index(0, k, j, n0, n1, fan_in_major)]
        np.dot(first, x_t, a1)
        out[r] = _tile_row(row, g[r], y, net, a1, back, acts, cur, nxt, wl)
        np.dot(back, x, grad_first)
        for j in range(n1):
            for k in range(n0):
                g[r, _index(0, k, j, n0, n1, fan_in_major)] = grad_first[j, k]


def tile_grad(w, p, data, t, g):
    """:func:`tile_value_grad` without the losses."""
    out = np.empty(w.shape[0], dtype=w.dtype)
    tile_value_grad(w, p, data, t, g, out)
