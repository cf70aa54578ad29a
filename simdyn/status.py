"""The per-trajectory status codes: what ``status`` means in every simdyn Dataset.

A leaf module (numpy only), so that observers, plots and analyses can name the codes without
depending on the engine or on the Dataset layer. The codes are stored as CF flags:
``flag_values`` 0 … 4 with ``flag_meanings`` "converged periodic bounded diverged nonfinite".
"""

from __future__ import annotations

import numpy as np

STATUS_MEANINGS = ("converged", "periodic", "bounded", "diverged", "nonfinite")
STATUS = {name: np.uint8(i) for i, name in enumerate(STATUS_MEANINGS)}


def status_attrs() -> dict:
    """The CF flag attributes of a ``status`` variable."""
    return {
        "long_name": "final state of the trajectory",
        "flag_values": np.arange(len(STATUS_MEANINGS), dtype=np.uint8),
        "flag_meanings": " ".join(STATUS_MEANINGS),
    }


def status_codes(frozen: np.ndarray, w: np.ndarray, w_prev: np.ndarray, converge_tol: float) -> np.ndarray:
    """Per-trajectory status from the frozen codes and the last step.

    diverged: some |w_k| exceeded ``diverge_threshold`` (frozen at the last finite state);
    nonfinite: a step produced inf/NaN; converged: ‖w_T − w_{T−1}‖∞ ≤ converge_tol·max(1, ‖w_T‖∞);
    bounded: anything else (``periodic`` is set by the period detector).
    """
    last_step = np.max(np.abs(w - w_prev), axis=0)
    scale = np.maximum(1.0, np.max(np.abs(w), axis=0))
    status = np.where(last_step <= converge_tol * scale, STATUS["converged"], STATUS["bounded"])
    status = np.where(frozen > 0, STATUS["diverged"], status)
    status = np.where(frozen < 0, STATUS["nonfinite"], status)
    return status.astype(np.uint8)
