"""netCDF I/O: atomic writes, ``sd.load``, and the ``ds.simdyn`` accessor.

Datasets are built in :mod:`simdyn.dataset`, their attributes in :mod:`simdyn.provenance`, the
status codes live in :mod:`simdyn.status`.
"""

from __future__ import annotations

import contextlib
import os
import tempfile

import xarray as xr

from .status import STATUS, STATUS_MEANINGS  # noqa: F401  (simdyn.io.STATUS: the name used before)


@contextlib.contextmanager
def atomic_output(path):
    """Yield a temporary path next to ``path``; on success give it the usual file mode (mkstemp
    makes 0600) and rename it to ``path``, on any failure or interrupt remove it.

    An interrupted or failed write therefore never leaves a truncated file under ``path``.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".simdyn-", suffix=".nc.part", dir=folder)
    os.close(fd)
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def save(ds: xr.Dataset, path, group: str | None = None) -> str:
    """Write ``ds`` to netCDF4 atomically (see :func:`atomic_output`)."""
    with atomic_output(path) as tmp:
        ds.to_netcdf(tmp, engine="netcdf4", format="NETCDF4", group=group)
    return os.fspath(path)


def groups(path) -> list[str]:
    """Names of the netCDF groups at the root of ``path`` (empty for a single-Dataset file)."""
    import netCDF4

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such file: {path}")
    with netCDF4.Dataset(path) as nc:
        return list(nc.groups)


def load(path, group: str | None = None):
    """Read a file written by :func:`save` (or by ``simdyn run``) fully into memory; the file is
    closed afterwards.

    A file without groups gives its ``xarray.Dataset``. A file with groups (a study with
    ``[[runs]]``: one group per run) gives an ``xarray.DataTree`` holding every group
    (``tree["valley"].to_dataset()``; the study's attributes on the root), as
    ``xr.open_datatree(path)`` would; ``group="valley"`` gives that group's Dataset.
    """
    names = groups(path)
    if group is not None and group.strip("/") not in names:
        raise ValueError(f"group: {group!r} is not in {os.fspath(path)}; groups: {', '.join(names) or 'none'}")
    if group is None and names:
        with xr.open_datatree(path, engine="netcdf4") as tree:
            return tree.load()
    with xr.open_dataset(path, engine="netcdf4", group=group) as ds:
        return ds.load()


@xr.register_dataset_accessor("simdyn")
class SimdynAccessor:
    """``ds.simdyn.save(path)``: atomic netCDF write; ``ds.simdyn.summary()``: status counts."""

    def __init__(self, ds: xr.Dataset):
        self._ds = ds

    def save(self, path, group: str | None = None) -> str:
        return save(self._ds, path, group=group)

    def status_counts(self) -> dict:
        """Number of trajectories per status meaning (over every dim except ``optimizer``)."""
        status = self._ds["status"]
        if "optimizer" in status.dims:
            return {
                str(opt): {m: int((status.sel(optimizer=opt) == i).sum()) for i, m in enumerate(STATUS_MEANINGS)}
                for opt in status["optimizer"].values
            }
        return {m: int((status == i).sum()) for i, m in enumerate(STATUS_MEANINGS)}
