"""Per-trajectory scratch rows of array-form landscapes (``Landscape(scratch=n)``) in the engine.

Oracle: gradient descent on least squares written in numpy (w ← w − η·Xᵀ(Xw − y)/m) and its
loss ‖Xw − y‖²/(2m); the landscape under test keeps its residuals in the scratch row, so a row
that is missing, too short or shared between trajectories within one call gives other numbers.
"""

import numpy as np

import simdyn as sd

RNG = np.random.default_rng(3)
X = RNG.normal(size=(9, 3))
Y = RNG.normal(size=9)


def grad(w, p, data, t, g, s):
    """Xᵀ(Xw − y)/m with the residuals r_i stored in s[i] first."""
    x, y = data[0], data[1]
    m, d = x.shape
    for i in range(m):
        r = -y[i]
        for k in range(d):
            r += x[i, k] * w[k]
        s[i] = r
    for k in range(d):
        acc = 0.0
        for i in range(m):
            acc += x[i, k] * s[i]
        g[k] = acc / m


def loss(w, p, data, t, s):
    x, y = data[0], data[1]
    total = 0.0
    for i in range(x.shape[0]):
        r = -y[i]
        for k in range(x.shape[1]):
            r += x[i, k] * w[k]
        s[i] = r
        total += s[i] * s[i]
    return 0.5 * total / x.shape[0]


def landscape():
    return sd.Landscape("least_squares_in_scratch", 3, grad, loss, form="array", data={"X": X, "y": Y},
                        scratch=X.shape[0])


def numpy_descent(w0, lr, steps):
    w = w0.copy()
    for _ in range(steps):
        w = w - lr * (w @ X.T - Y) @ X / X.shape[0]
    return w


def test_scratch_rows_reach_grad_and_loss_and_give_the_numpy_descent():
    w0 = RNG.normal(size=(70, 3))  # more trajectories than one CPU tile
    lr = np.array([0.05, 0.2])
    ds = sd.simulate("sgd", landscape(), w0, 25, hyper={"lr": lr}, progress=False)
    for i, eta in enumerate(lr):
        expected = numpy_descent(w0, eta, 25)
        np.testing.assert_allclose(ds.w.isel(lr=i).values, expected, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(ds.loss.isel(lr=i).values, 0.5 * ((expected @ X.T - Y) ** 2).mean(axis=1),
                                   rtol=1e-12)


def test_launch_memory_counts_the_cuda_scratch_rows():
    # Oracle: the bytes of the (N, scratch) array XS the CUDA launch allocates.
    from dataclasses import replace

    from simdyn.engine.allocation import launch_bytes
    from simdyn.plan import make_plan

    w0 = RNG.normal(size=(4, 3))
    wide = sd.Landscape("wide_scratch", 3, grad, loss, form="array", data={"X": X, "y": Y}, scratch=1000)
    small, large = (make_plan("sgd", land, w0, 3, hyper={"lr": 0.1}).launches[0] for land in (landscape(), wide))

    def cuda_bytes(launch):
        return launch_bytes(replace(launch.request, target="cuda"), launch.inputs, 100)

    difference = cuda_bytes(large) - cuda_bytes(small)
    assert difference == 100 * 8 * (1000 - X.shape[0])
