"""A user landscape for the tangent tests: the logistic map as gradient descent.

GD with lr 1 on a loss whose gradient is w − r·w(1 − w) steps to w′ = r·w(1 − w), the logistic
map (May, Nature 261, 1976). The loss is not needed by the tangent code (it is ∫ grad, given for
completeness: w²/2 − r(w²/2 − w³/3)).
"""

import simdyn as sd


def logistic_grad(w, p, t):
    x = w[0]
    return (x - p[0] * x * (1.0 - x),)


def logistic_loss(w, p, t):
    x = w[0]
    return 0.5 * x * x - p[0] * (0.5 * x * x - x * x * x / 3.0)


LOGISTIC = sd.Landscape("logistic", 1, logistic_grad, logistic_loss, params={"r": 3.2},
                        formula="grad = w - r*w*(1 - w): GD with lr 1 is the logistic map")
