"""Resumable part stores and the streamed assembly of the final netCDF file.

A long study writes each finished block to ``<output>.parts/<group>/part-<optimizer index>-<block>.nc``
(atomically: temporary file, then rename), next to a ``manifest.json`` holding a hash of the
study's inputs. Rerunning the same study finds the parts, skips their blocks and runs the rest;
a study whose inputs changed starts afresh. When every block is there, the final file is built
part by part — variables are created from the first part's definitions, then each part's values
are copied into their hyperslab — so memory stays O(block) however large the study, and the file
equals the one an uninterrupted run writes (same values, bit for bit). The parts are then removed.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import shutil
import tempfile

import netCDF4
import numpy as np
import xarray as xr

from ..dataset import batch_coords, initial_points
from ..provenance import study_attrs
from .executor import Task, part_index

MANIFEST = "manifest.json"


def inputs_hash(plan, extra: str = "") -> str:
    """sha256 of everything that determines the numbers: the call, the initial set, ``extra``."""
    digest = hashlib.sha256()
    digest.update(study_attrs(plan)["simdyn_call"].encode())
    digest.update(np.ascontiguousarray(plan.initial.points).tobytes())
    for obs in plan.observers:
        digest.update(repr((obs.name, obs.params(plan.landscape.dim), obs.attrs())).encode())
    digest.update(extra.encode())
    return digest.hexdigest()


class PartStore:
    """The folder of finished parts of one output file (``<output>.parts``)."""

    def __init__(self, output: str, digest: str, chunk_size: int | None):
        self.output = os.fspath(output)
        self.folder = self.output + ".parts"
        self.digest = digest
        self.chunk_size = chunk_size
        self.manifest = self._open()

    def _open(self) -> dict:
        path = os.path.join(self.folder, MANIFEST)
        if os.path.isfile(path):
            with open(path) as f:
                manifest = json.load(f)
            if manifest.get("inputs_hash") == self.digest and manifest.get("chunk_size") == self.chunk_size:
                return manifest
            shutil.rmtree(self.folder)  # another study's parts: start afresh
        os.makedirs(self.folder, exist_ok=True)
        manifest = {
            "inputs_hash": self.digest,
            "chunk_size": self.chunk_size,
            "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        }
        _atomic_write_text(path, json.dumps(manifest, indent=1))
        return manifest

    def part_path(self, group: str, task: Task) -> str:
        return os.path.join(self.folder, group or "_", f"part-{task.key}.nc")

    def done(self, group: str, task: Task) -> bool:
        return os.path.isfile(self.part_path(group, task))

    def write(self, group: str, task: Task, ds: xr.Dataset) -> None:
        from ..io import save

        save(ds, self.part_path(group, task))

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def _atomic_write_text(path: str, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".simdyn-", suffix=".part")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def _template(plan, part: xr.Dataset, path: str) -> None:
    """A small file with every variable of the final group, encoded as xarray encodes them."""
    sample = part.isel({dim: slice(0, 1) for dim in part.dims if dim not in ("coord", "step")})
    sample = sample.drop_vars([c for c in sample.coords])
    sample["w0"] = initial_points(plan).isel({dim: slice(0, 1) for dim in plan.initial.dims})
    sample = sample.assign_coords(coord_template_coords(plan, part))
    sample.to_netcdf(path, engine="netcdf4", format="NETCDF4")


def coord_template_coords(plan, part: xr.Dataset) -> dict:
    coords = {"coord": batch_coords(plan)["coord"]}
    if "step" in part.coords:
        coords["step"] = part["step"].values
    return coords


def _full_coords(plan, part: xr.Dataset) -> dict:
    coords = batch_coords(plan)
    if "step" in part.coords:
        coords["step"] = part["step"].values
    if plan.stacked:
        coords["optimizer"] = np.array([launch.optimizer.name for launch in plan.launches], dtype=object)
    return coords


def assemble(plan, store: PartStore, group: str, tasks: list[Task], target: netCDF4.Dataset, attrs: dict) -> None:
    """Write the group's variables into ``target`` (an open netCDF4 group) part by part."""
    first = xr.load_dataset(store.part_path(group, tasks[0]), engine="netcdf4")
    folder = tempfile.mkdtemp(dir=store.folder, prefix=".template-")
    template_path = os.path.join(folder, "template.nc")
    _template(plan, first, template_path)
    coords = _full_coords(plan, first)
    sizes = {dim: len(values) for dim, values in coords.items()}
    with netCDF4.Dataset(template_path) as tpl:
        for dim in tpl.dimensions:
            target.createDimension(dim, sizes.get(dim, first.sizes.get(dim)))
        for dim, values in coords.items():
            if dim not in target.dimensions:
                target.createDimension(dim, len(values))
        for name, var in tpl.variables.items():
            if name in coords:
                continue
            _copy_definition(var, target, name)
        for dim, values in coords.items():
            values = np.asarray(values)
            kind = str if values.dtype.kind in "OUS" else values.dtype
            fill = np.nan if values.dtype.kind == "f" else None  # as xarray encodes float variables
            out = target.createVariable(dim, kind, (dim,), fill_value=fill)
            out[:] = values.astype(object) if kind is str else values
        target.variables["w0"][:] = initial_points(plan).values
    shutil.rmtree(folder, ignore_errors=True)
    elapsed = 0.0
    for task in tasks:
        with netCDF4.Dataset(store.part_path(group, task)) as part:
            part.set_auto_maskandscale(False)
            elapsed += float(getattr(part, "elapsed_seconds", 0.0))
            for name, var in part.variables.items():
                if name in part.dimensions:
                    continue
                index = part_index(plan, task, _Dims(var.ndim))
                target.variables[name][index] = var[...]
    target.setncatts({**attrs, "elapsed_seconds": elapsed})


class _Dims:
    """The ``ndim`` of a variable, which is all :func:`part_index` reads."""

    def __init__(self, ndim: int):
        self.ndim = ndim


def _copy_definition(var, target, name: str) -> None:
    fill = var.getncattr("_FillValue") if "_FillValue" in var.ncattrs() else None
    out = target.createVariable(name, var.datatype, var.dimensions, fill_value=fill)
    out.set_auto_maskandscale(False)
    out.setncatts({k: var.getncattr(k) for k in var.ncattrs() if k != "_FillValue"})
