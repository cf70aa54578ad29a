"""Models with data: array-form landscapes built from a dataset (one module per model).

``random_quadratic``, ``least_squares``, ``logistic_regression``, ``deep_linear`` (with
``deep_linear_init``) and ``mlp`` (with ``mlp_init``) each return an :class:`simdyn.Landscape`;
each module's docstring gives the formula, its source and the parameter layout.
"""

from .deep_linear import deep_linear, deep_linear_init
from .least_squares import least_squares
from .logistic_regression import logistic_regression
from .mlp import mlp, mlp_init
from .random_quadratic import random_quadratic

__all__ = ["deep_linear", "deep_linear_init", "least_squares", "logistic_regression", "mlp", "mlp_init",
           "random_quadratic"]
