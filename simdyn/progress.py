"""The progress bar of long runs: trajectory-steps done, rate and ETA (tqdm)."""

from __future__ import annotations

import sys


def progress_bar(total: int, enabled, done: int = 0):
    """A tqdm bar over ``total`` trajectory-steps (``done`` already finished), or None.

    ``enabled``: True/False, or None to show it only when stderr is a terminal.
    """
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=done, unit="traj-step", unit_scale=True, desc="simdyn", smoothing=0.1,
                leave=False)
