"""What a new user's install gets: a CPU-only core (CUDA is an extra), matplotlib with the main
install, and an ``import simdyn`` that never needs numba-cuda."""

import subprocess
import sys
import textwrap
from pathlib import Path

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]


def _requirement_names(requirements):
    return {r.split(";")[0].split(">")[0].split("=")[0].split("[")[0].strip().lower() for r in requirements}


def test_core_install_is_cpu_only_and_brings_matplotlib():
    """Oracle: pyproject.toml's declared dependencies."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    core = _requirement_names(project["dependencies"])
    extras = project["optional-dependencies"]
    assert "numba-cuda" not in core, "the CUDA wheels (~500 MB) belong in the cuda extra"
    assert "matplotlib" in core
    assert "numba-cuda" in _requirement_names(extras["cuda"])
    assert any(r.startswith("numba-cuda[cu13]") for r in extras["test"]), "the PTX tests compile with NVVM"


# numba-cuda (and numba's own numba.cuda) made unimportable, as in an environment without them
WITHOUT_CUDA = textwrap.dedent("""
    import importlib.abc
    import sys

    sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "NumbaCudaFinder"]

    class Absent(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name.split(".")[0] == "numba_cuda" or name == "numba.cuda" or name.startswith("numba.cuda."):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, Absent())
    import numpy as np
    import simdyn as sd

    x0 = np.array([[0.5, 0.5]])
    print("TARGET", sd.simulate("adam", "valley", x0, 5, target="auto", progress=False).attrs["target"])
    try:
        sd.simulate("adam", "valley", x0, 5, target="cuda", progress=False)
    except ValueError as exc:
        print("ERROR", exc)
""")


def test_without_numba_cuda_auto_runs_on_the_cpu_and_cuda_is_a_clear_error():
    """Oracle: the documented fallback (auto -> cpu) and the ValueError naming ``target``."""
    result = subprocess.run([sys.executable, "-W", "error", "-c", WITHOUT_CUDA], capture_output=True, text=True,
                            timeout=600, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert "TARGET cpu" in result.stdout
    assert "ERROR target='cuda'" in result.stdout and "use target='cpu' or 'auto'" in result.stdout


def test_plots_without_matplotlib_say_how_to_install_it():
    script = textwrap.dedent("""
        import sys
        sys.modules["matplotlib"] = None  # as if it were not installed
        import simdyn as sd
        import xarray as xr
        try:
            sd.plot.survival(xr.Dataset({"survival": (("step",), [1.0, 0.5])}, coords={"step": [0, 1]}))
        except ModuleNotFoundError as exc:
            print("ERROR", exc)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert "ERROR simdyn.plot needs matplotlib" in result.stdout and "pip install matplotlib" in result.stdout
