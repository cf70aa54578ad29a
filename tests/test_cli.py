"""Tests of the ``simdyn`` command and TOML studies (simdyn/cli.py, simdyn/study.py).

Run: python -m pytest tests/test_cli.py -p no:cacheprovider -q -o addopts=""
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

import netCDF4
import numpy as np
import pytest
import xarray as xr

import simdyn as sd
from simdyn.cli import main
from simdyn.study import DEFAULT_STUDY, load_results, load_study, run_study

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "data").glob("*.toml"))

BASE = """\
optimizer = "adam"
landscape = "valley"
steps = 10
{top}
[x0]
points = [[0.5, 0.5], [-0.25, 1.0]]
{tables}
"""


def study_text(top: str = "", tables: str = "") -> str:
    return BASE.format(top=top, tables=tables)


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    """The built-in study, shortened to 50 steps, run once through ``simdyn run``."""
    path = tmp_path_factory.mktemp("default") / "default.nc"
    out = io.StringIO()  # capsys is function-scoped: capture by hand
    with contextlib.redirect_stdout(out):
        code = main(["run", "-o", str(path), "--steps", "50", "--quiet"])
    return code, out.getvalue(), path


# -- simdyn run -------------------------------------------------------------------------------------


def test_default_study_writes_one_group_per_landscape(default_run):
    code, out, path = default_run
    assert code == 0
    with netCDF4.Dataset(path) as nc:
        assert list(nc.groups) == ["valley", "sharp_valley", "saddle"]
        assert nc.getncattr("study_name") == "simdyn_default"
    saddle = xr.open_dataset(path, group="saddle")
    with saddle:
        assert list(saddle["optimizer"].values) == ["sgd", "rmsprop", "adam"]
        assert saddle.sizes["x0"] == saddle.sizes["y0"] == 32
        assert float(saddle["x0"].max()) == pytest.approx(0.1)
        assert saddle.attrs["steps"] == 50
        assert saddle.attrs["study_overrides"] == "steps=50"
        assert "[[runs]]" in saddle.attrs["study_toml"]
    assert not [p for p in os.listdir(path.parent) if p.endswith(".part")]
    assert sd.load(path, group="valley").attrs["landscape"] == "valley"


def test_default_study_summary_has_nine_aligned_rows(default_run):
    code, out, path = default_run
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("landscape"))
    rows = lines[header + 2: header + 11]
    assert len(rows) == 9
    assert [r.split()[:2] for r in rows[:3]] == [["valley", "sgd"], ["valley", "rmsprop"], ["valley", "adam"]]
    assert {r.split()[0] for r in rows} == {"valley", "sharp_valley", "saddle"}
    for r in rows:  # counts add up to the 32 x 32 grid; the saddle has no minimum
        counts = [int(c) for c in r.split()[2:6]]
        assert sum(counts) == 1024
        landscape, optimizer, *_, distance = r.split()
        if landscape == "saddle":
            assert distance == "-"
            continue
        # Oracle: the only minimum of x² + a·y² and of |x| + a·|y| is the origin, so the median
        # distance to it is the median of ‖w_T‖₂ over the file's final points.
        with xr.open_dataset(path, group=landscape) as ds:
            w = ds["w"].sel(optimizer=optimizer).values.reshape(-1, 2)
        assert float(distance) == pytest.approx(np.median(np.hypot(w[:, 0], w[:, 1])), rel=1e-3)
    assert len({len(line) for line in lines[header: header + 2]}) == 1  # header and rule aligned
    assert str(path) in lines[header + 11] and lines[header + 11].endswith(" s")


def test_default_study_file_is_the_packaged_toml():
    study = load_study(DEFAULT_STUDY)
    assert [r.name for r in study.groups] == ["valley", "sharp_valley", "saddle"]
    assert study.optimizers == ["sgd", "rmsprop", "adam"] and study.steps == 3000
    assert study.hyper == {"lr": 1e-3}
    assert study.groups[2].x0 == ("grid", {"x": (-0.1, 0.1, 32), "y": (-0.1, 0.1, 32)})
    assert study.groups[1].params == {"a": 1e-4}


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_example_studies_run(example, tmp_path, capsys):
    out_path = tmp_path / f"{example.stem}.nc"
    code, out, err = run_cli(capsys, "run", str(example), "-o", str(out_path), "--steps", "20", "-q")
    assert code == 0, err
    study = load_study(example)
    ds = sd.load(out_path)
    assert ds.attrs["study_name"] == study.name
    assert ds.attrs["steps"] == 20
    n = int(np.prod([ds.sizes[d] for d in ds["status"].dims]))
    counts = ds.simdyn.status_counts()
    total = sum(sum(c.values()) for c in counts.values()) if "optimizer" in ds.dims else sum(counts.values())
    assert total == n
    assert study.groups[0].landscape in out
    code, out, err = run_cli(capsys, "info", str(out_path))
    assert code == 0 and f"study: {study.name}" in out
    if study.noise is not None:
        assert f"noise: gaussian (sigma={study.noise['sigma']:g}, seed={study.noise['seed']})" in out


def test_example_lr_sweep_has_its_sweep_dims():
    study = load_study(ROOT / "data" / "adam_valley_lr_sweep.toml")
    assert len(study.hyper["lr"]) == 5 and len(study.hyper["beta1"]) == 3
    assert study.groups[0].x0 == ("grid", {"x": (-1.0, 1.0, 16), "y": (-1.0, 1.0, 16)})
    assert (study.steps, study.record_every) == (2000, 100)
    noise = load_study(ROOT / "data" / "saddle_noise.toml")
    assert noise.noise == {"sigma": 1e-3, "seed": 7} and noise.groups[0].x0[1]["n"] == 2000


# -- simdyn info / list ------------------------------------------------------------------------------


def test_info_prints_groups_dims_attrs_and_status(default_run, capsys):
    code, out, err = run_cli(capsys, "info", str(default_run[2]))
    assert code == 0
    assert "groups: valley, sharp_valley, saddle" in out
    assert "x0=32 in [-1, 1] evenly spaced, y0=32 in [-1, 1] evenly spaced, coord=2 (x, y)" in out
    assert "adam: lr=0.001, beta1=0.9, beta2=0.999, eps=1e-08" in out
    assert "rmsprop: lr=0.001, alpha=0.99" in out
    assert "landscape: sharp_valley" in out and "|x| + a*|y|" in out and "a=0.0001" in out
    assert "steps: 50" in out and "dtype: float64" in out and "target: cpu" in out
    assert "noise: none" in out and "created:" in out and f"simdyn version: {sd.__version__}" in out
    assert "status counts:" in out and "final point w_T" in out


def test_info_says_what_the_groups_share_once(default_run, capsys):
    """Oracle: the built-in study file (3 groups, the saddle's grid is [-0.1, 0.1]²)."""
    code, out, err = run_cli(capsys, "info", str(default_run[2]))
    assert code == 0
    assert out.count("shared by all 3 groups:") == 1
    for once in ("adam: lr=0.001", "steps: 50", "inputs hash:", "created:", "final point w_T"):
        assert out.count(once) == 1, once
    assert out.count("status counts:") == 3 and out.count("landscape: ") == 3
    assert "x0=32 in [-0.1, 0.1] evenly spaced" in out
    assert "3 chunk(s), each optimizer's batch whole" in out and "whole batch" not in out
    assert len(out.splitlines()) < 60
    code, text, err = run_cli(capsys, "info", str(default_run[2]), "--study")
    assert code == 0 and text == DEFAULT_STUDY.read_text().rstrip("\n") + "\n"


def test_info_of_a_single_dataset_file(tmp_path, capsys):
    ds = sd.simulate("sgd", "valley", [[0.5, 0.5]], 5, progress=False)  # kernel shared with the default study
    path = ds.simdyn.save(tmp_path / "one.nc")
    code, out, err = run_cli(capsys, "info", str(path))
    assert code == 0
    assert "dims: traj=1, coord=2 (x, y)" in out and "sgd: lr=0.001" in out and "study:" not in out
    code, out, err = run_cli(capsys, "info", str(path), "--study")
    assert code == 2 and "not written from a study file" in err


def test_list_shows_optimizers_and_landscapes(capsys):
    code, out, err = run_cli(capsys, "list")
    assert code == 0
    for name in sd.OPTIMIZERS:
        assert f"\n  {name} " in out
    assert "beta1=0.9" in out and "x^2 + a*y^2" in out


# -- bad input: exit 2, the message names the key -----------------------------------------------------


@pytest.mark.parametrize(
    "text, words",
    [
        (study_text(top="colour = 3"), ["'colour'", "top level", "steps", "optimizers"]),
        (study_text(tables="[x0.ball]\ncenter = [0, 0]\nradius = 1\nn = 4\nspin = 2").replace("points = [[0.5, 0.5], [-0.25, 1.0]]\n", ""), ["'spin'", "x0.ball", "radius"]),
        (study_text(tables="[hyper]\nlr = {schedule = \"cosine\", lr = 0.1, tmax = 5}"), ["'tmax'", "hyper.lr", "t_max"]),
        (study_text(tables="[hyper]\nbeta3 = 0.5"), ["'beta3'", "[hyper]", "beta1"]),
        (study_text(tables="[params]\nb = 1"), ["'b'", "[params]", "allowed keys: a"]),
        (study_text(tables="[noise]\nsigma = 1\nspeed = 2"), ["'speed'", "[noise]", "sigma"]),
        (study_text(tables="[output]\nfile = \"x.nc\""), ["'file'", "[output]", "path"]),
        (study_text(tables="[[runs]]\nlandscape = \"saddle\"\ncolor = 1"), ["'color'", "runs[0]", "landscape"]),
        (study_text(tables="[x0.grid]\nx = [0, 1, 3]\nq = [0, 1, 3]").replace("points = [[0.5, 0.5], [-0.25, 1.0]]\n", ""), ["'q'", "x0.grid"]),
    ],
    ids=["top", "ball", "schedule", "hyper", "params", "noise", "output", "runs", "grid"],
)
def test_unknown_key_exits_2_naming_the_key(tmp_path, capsys, text, words):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    code, out, err = run_cli(capsys, "run", str(path), "-o", str(tmp_path / "bad.nc"), "-q")
    assert code == 2
    assert err.startswith("simdyn: error: unknown key") and "Traceback" not in err
    for word in words:
        assert word in err
    assert not (tmp_path / "bad.nc").exists()


@pytest.mark.parametrize(
    "text, message",
    [
        (study_text().replace("steps = 10", 'steps = "ten"'), "steps: expected an integer"),
        (study_text(top="record_every = 2.5"), "record_every: expected an integer"),
        (study_text(tables="[hyper]\nbeta1 = \"high\""), "hyper.beta1: expected a number"),
        (study_text(tables="[hyper]\nbias_correction = 1"), "hyper.bias_correction: a flag"),
        (study_text(tables="[noise]\nsigma = \"big\""), "noise.sigma: expected a number"),
        (study_text().replace("[[0.5, 0.5], [-0.25, 1.0]]", '"origin"'), "x0.points: expected"),
        (study_text(top='dtype = "float16"'), "dtype: must be one of"),
        (study_text(tables="[hyper]\nbeta1 = 1.5"), "beta1"),
        (study_text().replace('"valley"', '"valleyy"'), "known landscapes"),
        (study_text().replace('optimizer = "adam"', ""), "optimizers: required"),
        ("steps = [", "invalid TOML"),
    ],
    ids=["steps", "record_every", "hyper", "flag", "noise", "points", "dtype", "range", "landscape", "missing", "syntax"],
)
def test_bad_value_exits_2_naming_the_key(tmp_path, capsys, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    code, out, err = run_cli(capsys, "run", str(path), "-o", str(tmp_path / "bad.nc"))
    assert code == 2
    assert err.startswith("simdyn: error: ") and message in err and "Traceback" not in err


def test_missing_files_exit_2(tmp_path, capsys):
    code, out, err = run_cli(capsys, "run", str(tmp_path / "absent.toml"))
    assert code == 2 and "not found" in err
    code, out, err = run_cli(capsys, "info", str(tmp_path / "absent.nc"))
    assert code == 2 and "absent.nc" in err
    code, out, err = run_cli(capsys, "run", "--steps", "0")
    assert code == 2 and "steps" in err


def test_load_study_errors_are_value_and_type_errors():
    with pytest.raises(ValueError, match=r"unknown key 'spin' in \[x0.ball\]; allowed keys: center, n, radius, seed"):
        load_study(study_text().replace("points = [[0.5, 0.5], [-0.25, 1.0]]", "ball = {center = [0, 0], radius = 1, n = 3, spin = 1}"))
    with pytest.raises(TypeError, match="steps: expected an integer"):
        load_study(study_text().replace("steps = 10", "steps = 1.5"))


# -- the study API ------------------------------------------------------------------------------------


def test_lr_schedule_table_becomes_an_sd_schedule():
    study = load_study(study_text(tables='[hyper]\nlr = {schedule = "step", lr = [0.1, 0.2], step_size = 10}\n'))
    lr = study.simulate_kwargs(study.groups[0])["hyper"]["lr"]
    assert isinstance(lr, sd.schedule.Schedule) and lr.kind == "step"
    np.testing.assert_array_equal(lr.params["lr"], [0.1, 0.2])
    assert lr.params["step_size"] == 10 and lr.params["gamma"] == 0.1  # StepLR's default gamma


def test_run_study_from_text_matches_simulate():
    text = study_text(
        top='name = "tiny"\noptimizers = ["sgd", "adam"]',
        tables="[hyper]\nlr = [0.1, 0.2]\n",
    ).replace('optimizer = "adam"\n', "")
    text = text.replace("points = [[0.5, 0.5], [-0.25, 1.0]]", "ball = {center = [1, 1], radius = 0.1, n = 5, seed = 2}")
    study = load_study(text)
    ds = run_study(study, progress=False)
    assert isinstance(ds, xr.Dataset)
    assert dict(ds["status"].sizes) == {"optimizer": 2, "lr": 2, "traj": 5}
    assert ds.attrs["study_name"] == "tiny" and ds.attrs["study_toml"] == text
    expected = sd.simulate("sgd", "valley", sd.ball([1, 1], 0.1, 5, seed=2), 10, hyper={"lr": np.array([0.1, 0.2])}, progress=False)
    np.testing.assert_array_equal(ds["w"].sel(optimizer="sgd").values, expected["w"].values)


def test_grouped_results_round_trip(tmp_path):
    text = study_text(tables='[[runs]]\nlandscape = "valley"\n[[runs]]\nname = "steep"\nlandscape = "valley"\nparams = {a = [1.0, 2.0]}\n')
    study = load_study(text)
    result = run_study(study, progress=False)
    assert list(result) == ["valley", "steep"]
    from simdyn.study import save_results

    path = save_results(result, tmp_path / "groups.nc")
    mask = os.umask(0o022)
    os.umask(mask)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~mask  # not mkstemp's private 0600
    back = load_results(path)
    assert list(back) == ["valley", "steep"] and back["steep"].sizes["a"] == 2
    xr.testing.assert_identical(load_results(path, group="steep")["w"], result["steep"]["w"])


# -- entry points ----------------------------------------------------------------------------------


@pytest.mark.parametrize("module", ["simdyn.cli", "simdyn"])
def test_python_dash_m_help(module):
    proc = subprocess.run([sys.executable, "-m", module, "run", "--help"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "--steps" in proc.stdout and "--target" in proc.stdout and "-o" in proc.stdout


# -- figures: simdyn run's summary, simdyn plot ---------------------------------------------------------

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_run_writes_a_summary_figure_next_to_its_file(default_run):
    code, out, path = default_run
    figure = path.with_suffix(".png")
    assert code == 0 and figure.read_bytes()[:8] == PNG_MAGIC
    assert out.splitlines()[-1] == f"wrote its summary figure {figure}"


def test_plot_draws_the_status_of_every_group(default_run, tmp_path, capsys):
    code, out, err = run_cli(capsys, "plot", str(default_run[2]), "-o", str(tmp_path))
    assert code == 0, err
    names = sorted(p.name for p in tmp_path.glob("*.png"))
    assert names == sorted(f"default_{group}_status.png" for group in ("valley", "sharp_valley", "saddle"))
    assert all((tmp_path / n).read_bytes()[:8] == PNG_MAGIC for n in names)


def test_plot_draws_the_figures_the_variables_allow(tmp_path, capsys):
    """Oracle: the figure list of simdyn.plot.standard's docstring, variable by variable."""
    x0 = sd.grid(x=(-0.5, 0.5, 4), y=(-0.5, 0.5, 3))
    scan = sd.period_scan("adam", "valley", np.array([[0.01, 0.01]]), steps=300, max_period=8,
                          hyper={"lr": [1e-3, 1e-2, 1e-1], "beta1": [0.0, 0.9]}, progress=False)
    exits = sd.simulate(["sgd", "adam"], "saddle", x0, 200, observers=[sd.observe.Exit((0.0, 0.0), 0.4)], progress=False)
    orbit = sd.period_scan("adam", "valley", np.array([[0.01, 0.01]]), steps=300, max_period=8,
                           hyper={"lr": [1e-3, 1e-2, 1e-1], "beta1": 0.0}, progress=False)
    basins = sd.basins("sgd", "double_well", sd.grid(x=(-1.5, 1.5, 8), y=(-1.0, 1.0, 6)), 200, hyper={"lr": 0.05},
                       progress=False)
    expected = {"scan": ["period", "status"], "exits": ["status", "survival_exit_step"], "orbit": ["period", "status"],
                "basins": ["basins"]}
    for name, ds in {"scan": scan, "exits": exits, "orbit": orbit, "basins": basins}.items():
        path = ds.simdyn.save(tmp_path / f"{name}.nc")
        code, out, err = run_cli(capsys, "plot", str(path))
        assert code == 0, err
        assert sorted(p.name for p in tmp_path.glob(f"{name}_*.png")) == [f"{name}_{f}.png" for f in expected[name]]


def test_plot_of_a_missing_file_is_a_clear_error(tmp_path, capsys):
    code, out, err = run_cli(capsys, "plot", str(tmp_path / "absent.nc"))
    assert code == 2 and "absent.nc" in err
