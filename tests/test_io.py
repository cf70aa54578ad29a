"""Datasets on disk and their conventions (DESIGN.md §2, §4): netCDF round trip, dims/coords/
attrs of ``sd.simulate``'s Dataset, atomic writes, ``sd.load`` reading into memory.

Run: python -m pytest tests/test_io.py -p no:cacheprovider -q -o addopts=""
"""

from __future__ import annotations

import datetime
import json
import os

import numpy as np
import pytest
import xarray as xr

import simdyn as sd

STEPS = 20
LR = [0.01, 0.1]
GRID = dict(x=(-1.0, 1.0, 3), y=(-1.0, 1.0, 4))
NOISE = dict(sigma=0.1, seed=7)


@pytest.fixture(scope="module")
def study() -> xr.Dataset:
    """Two optimizers (dim ``optimizer``), a swept lr, a grid of ICs, a recording and noise."""
    return sd.simulate(
        ["sgd", "adam"], "valley", x0=sd.grid(**GRID), steps=STEPS, hyper={"lr": LR},
        record_every=5, noise=sd.noise.Gaussian(**NOISE),
    )


def _grad5(w, p, t):
    c = p[0]
    return (2.0 * c * w[0], 2.0 * c * w[1], 2.0 * c * w[2], 2.0 * c * w[3], 2.0 * c * w[4])


def _loss5(w, p, t):
    return p[0] * (w[0] * w[0] + w[1] * w[1] + w[2] * w[2] + w[3] * w[3] + w[4] * w[4])


BOWL5 = sd.Landscape("bowl5", dim=5, grad=_grad5, loss=_loss5, params={"c": 1.0}, formula="c * |w|^2")
X0_5 = np.arange(15, dtype=float).reshape(3, 5) / 15.0 - 0.4


@pytest.fixture(scope="module")
def study5() -> xr.Dataset:
    """A d = 5 user landscape, a swept hyperparameter and a swept landscape parameter."""
    return sd.simulate("adam", BOWL5, x0=X0_5, steps=STEPS, hyper={"beta1": [0.8, 0.9], "lr": 0.01},
                       params={"c": [1.0, 2.0]})


def _leftovers(folder) -> list[str]:
    return sorted(name for name in os.listdir(folder) if name.startswith(".simdyn-") or name.endswith(".part"))


# ---------------------------------------------------------------------------------------------
# round trip
# ---------------------------------------------------------------------------------------------


def test_netcdf_round_trip_is_identical(study, tmp_path):
    path = tmp_path / "study.nc"
    assert study.simdyn.save(path) == os.fspath(path)
    back = sd.load(path)
    xr.testing.assert_identical(back, study)
    # value by value too (assert_identical compares attrs loosely, e.g. 0.999 vs np.float64(0.999))
    assert list(back.attrs) == list(study.attrs)
    for key, value in study.attrs.items():
        np.testing.assert_array_equal(np.asarray(back.attrs[key]), np.asarray(value), err_msg=key)
    for name, var in study.variables.items():
        assert back[name].dtype == var.dtype, name
        assert back[name].dims == var.dims, name
        assert list(back[name].attrs) == list(var.attrs), name
        for key, value in var.attrs.items():
            np.testing.assert_array_equal(np.asarray(back[name].attrs[key]), np.asarray(value), err_msg=f"{name}.{key}")
    assert back["status"].attrs["flag_values"].dtype == np.uint8  # CF: same type as the variable
    assert _leftovers(tmp_path) == []


def test_round_trip_of_a_user_landscape_study(study5, tmp_path):
    path = study5.simdyn.save(tmp_path / "sub" / "bowl5.nc")  # missing folders are created
    xr.testing.assert_identical(sd.load(path), study5)


# ---------------------------------------------------------------------------------------------
# conventions
# ---------------------------------------------------------------------------------------------


def test_dims_and_coords(study):
    batch = ("optimizer", "lr", "x0", "y0")
    assert study["w"].dims == batch + ("coord",)
    assert study["loss"].dims == batch
    assert study["status"].dims == batch
    assert study["stop_step"].dims == batch
    assert study["trajectory"].dims == batch + ("step", "coord")
    assert study["w0"].dims == ("x0", "y0", "coord")
    assert "x0" not in study.data_vars  # the initial point is w0; x0 names the grid dim
    assert list(study["optimizer"].values) == ["sgd", "adam"]
    np.testing.assert_array_equal(study["lr"].values, LR)
    np.testing.assert_array_equal(study["x0"].values, np.linspace(-1, 1, 3))
    np.testing.assert_array_equal(study["y0"].values, np.linspace(-1, 1, 4))
    assert list(study["coord"].values) == ["x", "y"]
    np.testing.assert_array_equal(study["step"].values, np.arange(0, STEPS + 1, 5))
    assert study.sizes == {"optimizer": 2, "lr": 2, "x0": 3, "y0": 4, "coord": 2, "step": 5}
    # w0 is the grid, the first record is w0, the last record is w
    xx, yy = np.meshgrid(study["x0"].values, study["y0"].values, indexing="ij")
    np.testing.assert_array_equal(study["w0"].values, np.stack([xx, yy], axis=-1))
    traj = study["trajectory"]
    xr.testing.assert_equal(traj.isel(step=0, drop=True), study["w0"].broadcast_like(traj.isel(step=0, drop=True)))
    xr.testing.assert_equal(traj.isel(step=-1, drop=True), study["w"])


