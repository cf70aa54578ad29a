"""The layers of DESIGN.md §1, read from the import statements of the source (the oracle is
the source itself, parsed with ``ast``): data flows down, never back up."""

from __future__ import annotations

import ast
import pathlib

import pytest

import simdyn

ROOT = pathlib.Path(simdyn.__file__).parent


def imported_modules(path: pathlib.Path) -> set[str]:
    """Every simdyn module ``path`` imports (at the top or inside a function), as dotted names."""
    package = ".".join(path.relative_to(ROOT.parent).with_suffix("").parts[:-1])
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return {name for name in found if name == "simdyn" or name.startswith("simdyn.")}


def modules(folder: str) -> list[pathlib.Path]:
    target = ROOT / folder
    return sorted(target.rglob("*.py")) if target.is_dir() else [target]


def violations(folder: str, forbidden: tuple[str, ...]) -> list[str]:
    out = []
    for path in modules(folder):
        for name in sorted(imported_modules(path)):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                out.append(f"{path.relative_to(ROOT)} imports {name}")
    return out


DATASET_LAYER = ("simdyn.dataset", "simdyn.io", "simdyn.provenance")


@pytest.mark.parametrize("folder, forbidden", [
    pytest.param("landscapes", ("simdyn.engine",), id="landscapes-know-no-kernel"),
    pytest.param("optimizers", ("simdyn.engine",), id="optimizers-know-no-kernel"),
    pytest.param("observe", DATASET_LAYER, id="observers-do-not-import-the-dataset-layer"),
    pytest.param("status.py", ("simdyn",), id="status-is-a-leaf"),
    pytest.param("dataset.py", ("simdyn.engine",), id="dataset-assembly-calls-no-kernel"),
    pytest.param("provenance.py", ("simdyn.engine", "simdyn.dataset"), id="provenance-calls-no-kernel"),
    pytest.param("io.py", ("simdyn.engine", "simdyn.dataset"), id="netcdf-io-calls-no-kernel"),
    pytest.param("analysis", ("simdyn.engine", "simdyn.plan", "simdyn.simulate", "simdyn.distributed", "simdyn.studies",
                              "simdyn.cli", "simdyn.study"), id="analysis-runs-no-simulation"),
    pytest.param("analysis/attractors/mapping.py", ("simdyn.analysis.attractors.matching",),
                 id="mapping-knows-no-matching"),
    pytest.param("studies", ("simdyn.cli", "simdyn.study"), id="studies-below-the-command-line"),
])
def test_a_layer_does_not_import_the_layers_it_must_not_know(folder, forbidden):
    assert violations(folder, forbidden) == []


def test_the_import_reader_sees_relative_imports():
    # The reader itself, on a module known to import the engine: a reader that saw nothing
    # would pass every test above.
    assert "simdyn.engine.run" in imported_modules(ROOT / "simulate.py") or \
        "simdyn.engine.run.run_batch" in imported_modules(ROOT / "simulate.py")
    assert violations("simulate.py", ("simdyn.engine",)) != []
