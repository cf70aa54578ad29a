"""Kernels compiled by one process are loaded from the disk cache by the next, never stale."""

import json
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    import simdyn as sd
    from simdyn.engine.kernels import _KERNELS
    a = float(sys.argv[1])

    def grad(w, p, t):
        return (2.0 * w[0], 2.0 * A * w[1])

    def loss(w, p, t):
        return w[0] * w[0] + A * w[1] * w[1]

    A = a  # a global the user function reads: part of what the cache key covers
    land = sd.Landscape("user_valley", 2, grad, loss)
    ds = sd.simulate("sgd", land, np.array([[0.5, -0.3], [1.0, 1.0]]), 50, progress=False)
    hits = sum(sum(k.stats.cache_hits.values()) for k in _KERNELS.values() if hasattr(k, "stats"))
    print(json.dumps({"hits": hits, "w": ds.w.values.tolist()}))
""")


def _run(tmp_path, a, env_extra=None):
    tmp_path.mkdir(exist_ok=True)
    script = tmp_path / "user_study.py"
    script.write_text(SCRIPT)
    env = {"SIMDYN_CACHE_DIR": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin", **(env_extra or {})}
    out = subprocess.run([sys.executable, str(script), str(a)], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_second_process_loads_the_kernel_from_disk_and_never_a_stale_one(tmp_path):
    first = _run(tmp_path, 0.5)
    second = _run(tmp_path, 0.5)
    assert first["hits"] == 0 and second["hits"] >= 1
    assert first["w"] == second["w"]
    # The user function's global changed: a new kernel, equal to one compiled without any cache.
    changed = _run(tmp_path, 3.0)
    uncached = _run(tmp_path, 3.0, {"SIMDYN_DISK_CACHE": "0"})
    assert changed["hits"] == 0 and uncached["hits"] == 0
    assert changed["w"] == uncached["w"] != first["w"]