def test_dims_order_with_hyper_and_param_sweeps_in_5d(study5):
    assert study5["w"].dims == ("beta1", "c", "traj", "coord")
    assert study5["loss"].dims == ("beta1", "c", "traj")
    assert study5["w0"].dims == ("traj", "coord")
    assert list(study5["coord"].values) == ["w1", "w2", "w3", "w4", "w5"]
    np.testing.assert_array_equal(study5["traj"].values, np.arange(3))
    np.testing.assert_array_equal(study5["beta1"].values, [0.8, 0.9])
    np.testing.assert_array_equal(study5["c"].values, [1.0, 2.0])
    np.testing.assert_array_equal(study5["w0"].values, X0_5)
    # the final loss is the landscape's loss at the final point, with each trajectory's own c
    w = study5["w"]
    expected = study5["c"] * (w ** 2).sum("coord")
    np.testing.assert_allclose(study5["loss"].values, expected.transpose(*study5["loss"].dims).values, rtol=1e-12)


def test_status_flags(study):
    attrs = study["status"].attrs
    np.testing.assert_array_equal(attrs["flag_values"], np.arange(5))
    assert attrs["flag_meanings"] == "converged periodic bounded diverged nonfinite"
    assert study["status"].dtype == np.uint8
    assert set(np.unique(study["status"].values)) <= set(range(5))


def test_attrs_describe_the_study(study):
    a = study.attrs
    assert a["simdyn_version"] == sd.__version__
    assert a["optimizer"] == "sgd, adam"
    assert a["landscape"] == "valley"
    assert a["landscape_formula"]
    assert a["landscape_dim"] == 2
    assert a["param_a"] == 1e-3  # default landscape parameter recorded
    assert a["steps"] == STEPS
    assert a["dtype"] == "float64"
    assert a["target"] == "cpu"
    assert a["record_every"] == 5
    assert a["noise"] == "gaussian"
    assert a["noise_sigma"] == NOISE["sigma"]
    assert a["noise_seed"] == NOISE["seed"]
    assert a["initial_set"] == "grid"
    created = datetime.datetime.fromisoformat(a["created"])
    assert created.tzinfo is not None
    assert abs((datetime.datetime.now(datetime.timezone.utc) - created).total_seconds()) < 3600

    # every hyperparameter of each optimizer, defaults included; flags as 0/1
    for name in ("sgd", "adam"):
        opt = sd.OPTIMIZERS[name]
        for hyper in opt.hypers:
            assert f"hyper_{name}_{hyper}" in a, hyper
        for flag in opt.flags:
            assert a[f"hyper_{name}_{flag}"] in (0, 1), flag
        np.testing.assert_array_equal(a[f"hyper_{name}_lr"], LR)
        assert a[f"hyper_{name}_lr_schedule"] == "constant"
    assert a["hyper_adam_beta1"] == 0.9
    assert a["hyper_adam_beta2"] == 0.999
    assert a["hyper_adam_eps"] == 1e-8
    assert a["hyper_adam_weight_decay"] == 0.0
    assert a["hyper_adam_bias_correction"] == 1
    assert a["hyper_adam_eps_inside_sqrt"] == 0
    assert not any(key.startswith("hyper_sgd_beta") for key in a)


def test_flags_and_user_landscape_attrs(study5):
    a = study5.attrs
    assert a["landscape"] == "bowl5"
    assert a["landscape_formula"] == "c * |w|^2"
    assert a["landscape_dim"] == 5
    np.testing.assert_array_equal(a["param_c"], [1.0, 2.0])
    np.testing.assert_array_equal(a["hyper_adam_beta1"], [0.8, 0.9])
    assert a["hyper_adam_lr"] == 0.01
    assert a["noise"] == "none"


def test_simdyn_call_is_json_describing_the_call(study):
    call = json.loads(study.attrs["simdyn_call"])
    assert call["optimizer"] == ["sgd", "adam"]
    assert call["landscape"] == "valley"
    assert call["steps"] == STEPS
    assert call["record_every"] == 5
    assert call["dtype"] == "float64"
    assert call["target"] == "cpu"
    assert call["noise"] == NOISE
    assert call["params"] == {"a": 1e-3}
    assert call["hyper"]["sgd"]["lr_schedule"] == {"kind": "constant", "lr": LR}
    adam = call["hyper"]["adam"]
    assert adam["lr_schedule"] == {"kind": "constant", "lr": LR}
    assert adam["beta1"] == 0.9 and adam["beta2"] == 0.999 and adam["eps"] == 1e-8
    assert adam["bias_correction"] is True and adam["eps_inside_sqrt"] is False


