"""Every ```python block of the README runs, as a user would run it: saved as a script.

Blocks that simulate for minutes are shrunk by the substitutions of ``SHRINK`` (sizes and step
counts only; the code is otherwise the README's). A block whose ``print(...)`` carries the
printed value as a comment (``print(x)  # [[104] [9057]]: ...``) must print that value.
"""

import os
import re
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)

#: (a line that identifies the block, [(text, its shrunk replacement), ...])
SHRINK = [
    ('x0=sd.grid(x=(-1, 1, 256), y=(-1, 1, 256)),  # dims x0, y0',
     [("256", "16"), ("steps=10_000", "steps=200")]),
    ('my = sd.Landscape("my_valley"', [("(10**6, 2)), steps=1000", "(10**3, 2)), steps=100")]),
    ('with LocalCluster(n_workers=2', [("2048", "32"), ("10_000", "100"), ("1 << 20", "256")]),
    ('lsq = sd.Landscape("lsq"', [("size=(1000, 50)), steps=1000", "size=(50, 50)), steps=100")]),
    ('ds = sd.period_scan("adam", "valley"',
     [("steps=60_000", "steps=3_000"), ("1e-1, 24)", "1e-1, 6)"), ("0.99, 12)", "0.99, 3)")]),
]


def _shrunk(block: str) -> str:
    for marker, substitutions in SHRINK:
        if marker in block:
            for text, replacement in substitutions:
                assert text in block, f"the README changed: {text!r} is no longer in the block of {marker!r}"
                block = block.replace(text, replacement)
    return block


def _printed_claims(block: str) -> list[str]:
    """The values written as comments after print(...) calls, without spaces."""
    return [re.sub(r"\s", "", m) for m in re.findall(r"^print\(.*\)\s+#\s*(\[[\[\]\d\s]+\])", block, flags=re.M)]


def test_every_block_is_covered():
    assert len(BLOCKS) >= 5
    for marker, _ in SHRINK:
        assert sum(marker in block for block in BLOCKS) == 1, marker


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_block_runs_as_a_script(index, tmp_path, monkeypatch, capsys):
    """Oracle: the block itself, and the output its comments promise."""
    block = _shrunk(BLOCKS[index])
    script = tmp_path / f"readme_block_{index}.py"
    script.write_text(block)
    monkeypatch.chdir(tmp_path)
    if "__main__" in block:  # a script with worker processes: run it as one, in its own process
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
        result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=600, env=env)
        assert result.returncode == 0, result.stderr
        out = result.stdout
    else:
        runpy.run_path(str(script), run_name="__main__")
        out = capsys.readouterr().out
    for claim in _printed_claims(block):
        assert claim in re.sub(r"\s", "", out), (claim, out)
