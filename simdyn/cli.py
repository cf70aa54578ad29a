"""The ``simdyn`` command: run a TOML study, inspect a result file, list what is registered.

    simdyn run [STUDY.toml] [-o OUT.nc] [--steps N] [--target cpu|cuda|auto] [--quiet]
    simdyn info OUT.nc [--study]
    simdyn plot OUT.nc [-o FOLDER]
    simdyn list

Exit codes: 0 on success, 2 for bad input (an invalid study, a missing file), printed as
``simdyn: error: <message>`` without a traceback; 1 when the output cannot be written.
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
import time
from pathlib import Path

import numpy as np
import xarray as xr

from .file_info import attr_str, call_of, format_table

BAD_INPUT = (ValueError, TypeError, FileNotFoundError)
STATUS_COLUMNS = ("converged", "bounded", "diverged", "nonfinite")


def _error(message: str, code: int = 2) -> int:
    print(f"simdyn: error: {message}", file=sys.stderr)
    return code


# -- tables ---------------------------------------------------------------------------------------


def _fmt(value: float) -> str:
    if value is None:
        return "-"
    if not math.isfinite(value):
        return str(value)
    return f"{value:.3e}"


# -- the summary: status counts, median loss, median distance to the nearest minimum ---------------


def _distance_to_minima(ds):
    """Per trajectory, the distance ‖w − m‖₂ to the nearest known minimum m of the landscape
    (:meth:`Landscape.minima`, evaluated for each swept landscape parameter); None when the
    landscape lists no minimum (e.g. ``saddle``) or is not registered."""

    from .landscapes import get_landscape

    call = call_of(ds)
    params = dict(call.get("params") or {})
    try:
        land = get_landscape(ds.attrs.get("landscape", call.get("landscape")), {"h": np.asarray(params["h"])} if "h" in params else None)
    except (ValueError, TypeError):
        return None
    swept = [name for name in params if name in ds.dims]
    w = ds["w"]
    dist = xr.full_like(w.isel(coord=0, drop=True), np.nan, dtype=float)
    any_minimum = False
    for combo in itertools.product(*(ds[name].values for name in swept)):
        where = dict(zip(swept, combo))
        values = {k: (np.asarray(v) if isinstance(v, list) else v) for k, v in params.items()}
        values.update({k: float(v) for k, v in where.items()})
        minima = land.minima(values)
        if not minima:
            continue
        any_minimum = True
        w_here = w.sel(where)
        nearest = None
        for m in minima:
            loc = xr.DataArray(np.asarray(m.location, dtype=float), dims="coord", coords={"coord": w["coord"]})
            d = np.sqrt(((w_here - loc) ** 2).sum("coord"))
            nearest = d if nearest is None else np.minimum(nearest, d)
        dist.loc[where] = nearest.transpose(*dist.sel(where).dims)
    return dist if any_minimum else None


def summary_rows(results: dict) -> list[dict]:
    """One row per (run, optimizer): status counts, median final loss and median distance to
    the nearest known minimum (over every trajectory, hyperparameter and parameter value)."""
    from .status import STATUS_MEANINGS

    rows = []
    for run, ds in results.items():
        landscape = ds.attrs.get("landscape", run)
        dist = _distance_to_minima(ds)
        optimizers = [str(o) for o in ds["optimizer"].values] if "optimizer" in ds.dims else [ds.attrs.get("optimizer", "?")]
        for opt in optimizers:
            def pick(da):
                return da.sel(optimizer=opt) if "optimizer" in da.dims else da

            status = pick(ds["status"]).values.ravel()
            loss = pick(ds["loss"]).values.ravel()
            row = {
                "run": run,
                "landscape": landscape,
                "optimizer": opt,
                **{m: int(np.sum(status == i)) for i, m in enumerate(STATUS_MEANINGS)},
                "median_loss": float(np.nanmedian(loss)) if np.any(np.isfinite(loss)) else math.nan,
                "median_distance": None,
            }
            if dist is not None:
                values = pick(dist).values.ravel()
                row["median_distance"] = float(np.nanmedian(values)) if np.any(np.isfinite(values)) else math.nan
            rows.append(row)
    return rows


def format_summary(rows: list[dict]) -> str:
    """The summary table; the ``periodic`` column appears when some trajectory is periodic."""
    statuses = list(STATUS_COLUMNS)
    if any(r["periodic"] for r in rows):
        statuses.insert(1, "periodic")
    header = ["landscape", "optimizer", *statuses, "median loss", "median dist. to min"]
    table = []
    for r in rows:
        name = r["landscape"] if r["run"] in (r["landscape"], "") else f"{r['run']} ({r['landscape']})"
        table.append([name, r["optimizer"], *(r[s] for s in statuses), _fmt(r["median_loss"]), _fmt(r["median_distance"])])
    return format_table(header, table, right=set(range(2, len(header))))


# -- subcommands ----------------------------------------------------------------------------------


def _cmd_run(args) -> int:
    from .distributed.job import execute_study, plan_job
    from .study import DEFAULT_STUDY, file_groups, load_study

    try:
        study = load_study(Path(args.study) if args.study is not None else DEFAULT_STUDY)
        changes = {}
        for key in ("steps", "target", "chunk_size", "scheduler", "n_workers"):
            if getattr(args, key, None) is not None:
                changes[key] = getattr(args, key)
        if changes:
            study = study.replace(**changes)
        output = args.output or study.output
        job = plan_job(study, output, study.chunk_size)
    except BAD_INPUT as exc:
        return _error(str(exc))
    if args.dry_run:
        print(job.describe())
        return 0
    start = time.perf_counter()
    try:
        execute_study(study, output, chunk_size=study.chunk_size, scheduler=study.scheduler,
                      n_workers=study.n_workers, progress=False if args.quiet else None)
    except KeyboardInterrupt:
        return _error(f"interrupted: finished chunks are kept in {output}.parts; run the same command again to resume",
                      130)
    except OSError as exc:
        return _error(f"cannot write {output}: {exc}", 1)
    elapsed = time.perf_counter() - start
    groups = file_groups(output)
    results = {}
    for group in groups or [""]:
        results[group] = xr.open_dataset(output, group=group or None, engine="netcdf4")
    try:
        target = next(iter(results.values())).attrs.get("target", study.target)
        print(f"study {study.name}: {', '.join(study.optimizers)}, {study.steps} steps, {study.dtype}, target {target}")
        print(format_summary(summary_rows(results)))
        figure = None if args.no_figure else _write_summary(results, Path(output).with_suffix(".png"))
    finally:
        for ds in results.values():
            ds.close()
    print(f"wrote {output} in {elapsed:.1f} s")
    if figure is not None:
        print(f"wrote its summary figure {figure}")
    return 0


def _write_summary(results: dict, path: Path) -> Path | None:
    """The summary figure of a run (None, with a note, when its datasets cannot be drawn)."""
    try:
        return _save_figure(_summary(results), path)
    except (ValueError, TypeError) as exc:
        print(f"simdyn: note: no summary figure: {exc}", file=sys.stderr)
        return None


def _summary(results: dict):
    from .plot import summary_figure

    return summary_figure(results)


def _save_figure(fig, path: Path) -> Path:
    """Write ``fig`` as PNG to ``path`` and release it."""
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _use_file_backend():
    """Draw into files (Agg): the command never opens a window."""
    import matplotlib

    matplotlib.use("Agg")


def _read_file(path):
    """(groups, datasets) of a simdyn file, or (None, the exit code of the error printed)."""
    from .study import file_groups, load_results

    try:
        return file_groups(path), load_results(path)
    except BAD_INPUT as exc:
        return None, _error(str(exc))
    except OSError as exc:
        return None, _error(f"cannot read {path} as netCDF: {exc}")


def _cmd_plot(args) -> int:
    from .plot import standard_figures

    groups, result = _read_file(args.file)
    if groups is None:
        return result
    folder = Path(args.output_dir) if args.output_dir else Path(args.file).resolve().parent
    folder.mkdir(parents=True, exist_ok=True)
    stem = Path(args.file).stem
    for group, ds in (result.items() if groups else [("", result)]):
        for name, fig in standard_figures(ds).items():
            path = folder / f"{stem}{'_' + group if group else ''}_{name}.png"
            print(_save_figure(fig, path))
    return 0


def _cmd_info(args) -> int:
    from .file_info import describe

    groups, result = _read_file(args.file)
    if groups is None:
        return result
    datasets = result if groups else {"": result}
    root = {}
    if groups:
        import netCDF4

        with netCDF4.Dataset(args.file) as nc:
            root = {k: nc.getncattr(k) for k in nc.ncattrs()}
    if args.study:
        text = root.get("study_toml") or next(iter(datasets.values())).attrs.get("study_toml")
        if not text:
            return _error(f"{args.file} was not written from a study file (no attribute study_toml)")
        print(text.rstrip("\n"))
        return 0
    print(describe(args.file, datasets, root))
    return 0


def _cmd_list(args) -> int:
    from .landscapes import LANDSCAPES
    from .optimizers import OPTIMIZERS

    print("optimizers (hyperparameter defaults):")
    rows = [[name, ", ".join(f"{k}={attr_str(v)}" for k, v in opt.defaults().items())] for name, opt in OPTIMIZERS.items()]
    print("\n".join("  " + line for line in format_table(["name", "defaults"], rows).splitlines()))
    print()
    print("landscapes:")
    rows = []
    for name, land in LANDSCAPES.items():
        params = ", ".join(f"{k}={attr_str(np.asarray(v)) if np.ndim(v) else attr_str(v)}" for k, v in land.params.items())
        rows.append([name, land.dim, land.formula, params or "-"])
    print("\n".join("  " + line for line in format_table(["name", "dim", "formula", "params"], rows).splitlines()))
    return 0


def build_parser() -> argparse.ArgumentParser:
    from ._version import __version__

    parser = argparse.ArgumentParser(prog="simdyn", description="Simulate optimizer dynamics as discrete dynamical systems.")
    parser.add_argument("--version", action="version", version=f"simdyn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    run = sub.add_parser("run", help="run a TOML study (default: the built-in study) and write netCDF",
                         description="Run a TOML study and write its results to netCDF (atomically).")
    run.add_argument("study", nargs="?", help="study file (default: the built-in study, simdyn/data/default.toml)")
    run.add_argument("-o", "--output", help="output netCDF path (default: the study's [output] path, else <name>.nc)")
    run.add_argument("--steps", type=int, help="override the study's number of steps (quick runs)")
    run.add_argument("--target", choices=("cpu", "cuda", "auto"), help="override the study's target")
    run.add_argument("--chunk-size", dest="chunk_size", type=int,
                     help="trajectories per chunk (overrides [execution] chunk_size); finished chunks are kept, "
                          "so an interrupted run resumes where it stopped")
    run.add_argument("--scheduler", help='dask scheduler: "local" (a LocalCluster) or an address tcp://host:port')
    run.add_argument("--workers", dest="n_workers", type=int, help="worker processes of a local cluster")
    run.add_argument("--dry-run", action="store_true", help="print the plan (batch, chunks, memory, output) and exit")
    run.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    run.add_argument("--no-figure", dest="no_figure", action="store_true",
                     help="do not write the summary figure (OUT.png: the status of every group)")
    run.set_defaults(func=_cmd_run)

    info = sub.add_parser("info", help="describe a result file", description="Describe what a simdyn netCDF file holds.")
    info.add_argument("file", help="a netCDF file written by `simdyn run` or ds.simdyn.save")
    info.add_argument("--study", action="store_true", help="print the study file the results were run from")
    info.set_defaults(func=_cmd_info)

    plot = sub.add_parser("plot", help="draw the standard figures of a result file (PNG)",
                          description="Draw the standard figures of a simdyn netCDF file as PNG files named "
                                      "<stem>[_<group>]_<figure>.png: status map (or status fractions), period map "
                                      "or orbit diagram, basins and survival curves, whichever its variables allow; "
                                      "one set per group of a study file.")
    plot.add_argument("file", help="a netCDF file written by `simdyn run` or ds.simdyn.save")
    plot.add_argument("-o", "--output-dir", dest="output_dir", help="folder of the PNG files (default: the file's folder)")
    plot.set_defaults(func=_cmd_plot)

    lst = sub.add_parser("list", help="registered optimizers and landscapes", description="List registered optimizers and landscapes.")
    lst.set_defaults(func=_cmd_list)
    return parser


def main(argv=None) -> int:
    """Entry point of the ``simdyn`` console script; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, usage errors (2)
        return exc.code if isinstance(exc.code, int) else 0
    if args.command in ("run", "plot"):
        _use_file_backend()
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return _error("interrupted", 130)
    except BrokenPipeError:  # `simdyn info out.nc | head`: the reader left, nothing to report
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
