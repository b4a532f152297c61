"""Model files: round trips, atomic writes, and every way a file can be bad."""
from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
import warnings
import zipfile

import numpy as np
import pytest

import glassnet
from glassnet import GlassnetError, Network
from glassnet import io as gio


def _trained(sizes=(4, 8, 3), seed=0, n=40, **kwargs) -> tuple[Network, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, sizes[0]))
    net = Network(list(sizes), seed=seed, **kwargs)
    if net.loss.name == "squared_error":
        y = X[:, :sizes[-1]] * 0.5
    elif sizes[-1] == 1:
        y = (X[:, 0] > 0).astype(int)
    else:
        y = rng.integers(0, sizes[-1], n)
    net.fit(X, y, epochs=3, batch_size=8)
    return net, X, y


def _rewrite(src, dst, replace: dict | None = None, drop=(), add: dict | None = None) -> None:
    """Copy the zip ``src`` to ``dst`` with members replaced, dropped or added."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            if item.filename in drop:
                continue
            data = (replace or {}).get(item.filename, zin.read(item.filename))
            zout.writestr(item.filename, data)
        for name, data in (add or {}).items():
            zout.writestr(name, data)


def _metadata(path) -> dict:
    with zipfile.ZipFile(path) as zf:
        return json.loads(zf.read("metadata.json"))


# --- round trips ---------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs", [
    dict(sizes=(4, 8, 3), activation="tanh"),
    dict(sizes=(4, 6, 5, 1), activation="relu"),                       # sigmoid + BCE
    dict(sizes=(4, 7, 2), activation="relu", output="identity", loss="squared_error"),
    dict(sizes=(4, 8, 3), activation=["leaky_relu"], dtype="float32"),
    dict(sizes=(4, 3), activation="tanh"),                             # no hidden layer
    dict(sizes=(4, 5, 5, 3), activation=["elu", "gelu"], init=["xavier", ("normal", {"std": 0.3}),
                                                               None]),
])
def test_round_trip_predicts_identically(tmp_path, kwargs):
    net, X, _ = _trained(**kwargs)
    path = tmp_path / "model.glassnet"
    net.save(path)
    back = glassnet.load(path)
    assert type(back) is Network
    assert back.layer_sizes == net.layer_sizes
    assert back.dtype == net.dtype
    assert [a.name for a in back.activations] == [a.name for a in net.activations]
    assert [a.params for a in back.activations] == [a.params for a in net.activations]
    assert back.loss.name == net.loss.name
    assert back.params.dtype == net.params.dtype
    assert np.array_equal(back.params, net.params)          # bit for bit
    assert np.array_equal(back.forward(X), net.forward(X))
    assert np.array_equal(back.predict(X), net.predict(X))


def test_training_continues_exactly_after_load(tmp_path):
    """The generator state travels with the model: more epochs give the same weights."""
    net, X, y = _trained((4, 8, 3), seed=5)
    net.save(tmp_path / "m.glassnet")
    back = glassnet.load(tmp_path / "m.glassnet")
    net.fit(X, y, epochs=2, batch_size=8)
    back.fit(X, y, epochs=2, batch_size=8)
    assert np.array_equal(back.params, net.params)
    assert back.seed == 5


def test_metadata_round_trip_and_numpy_values(tmp_path):
    net, X, _ = _trained()
    net.metadata = {"classes": np.array(["cat", "dog", "emu"], dtype=object),
                    "feature_names": ["a", "b", "c", "d"],
                    "scaling": {"mean": np.arange(4.0), "std": np.ones(4, np.float32)},
                    "flags": [True, False], "count": np.int64(7), "nested": {"x": [1, 2.5]}}
    net.save(tmp_path / "m.glassnet")
    meta = glassnet.load(tmp_path / "m.glassnet").metadata
    assert meta == {"classes": ["cat", "dog", "emu"], "feature_names": ["a", "b", "c", "d"],
                    "scaling": {"mean": [0.0, 1.0, 2.0, 3.0], "std": [1.0] * 4},
                    "flags": [True, False], "count": 7, "nested": {"x": [1, 2.5]}}
    # save(metadata=...) overrides the network's own, and leaves the network alone
    gio.save(net, tmp_path / "n.glassnet", metadata={"only": 1})
    assert glassnet.load(tmp_path / "n.glassnet").metadata == {"only": 1}
    assert "classes" in net.metadata


def test_metadata_that_json_cannot_hold_is_refused(tmp_path):
    net, _, _ = _trained()
    net.metadata = {"scaling": {"fn": object()}}
    with pytest.raises(GlassnetError, match=r"metadata\['scaling'\]\['fn'\].*object"):
        net.save(tmp_path / "m.glassnet")
    assert not (tmp_path / "m.glassnet").exists()
    net.metadata = {1: "x"}
    with pytest.raises(GlassnetError, match="keys must be strings"):
        net.save(tmp_path / "m.glassnet")


def test_init_specs_are_stored_and_rebuilt(tmp_path):
    def my_init(fan_in, fan_out, rng, dtype):
        return rng.normal(0, 0.1, (fan_in, fan_out))

    specs = [glassnet.initializers.get("he_normal", mode="fan_out"), my_init,
             ("constant", {"value": 0.25})]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", glassnet.SymmetryWarning)
        net = Network([3, 4, 4, 2], activation="relu", init=specs, seed=1)
    net.save(tmp_path / "m.glassnet")
    arch = _metadata(tmp_path / "m.glassnet")["network"]
    assert arch["init"][0]["name"] == "he_normal" and arch["init"][0]["mode"] == "fan_out"
    assert arch["init"][1] == {"custom": "my_init"}
    assert arch["init"][2] == {"name": "constant", "value": 0.25}
    back = glassnet.load(tmp_path / "m.glassnet")
    assert np.array_equal(back.params, net.params)
    # a custom callable cannot be stored: that layer falls back to the default init
    assert back.init[1] is None
    back.initialize()   # the stored specs are usable
    assert back.weights[2].min() == back.weights[2].max() == 0.25
    # glassnet info names each layer's scheme, the default one included
    layers = gio.describe(tmp_path / "m.glassnet")["layers"]
    assert layers[0]["init"].startswith("he_normal(mode=fan_out, ")
    assert [row["init"] for row in layers[1:]] == ["custom (my_init)", "constant(value=0.25)"]
    Network([3, 4, 2], activation="tanh", seed=0).save(tmp_path / "d.glassnet")
    assert [row["init"] for row in gio.describe(tmp_path / "d.glassnet")["layers"]] == \
        ["default (xavier_uniform)", "default (xavier_uniform)"]


def test_lsuv_pending_flag_survives(tmp_path):
    X = np.random.default_rng(0).normal(size=(64, 5))
    net = Network([5, 8, 8, 2], activation="tanh", init="lsuv", seed=0)
    net.save(tmp_path / "before.glassnet")
    assert glassnet.load(tmp_path / "before.glassnet")._needs_data_init
    net.fit(X, (X[:, 0] > 0).astype(int), epochs=1)
    net.save(tmp_path / "after.glassnet")
    assert not glassnet.load(tmp_path / "after.glassnet")._needs_data_init


def test_neuro_round_trip(tmp_path):
    X = np.random.default_rng(0).random((20, 2))
    y = X.sum(axis=1, keepdims=True) / 2
    net = glassnet.Neuro([2, 3, 1], 0.5, 1, seed=3, quiet=True)
    net.fit(X, y, 2, 4)
    net.save(tmp_path / "n.glassnet")
    back = glassnet.load(tmp_path / "n.glassnet")
    assert type(back) is glassnet.Neuro
    assert back.learning_rate == 0.5 and back.quiet
    assert np.array_equal(back.forward(X), net.forward(X))


def test_diverged_network_still_loads(tmp_path):
    net, X, _ = _trained()
    net.weights[0][0, 0] = np.nan
    net.save(tmp_path / "nan.glassnet")
    back = glassnet.load(tmp_path / "nan.glassnet")
    assert np.isnan(back.weights[0][0, 0])
    assert np.array_equal(np.isnan(back.params), np.isnan(net.params))


def test_plain_numpy_can_read_a_model_file(tmp_path):
    net, _, _ = _trained()
    net.save(tmp_path / "m.glassnet")
    with np.load(tmp_path / "m.glassnet", allow_pickle=False) as npz:
        assert set(npz.files) == {"metadata.json", "weights_0", "weights_1", "biases_0",
                                  "biases_1"}
        assert np.array_equal(npz["weights_1"], net.weights[1])
        meta = json.loads(npz["metadata.json"])
    assert meta["format"] == gio.FORMAT and meta["format_version"] == gio.FORMAT_VERSION
    assert meta["glassnet_version"] == glassnet.__version__
    assert meta["network"]["layer_sizes"] == [4, 8, 3]
    assert meta["arrays"]["weights_0"] == {"shape": [4, 8], "dtype": "float64"}


# --- atomic writes -----------------------------------------------------------------------------

def test_failed_save_leaves_previous_file_intact(tmp_path, monkeypatch):
    net, _, _ = _trained()
    path = tmp_path / "m.glassnet"
    net.save(path)
    before = path.read_bytes()

    def explode(zf, names, arrays):
        zf.writestr("weights_0.npy", b"half")
        raise OSError("disk full")

    monkeypatch.setattr(gio, "_write_arrays", explode)
    net.weights[0][...] = 0.0
    with pytest.raises(gio.WriteError, match="disk full"):
        net.save(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.glassnet"]   # no temp left


_SAVER = """
import sys, numpy as np, glassnet
path = sys.argv[1]
nets = [glassnet.Network([300, 300, 300, 10], seed=s) for s in (0, 1)]
print("ready", flush=True)
i = 0
while True:
    nets[i % 2].save(path)
    i += 1
