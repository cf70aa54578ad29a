"""Kernels compiled by one process are loaded from the disk cache by the next, never stale."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

import simdyn
from simdyn.engine import disk_cache

#: The folder that holds the simdyn under test: subprocesses import it, not an installed copy.
SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(simdyn.__file__)))


def _env(cache, **extra):
    return {"SIMDYN_CACHE_DIR": str(cache), "PATH": "/usr/bin:/bin", "PYTHONPATH": SOURCE_ROOT, **extra}

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
    env = _env(tmp_path / "cache", **(env_extra or {}))
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


USER_MODULE = textwrap.dedent("""
    import json
    import numpy as np
    import simdyn as sd

    def grad(w, p, t):
        x, y = w
        return (2.0 * x, 2.0 * p[0] * y)

    def loss(w, p, t):
        x, y = w
        return x * x + p[0] * y * y

    my = sd.Landscape("my_valley", dim=2, grad=grad, loss=loss, params={"a": 1e-3})
    ds = sd.simulate("sgd", my, np.array([[0.5, -0.3]]), 3, hyper={"lr": 0.1}, progress=False)
    print(json.dumps(ds.w.values.tolist()))
""")


def test_identical_landscapes_in_two_modules_share_a_cache_without_crashing(tmp_path):
    # The README's landscape copied into a/mod_a.py and b/mod_b.py, imported one after the other
    # with the same cache folder: the second import used to load mod_a's cached kernel and fail
    # with "No module named 'mod_a'". Oracle: sgd's closed form, w_t = (1 - 2 lr h)^t w_0.
    env = _env(tmp_path / "cache")
    results = []
    for name in ("mod_a", "mod_b"):
        folder = tmp_path / name[-1]
        folder.mkdir()
        (folder / f"{name}.py").write_text(USER_MODULE)
        out = subprocess.run([sys.executable, "-c", f"import {name}"], cwd=folder, capture_output=True, text=True,
                             env=env, timeout=300)
        assert out.returncode == 0, out.stderr
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    expected = [0.5 * (1 - 2 * 0.1) ** 3, -0.3 * (1 - 2 * 0.1 * 1e-3) ** 3]
    assert results[0] == results[1]
    assert results[0][0] == [pytest.approx(v, rel=1e-12) for v in expected]


def test_the_cache_key_names_the_module_of_every_piece(tmp_path, monkeypatch):
    # Two functions with the same source and globals in different modules are different pieces:
    # a kernel compiled with one refers to its module, which another program may not have.
    import importlib

    source = "def grad(w, p, t):\n    return (2.0 * w[0],)\n"
    monkeypatch.syspath_prepend(str(tmp_path))
    digests = []
    for name in ("user_module_one", "user_module_two"):
        (tmp_path / f"{name}.py").write_text(source)
        digests.append(disk_cache.function_digest(importlib.import_module(name).grad))
    assert None not in digests and digests[0] != digests[1]


def test_an_entry_that_cannot_be_loaded_is_rebuilt(tmp_path, monkeypatch):
    # numba loads a cached entry at the first call, rebuilding the environment of the module the
    # kernel came from; any failure there (a module gone, a corrupt file) must compile afresh.
    from numba.core import caching

    monkeypatch.setenv("SIMDYN_CACHE_DIR", str(tmp_path))
    source = "def add_one(x):\n    return x + 1.0\n"

    def broken(self, sig, target_context):
        raise ModuleNotFoundError("No module named 'gone'")

    first = disk_cache.load_cached(source, {}, "test_rebuilt_entry", "add_one")
    assert first(1.0) == 2.0  # writes the entry
    monkeypatch.setattr(caching.Cache, "_load_overload", broken)
    again = disk_cache.load_cached(source, {}, "test_rebuilt_entry", "add_one")
    assert again(2.5) == 3.5


def test_a_piece_from_a_module_no_program_can_import_is_not_cached_on_disk(tmp_path):
    # runpy.run_path runs a file as the module "<run_path>", which leaves sys.modules at the end:
    # an entry compiled from it could never be loaded by another program.
    import runpy

    (tmp_path / "observer_file.py").write_text("def update(s, w, t):\n    return s\n")
    update = runpy.run_path(str(tmp_path / "observer_file.py"))["update"]
    assert update.__module__ not in sys.modules
    assert disk_cache.function_digest(update) is None
