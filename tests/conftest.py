"""Settings for the whole test session."""

import os
import sys

if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
    # numba's CUDA simulator runs every GPU thread as a Python thread. With the default GIL
    # switch interval (5 ms) a thread that blocks on a lock waits up to 5 ms to get the GIL back,
    # which made the simulated kernels 10-40x slower and their run time erratic (1.7 s to 57 s
    # for the same 4-trajectory run); a short interval keeps them at ~1 s.
    sys.setswitchinterval(1e-5)