"""


def test_save_killed_mid_write_never_leaves_a_broken_file(tmp_path):
    """A process killed (SIGKILL) at random moments while saving over and over: the file
    always loads, as one of the two models it was writing."""
    path = tmp_path / "m.glassnet"
    expected = [Network([300, 300, 300, 10], seed=s).params for s in (0, 1)]
    rng = np.random.default_rng(0)
    for _ in range(3):
        proc = subprocess.Popen([sys.executable, "-c", _SAVER, str(path)],
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 20
        while not path.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(float(rng.uniform(0.05, 0.3)))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        params = glassnet.load(path).params
        assert any(np.array_equal(params, e) for e in expected)
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "m.glassnet"]
    assert all(p.startswith(".m.glassnet.") and p.endswith(".tmp") for p in leftovers)


def test_atomic_write_keeps_permissions_and_refuses_missing_folder(tmp_path):
    path = tmp_path / "x.txt"
    path.write_text("old")
    os.chmod(path, 0o640)
    with gio.atomic_write(path, "w") as f:
        f.write("new")
    assert path.read_text() == "new"
    assert (path.stat().st_mode & 0o777) == 0o640
    with pytest.raises(GlassnetError, match="does not exist"):
        with gio.atomic_write(tmp_path / "nope" / "x.txt", "w") as f:
            f.write("x")


# --- bad files ---------------------------------------------------------------------------------

@pytest.fixture
def saved(tmp_path):
    net, X, _ = _trained((4, 8, 3))
    path = tmp_path / "good.glassnet"
    net.save(path)
    return path


def _load_error(path) -> str:
    with pytest.raises(GlassnetError) as info:
        glassnet.load(path)
    message = str(info.value)
    assert str(path) in message          # every message names the file
    return message


def test_missing_empty_and_foreign_files(tmp_path, saved):
    assert "no such file" in _load_error(tmp_path / "absent.glassnet")
    (tmp_path / "empty.glassnet").write_bytes(b"")
    assert "empty" in _load_error(tmp_path / "empty.glassnet")
    (tmp_path / "text.glassnet").write_text("layer_sizes: [4, 8, 3]\n")
    assert "not a glassnet model file" in _load_error(tmp_path / "text.glassnet")
    assert "folder" in _load_error(tmp_path)
    np.savez(tmp_path / "plain.npz", w=np.ones(3))
    assert "no metadata.json" in _load_error(tmp_path / "plain.npz")


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.9, 0.99])
def test_truncated_file(tmp_path, saved, keep):
    data = saved.read_bytes()
    cut = tmp_path / "cut.glassnet"
    cut.write_bytes(data[:int(len(data) * keep)])
    assert "truncated or corrupted" in _load_error(cut)


def test_corrupted_bytes_fail_the_checksum(tmp_path, saved):
    data = bytearray(saved.read_bytes())
    with zipfile.ZipFile(saved) as zf:
        info = zf.getinfo("weights_1.npy")
    # flip a byte inside the (compressed) array data, past the member's local header
    spot = info.header_offset + 30 + len(info.filename) + info.compress_size // 2
    data[spot] ^= 0xFF
    bad = tmp_path / "flipped.glassnet"
    bad.write_bytes(bytes(data))
    message = _load_error(bad)
    assert "truncated or corrupted" in message


def test_newer_or_invalid_format_version(tmp_path, saved):
    meta = _metadata(saved)
    for version, words in ((gio.FORMAT_VERSION + 1, "newer than this glassnet reads"),
                           (0, "positive integer"), ("1", "positive integer")):
        meta["format_version"] = version
        path = tmp_path / f"v{version}.glassnet"
        _rewrite(saved, path, replace={"metadata.json": json.dumps(meta)})
        assert words in _load_error(path)
    meta["format_version"] = 1
    meta["format"] = "something-else"
    _rewrite(saved, tmp_path / "fmt.glassnet", replace={"metadata.json": json.dumps(meta)})
    assert "not a glassnet model file" in _load_error(tmp_path / "fmt.glassnet")
    _rewrite(saved, tmp_path / "json.glassnet", replace={"metadata.json": b"{not json"})
    assert "not valid JSON" in _load_error(tmp_path / "json.glassnet")


def test_hand_edited_metadata_that_disagrees_with_the_arrays(tmp_path, saved):
    meta = _metadata(saved)
    edited = json.loads(json.dumps(meta))
    edited["network"]["layer_sizes"] = [4, 9, 3]
    _rewrite(saved, tmp_path / "a.glassnet", replace={"metadata.json": json.dumps(edited)})
    message = _load_error(tmp_path / "a.glassnet")
    assert "weights_0" in message and "(4, 9)" in message and "disagree" in message

    # metadata consistent with itself, but an array swapped for one of another shape
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.zeros((4, 9)))
    _rewrite(saved, tmp_path / "b.glassnet", replace={"weights_0.npy": buf.getvalue()})
    message = _load_error(tmp_path / "b.glassnet")
    assert "weights_0 has shape (4, 9)" in message and "disagree" in message

    edited = json.loads(json.dumps(meta))
    edited["network"]["activations"] = ["tanh", "tanh"]
    _rewrite(saved, tmp_path / "c.glassnet", replace={"metadata.json": json.dumps(edited)})
    assert "hidden activations" in _load_error(tmp_path / "c.glassnet")

    edited = json.loads(json.dumps(meta))
    edited["network"]["activations"] = ["no_such_activation"]
    _rewrite(saved, tmp_path / "d.glassnet", replace={"metadata.json": json.dumps(edited)})
    assert "no_such_activation" in _load_error(tmp_path / "d.glassnet")

    _rewrite(saved, tmp_path / "e.glassnet", drop={"biases_1.npy"})
    assert "biases_1" in _load_error(tmp_path / "e.glassnet")

    edited = json.loads(json.dumps(meta))
    edited["network"]["dtype"] = "int8"
    _rewrite(saved, tmp_path / "f.glassnet", replace={"metadata.json": json.dumps(edited)})
    assert "dtype" in _load_error(tmp_path / "f.glassnet")


class _Trap:
    """Unpickling this would create a marker file: proof that code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_pickled_object_arrays_are_refused_never_executed(tmp_path, saved):
    marker = tmp_path / "pwned"
    evil = np.empty((4, 8), dtype=object)
    evil[...] = 0.0
    evil[0, 0] = _Trap(str(marker))
    buf = io.BytesIO()
    np.lib.format.write_array(buf, evil, allow_pickle=True)
    bad = tmp_path / "evil.glassnet"
    _rewrite(saved, bad, replace={"weights_0.npy": buf.getvalue()})
    message = _load_error(bad)
    assert "pickle" in message and "weights_0" in message
    assert not marker.exists()