def test_simdyn_call_of_a_single_optimizer(study5):
    call = json.loads(study5.attrs["simdyn_call"])
    assert call["optimizer"] == "adam"
    assert call["landscape"] == "bowl5"
    assert call["params"] == {"c": [1.0, 2.0]}
    assert call["hyper"]["adam"]["beta1"] == [0.8, 0.9]
    assert call["record_every"] is None and call["noise"] is None


# ---------------------------------------------------------------------------------------------
# atomic writes
# ---------------------------------------------------------------------------------------------


def _failing_to_netcdf(exc):
    def to_netcdf(self, path=None, *args, **kwargs):
        with open(path, "wb") as f:
            f.write(b"\x89HDF\r\n\x1a\n" + b"\0" * 512)  # a truncated file
        raise exc

    return to_netcdf


@pytest.mark.parametrize("exc", [OSError("disk full"), KeyboardInterrupt()], ids=["OSError", "KeyboardInterrupt"])
@pytest.mark.parametrize("existing", [False, True], ids=["new-path", "existing-file"])
def test_failed_write_leaves_nothing_behind(study, tmp_path, monkeypatch, exc, existing):
    path = tmp_path / "out.nc"
    if existing:
        path.write_bytes(b"previous contents")
    monkeypatch.setattr(xr.Dataset, "to_netcdf", _failing_to_netcdf(exc))
    with pytest.raises(type(exc)):
        study.simdyn.save(path)
    if existing:
        assert path.read_bytes() == b"previous contents"
    else:
        assert not path.exists()
    assert _leftovers(tmp_path) == []
    assert sorted(os.listdir(tmp_path)) == (["out.nc"] if existing else [])


@pytest.mark.parametrize("existing", [False, True], ids=["new-path", "existing-file"])
def test_unserialisable_attr_leaves_nothing_behind(study, tmp_path, existing):
    path = tmp_path / "out.nc"
    if existing:
        study.simdyn.save(path)
        before = path.read_bytes()
    bad = study.copy()
    bad.attrs["not_netcdf"] = {"a": 1}  # a dict is no netCDF attribute
    with pytest.raises((TypeError, ValueError)):
        sd.save(bad, path)
    if existing:
        assert path.read_bytes() == before
        xr.testing.assert_identical(sd.load(path), study)
    else:
        assert not path.exists()
    assert _leftovers(tmp_path) == []


def test_saved_file_mode_follows_umask(study, tmp_path):
    umask = os.umask(0o022)
    try:
        path = study.simdyn.save(tmp_path / "mode.nc")
    finally:
        os.umask(umask)
    assert os.stat(path).st_mode & 0o777 == 0o644


# ---------------------------------------------------------------------------------------------
# sd.load
# ---------------------------------------------------------------------------------------------


def _open_fds_to(path) -> list[str]:
    target = os.path.realpath(path)
    fd_dir = "/proc/self/fd"
    out = []
    for fd in os.listdir(fd_dir):
        try:
            if os.path.realpath(os.readlink(os.path.join(fd_dir, fd))) == target:
                out.append(fd)
        except OSError:
            pass
    return out


def test_load_reads_into_memory_and_closes_the_file(study, tmp_path):
    path = tmp_path / "study.nc"
    study.simdyn.save(path)
    back = sd.load(path)
    if os.path.isdir("/proc/self/fd"):
        assert _open_fds_to(path) == [], "sd.load left the file open"
    for name, var in back.data_vars.items():
        assert isinstance(var.variable._data, np.ndarray), f"{name} is not in memory"

    # overwrite the file with another study: the loaded dataset does not change
    other = study.isel(lr=0)
    other.simdyn.save(path)
    xr.testing.assert_identical(back, study)
    xr.testing.assert_identical(sd.load(path), other)

    # delete it: everything is still readable
    os.remove(path)
    np.testing.assert_array_equal(back["trajectory"].values, study["trajectory"].values)
    assert back.attrs["simdyn_call"] == study.attrs["simdyn_call"]
    assert _leftovers(tmp_path) == []


def test_load_of_a_file_with_groups_returns_every_group_as_a_tree(study, tmp_path):
    # A study with [[runs]] writes one group per run; sd.load used to return the empty root.
    # Oracle: the Datasets written, read back group by group with plain xarray.
    from simdyn.study import save_results

    parts = {"first": study.isel(lr=[0]), "second": study.isel(lr=[1])}
    path = save_results(parts, tmp_path / "groups.nc")
    tree = sd.load(path)
    assert _open_fds_to(path) == [], "sd.load left the file open"
    assert isinstance(tree, xr.DataTree)
    assert set(tree.children) == {"first", "second"}
    assert tree.attrs["groups"] == "first, second"
    for name, ds in parts.items():
        xr.testing.assert_identical(tree[name].to_dataset(), ds)
        with xr.open_dataset(path, group=name) as plain:
            xr.testing.assert_identical(plain.load(), ds)
    xr.testing.assert_identical(sd.load(path, group="second"), parts["second"])
    with pytest.raises(ValueError, match=r"group: 'third' is not in .*groups: first, second"):
        sd.load(path, group="third")
