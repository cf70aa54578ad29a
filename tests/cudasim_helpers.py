"""Helpers of the tests that run the CUDA kernels under numba's simulator."""

import simdyn as sd


def both_targets(*args, run=None, **kwargs):
    """(CPU result, CUDA result) of ``run`` (default ``sd.simulate``) called with the same arguments."""
    run = run or sd.simulate
    kwargs.setdefault("progress", False)
    return run(*args, target="cpu", **kwargs), run(*args, target="cuda", **kwargs)
