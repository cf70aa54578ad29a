"""Import a script of ``scripts/`` as a module (for the --quick smoke tests of the scripts)."""

import importlib.util
import sys
from pathlib import Path

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
if str(SCRIPTS) not in sys.path:  # the scripts' shared helpers (_report), as when run as scripts
    sys.path.insert(0, str(SCRIPTS))


def load(name: str):
    """The module ``scripts/<name>.py``, freshly executed."""
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
