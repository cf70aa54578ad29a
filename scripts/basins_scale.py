"""A 4096² basin map of Adam on the double well (16.8 M initial points, 10⁴ steps) in bounded memory.

``sd.basins`` runs the grid block by block (``chunk_size`` trajectories at a time, default about
256 MiB of buffers per block) and keeps only one int32 per initial point between blocks, so the
peak memory is the grid itself (16 B per point), the labels (4 B) and one block.

Prints the wall time, trajectory-steps per second and the peak resident memory of this process
(``resource.getrusage``: ru_maxrss), and writes in ``--out``:
``basins_scale.nc`` (labels, attractors, fractions; the boundary mask is dropped to keep the file
small) and ``basins_scale.png`` (the basin image, downsampled for display by matplotlib).

Usage: ``python scripts/basins_scale.py [--out out/] [--quick] [--n 4096] [--steps 10000] [--lr 0.01]``
(``--quick``: a 512² grid and 2000 steps). Time it from the shell with ``/usr/bin/time -v`` to
see the same peak as "Maximum resident set size".
"""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import simdyn as sd  # noqa: E402
from _cli import add_out, script_parser  # noqa: E402


def main(argv=None) -> int:
    parser = script_parser(__doc__)
    add_out(parser)
    parser.add_argument("--quick", action="store_true", help="a 512² grid and 2000 steps")
    parser.add_argument("--n", type=int, default=4096, help="grid points per axis (default 4096)")
    parser.add_argument("--steps", type=int, default=10_000, help="steps (default 10⁴)")
    parser.add_argument("--lr", type=float, default=0.01, help="Adam's learning rate (default 0.01)")
    parser.add_argument("--chunk-size", type=int, default=None, help="trajectories per block (default: ~256 MiB)")
    args = parser.parse_args(argv)
    n, steps = (512, 2000) if args.quick else (args.n, args.steps)
    args.out.mkdir(parents=True, exist_ok=True)

    begin = time.perf_counter()
    grid = sd.grid(x=(-2.0, 2.0, n), y=(-2.0, 2.0, n))
    ds = sd.basins("adam", "double_well", grid, steps, hyper={"lr": args.lr}, chunk_size=args.chunk_size)
    elapsed = time.perf_counter() - begin
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    ue = sd.uncertainty_exponent(ds)
    be = sd.basin_entropy(ds)

    print(f"adam on double_well, lr={args.lr:g}: {n}x{n} = {n * n:,} initial points x {steps} steps")
    print(f"  wall time {elapsed:.1f} s ({n * n * steps / elapsed:.3g} trajectory-steps/s), "
          f"kernel time {ds.attrs['elapsed_seconds']:.1f} s")
    print(f"  peak resident memory {peak / 2**30:.2f} GiB")
    for a in ds.attractor_id.values:
        print(f"  attractor {a}: {ds.attractor_kind.values[a]} p={int(ds.attractor_period[a])} "
              f"{ds.attractor_name.values[a] or '-'} at {ds.attractor_location.values[a].round(4)}: "
              f"{float(ds.basin_fraction[a]):.5f} ± {float(ds.basin_fraction_stderr[a]):.1e}")
    print(f"  diverged {float(ds.diverged_fraction):.5f}, unresolved {float(ds.unresolved_fraction):.5f}")
    print(f"  uncertainty exponent alpha = {float(ue.alpha):.3f} (boundary dimension {float(ue.boundary_dimension):.3f}),"
          f" S_b = {float(be.basin_entropy):.4f}, S_bb = {float(be.boundary_basin_entropy):.4f}")

    ds.attrs.update({"wall_seconds": elapsed, "peak_rss_bytes": peak, "alpha": float(ue.alpha)})
    ds.drop_vars("boundary").simdyn.save(args.out / "basins_scale.nc")
    import matplotlib

    matplotlib.use("Agg")
    fig = sd.plot.basins(ds, panel_size=6.0)
    fig.savefig(args.out / "basins_scale.png", dpi=110)
    print(f"wrote {args.out / 'basins_scale.nc'} and basins_scale.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
