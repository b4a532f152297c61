"""Damaged and hostile model files: a clear GlassnetError naming the file, never a traceback.

Truncated and corrupted bytes, wrong format versions, hand-edited metadata, arrays that
disagree with ``layer_sizes``, a file carrying a pickle whose unpickling would create a
file on disk (refused, never executed), and saves killed half-way (the previous file stays
intact and loadable) -- for a killed save both an in-process failure at each step and a
real ``SIGKILL`` of a child process.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import glassnet as gn
from glassnet import GlassnetError
from glassnet import io as gio

FILE_PROPS = settings(max_examples=40, deadline=None, derandomize=True, database=None,
                      suppress_health_check=list(HealthCheck))


def _net(seed=0, dtype="float64", sizes=(4, 8, 3), **kwargs) -> gn.Network:
    return gn.Network(list(sizes), activation="tanh", seed=seed, dtype=dtype, **kwargs)


@pytest.fixture
def saved(tmp_path):
    """A saved model, its bytes and the network it came from."""
    net = _net()
    net.metadata["classes"] = ["setosa", "versicolor", "virginica"]
    path = tmp_path / "model.glassnet"
    net.save(path)
    return path, path.read_bytes(), net


def _refused(path, *words):
    """load(path) raises a GlassnetError naming the file and each of ``words``."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")       # no RuntimeWarning / ResourceWarning escapes
        with pytest.raises(GlassnetError) as info:
            gn.load(path)
    message = str(info.value)
    assert str(path) in message, message
    for word in words:
        assert word.lower() in message.lower(), f"{word!r} not in {message!r}"
    return message


def _same(a: gn.Network, b: gn.Network) -> None:
    assert a.layer_sizes == b.layer_sizes and a.dtype == b.dtype
    assert [x.name for x in a.activations] == [x.name for x in b.activations]
    assert a.loss.name == b.loss.name
    np.testing.assert_array_equal(a.params, b.params)


def _rewrite(src: Path, dst: Path, *, header=None, arrays=None, drop=(), raw=None):
    """Copy a model file, replacing its metadata and/or members (written as ``.npy``)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            name = info.filename
            if name in drop or name[:-4] in (arrays or {}) or name in (raw or {}):
                continue
            data = zin.read(name)
            if name == gio.METADATA_MEMBER and header is not None:
                data = json.dumps(header).encode()
            zout.writestr(name, data)
        for name, arr in (arrays or {}).items():
            buf = io.BytesIO()
            np.save(buf, arr, allow_pickle=True)
            zout.writestr(name + ".npy", buf.getvalue())
        for name, data in (raw or {}).items():
            zout.writestr(name, data)
    return dst


def _header(path) -> dict:
    with zipfile.ZipFile(path) as zf:
        return json.loads(zf.read(gio.METADATA_MEMBER))


# --- the baseline the damage is measured against ---------------------------------------------

@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_saved_model_loads_bit_identical(tmp_path, dtype):
    net = _net(seed=3, dtype=dtype)
    net.metadata["feature_names"] = ["a", "b", "c", "d"]
    net.save(tmp_path / "m.glassnet")
    back = gn.load(tmp_path / "m.glassnet")
    _same(net, back)
    X = np.random.default_rng(0).normal(size=(5, 4))
    np.testing.assert_array_equal(back.predict_proba(X), net.predict_proba(X))
    assert back.metadata == {"feature_names": ["a", "b", "c", "d"]}


# --- not a model file at all --------------------------------------------------------------------

def test_files_that_are_not_model_files(tmp_path):
    _refused(tmp_path / "missing.glassnet", "no such file")
    _refused(tmp_path, "folder")
    (tmp_path / "empty.glassnet").write_bytes(b"")
    _refused(tmp_path / "empty.glassnet", "empty")
    (tmp_path / "data.csv").write_text("a,b\n1,2\n")
    _refused(tmp_path / "data.csv", "not a glassnet model file")
    np.savez(tmp_path / "plain.npz", w=np.zeros(3))      # an npz, but no metadata
    _refused(tmp_path / "plain.npz", "metadata.json")
    np.save(tmp_path / "array.npy", np.zeros(3))
    _refused(tmp_path / "array.npy", "not a glassnet model file")
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as zf:   # a zip with foreign JSON
        zf.writestr("metadata.json", json.dumps({"format": "keras", "format_version": 1}))
    _refused(tmp_path / "other.zip", "keras")
    with zipfile.ZipFile(tmp_path / "notjson.zip", "w") as zf:
        zf.writestr("metadata.json", b"\xff\xfe{not json")
    _refused(tmp_path / "notjson.zip", "json")


@pytest.mark.parametrize("path", [None, 3, 2.5, ["model.glassnet"], object()])
def test_load_path_argument(path):
    with pytest.raises(GlassnetError, match="path"):
        gn.load(path)


@FILE_PROPS
@given(blob=st.binary(min_size=0, max_size=300),
       prefix=st.sampled_from([b"", b"PK\x03\x04", b"\x93NUMPY", b"\x80\x04"]))
def test_random_bytes_are_refused(tmp_path_factory, blob, prefix):
    path = tmp_path_factory.mktemp("blob") / "model.glassnet"
    path.write_bytes(prefix + blob)
    _refused(path)


# --- truncated and corrupted ---------------------------------------------------------------------

@pytest.mark.parametrize("keep", [1, 4, 30, 100, 0.25, 0.5, 0.9, -22, -1])
def test_truncated_file(saved, tmp_path, keep):
    path, data, _ = saved
    n = keep if isinstance(keep, int) and keep > 0 else (
        len(data) + keep if isinstance(keep, int) else int(len(data) * keep))
    cut = tmp_path / "cut.glassnet"
    cut.write_bytes(data[:n])
    _refused(cut, "truncated")


@FILE_PROPS
@given(data=st.data())
def test_corrupted_bytes_never_load_a_different_model(saved, tmp_path_factory, data):
    """Flip bytes anywhere: the file is refused, or (the bytes were unused) loads unchanged.

    The zip's CRC-32 guards every member, so damage can never pass as another model.
    """
    path, original, net = saved
    corrupted = bytearray(original)
    for _ in range(data.draw(st.integers(1, 4), label="flips")):
        at = data.draw(st.integers(0, len(corrupted) - 1), label="offset")
        corrupted[at] ^= data.draw(st.integers(1, 255), label="xor")
    bad = tmp_path_factory.mktemp("corrupt") / "model.glassnet"
    bad.write_bytes(bytes(corrupted))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            back = gn.load(bad)
        except GlassnetError as exc:
            assert str(bad) in str(exc)
            return
    _same(net, back)
    assert back.metadata == net.metadata


def test_corrupted_array_data_is_caught_by_the_checksum(saved, tmp_path):
    path, data, _ = saved
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("weights_0.npy")
    # the compressed bytes of weights_0 start after its local header (30 bytes + name + extra)
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    corrupted = bytearray(data)
    corrupted[start + info.compress_size // 2] ^= 0xFF
    bad = tmp_path / "bad.glassnet"
    bad.write_bytes(bytes(corrupted))
    _refused(bad, "corrupted")


# --- format versions --------------------------------------------------------------------------------

@pytest.mark.parametrize("version, words", [
    (gio.FORMAT_VERSION + 1, ("version", "upgrade")),
    (99, ("version 99", "upgrade")),
    (0, ("format_version",)),
    (-1, ("format_version",)),
    ("1", ("format_version",)),
    (True, ("format_version",)),
    (1.5, ("format_version",)),
    (None, ("format_version",)),
])
def test_wrong_format_version(saved, tmp_path, version, words):
    path, _, _ = saved
    header = _header(path)
    header["format_version"] = version
    _refused(_rewrite(path, tmp_path / "v.glassnet", header=header), *words)


def test_wrong_format_name(saved, tmp_path):
    path, _, _ = saved
    header = _header(path)
    header["format"] = "glassnet-checkpoint"
    _refused(_rewrite(path, tmp_path / "f.glassnet", header=header), "glassnet-checkpoint")
    del header["format"]
    _refused(_rewrite(path, tmp_path / "g.glassnet", header=header), "format")


# --- hand-edited metadata ---------------------------------------------------------------------------

def _edit(header, dotted: str, value):
    """Set (or, for value is ..., delete) header[a][b] for dotted = "a.b"."""
    keys = dotted.split(".")
    node = header
    for key in keys[:-1]:
        node = node[key]
    if value is ...:
        del node[keys[-1]]
    else:
        node[keys[-1]] = value
    return header


HAND_EDITS = [
    # shapes that disagree with layer_sizes
    ("network.layer_sizes", [4, 9, 3], ("weights_0", "layer_sizes")),
    ("network.layer_sizes", [4, 8, 8, 3], ("activations",)),
    ("network.layer_sizes", [4], ("layer_sizes",)),
    ("network.layer_sizes", [4, 0, 3], ("layer_sizes",)),
    ("network.layer_sizes", "4,8,3", ("layer_sizes",)),
    ("network.layer_sizes", [4, 8.0, 3], ("layer_sizes",)),
    ("arrays.weights_1.shape", [3, 8], ("weights_1", "(8, 3)")),
    ("arrays.biases_0.shape", [9], ("biases_0",)),
    # unknown or mistyped names
    ("network.activations", ["rleu"], ("rleu",)),
    ("network.activations", [["leaky_relu", {"slope": "steep"}]], ("slope",)),
    ("network.activations", "tanh", ("activations",)),
    ("network.output", "softmaxx", ("softmaxx",)),
    ("network.output", 7, ("output",)),
    ("network.loss", "hinge", ("hinge",)),
    ("network.dtype", "float16", ("float16",)),
    ("network.dtype", None, ("dtype",)),
    ("network.init", ["he_normal"], ("init",)),
    ("network.init", [{"name": "he_normal", "bogus": 1}, None], ("bogus",)),
    ("network.init", [{"name": "normal", "std": -1}, None], ("std",)),
    ("network.init", [123, None], ("init",)),
    ("network.bias_init", "nope", ("nope",)),
    ("network.rng_state", {"bit_generator": "PCG64", "state": "x"}, ("rng_state",)),
    ("network.rng_state", {"bit_generator": "MT19937"}, ("rng_state",)),
    ("network.rng_state", [1, 2], ("rng_state",)),
    ("network.seed", "zero", ("seed",)),
    ("network.seed", -4, ("seed",)),
    ("network.class", "Neuro", None),     # a Neuro needs a softmax-free squared-error net
    ("network.needs_data_init", "yes", ("needs_data_init",)),
    ("metadata", ["classes"], ("metadata",)),
    ("arrays", None, ("arrays",)),
    ("arrays.weights_0", "4x8", ("weights_0",)),
    ("network", [4, 8, 3], ("network",)),
    # missing keys
    ("network", ..., ("network",)),
    ("network.layer_sizes", ..., ("layer_sizes",)),
    ("network.activations", ..., ("activations",)),
    ("network.output", ..., ("output",)),
    ("network.loss", ..., ("loss",)),
    ("network.dtype", ..., ("dtype",)),
    ("arrays", ..., ("arrays",)),
    ("arrays.weights_0", ..., ("weights_0",)),
    ("arrays.biases_1", ..., ("biases_1",)),
    ("format_version", ..., ("format_version",)),
]


@pytest.mark.parametrize("key, value, words", HAND_EDITS,
                         ids=[f"{k}={'missing' if v is ... else v!r}"[:60] for k, v, _ in HAND_EDITS])
def test_hand_edited_metadata(saved, tmp_path, key, value, words):
    path, _, net = saved
    header = _edit(_header(path), key, value)
    edited = _rewrite(path, tmp_path / "edited.glassnet", header=header)
    if words is None:   # either refused with a reason or loaded exactly
        try:
            back = gn.load(edited)
        except GlassnetError as exc:
            assert str(edited) in str(exc)
            return
        _same(net, back)
        return
    _refused(edited, *words)


def test_hand_edited_neuro(tmp_path):
    net = gn.Neuro([4, 5, 2], 0.5, 1, seed=0, quiet=True)
    net.save(tmp_path / "neuro.glassnet")
    back = gn.load(tmp_path / "neuro.glassnet")
    assert isinstance(back, gn.Neuro) and back.learning_rate == 0.5
    _same(net, back)
    header = _header(tmp_path / "neuro.glassnet")
    header["network"]["neuro"]["learning_rate"] = "fast"
    _refused(_rewrite(tmp_path / "neuro.glassnet", tmp_path / "edited.glassnet", header=header),
             "learning_rate")


@pytest.mark.parametrize("key", ["seed", "rng_state", "init", "bias_init", "needs_data_init",
                                 "class", "created", "glassnet_version", "metadata"])
def test_optional_keys_may_be_missing(saved, tmp_path, key):
    """Keys a reader can do without: the model loads with the same weights."""
    path, _, net = saved
    header = _header(path)
    (header if key in header else header["network"]).pop(key)
    back = gn.load(_rewrite(path, tmp_path / "lean.glassnet", header=header))
    _same(net, back)


def test_huge_layer_in_metadata_is_refused_without_allocating(saved, tmp_path):
    """A hand-edited 10^12-unit layer must not make load() allocate terabytes."""
    path, _, _ = saved
    header = _header(path)
    header["network"]["layer_sizes"] = [4, 10 ** 12, 3]
    header["arrays"]["weights_0"]["shape"] = [4, 10 ** 12]
    header["arrays"]["biases_0"]["shape"] = [10 ** 12]
    header["arrays"]["weights_1"]["shape"] = [10 ** 12, 3]
    _refused(_rewrite(path, tmp_path / "huge.glassnet", header=header), "layer_sizes")


# --- arrays that disagree with the metadata -----------------------------------------------------------

@pytest.mark.parametrize("member, array, words", [
    ("weights_0", np.zeros((8, 4)), ("weights_0", "(4, 8)")),
    ("weights_0", np.zeros(32), ("weights_0",)),
    ("biases_1", np.zeros((1, 3, 1)), ("biases_1",)),
    ("weights_1", np.zeros((8, 3), complex), ("weights_1", "complex")),
    ("weights_1", np.full((8, 3), "w"), ("weights_1",)),
    ("biases_0", np.zeros(8, "datetime64[s]"), ("biases_0",)),
    ("weights_0", np.zeros((4, 8), [("a", "f8")]), ("weights_0",)),
])
def test_arrays_that_disagree(saved, tmp_path, member, array, words):
    path, _, _ = saved
    _refused(_rewrite(path, tmp_path / "a.glassnet", arrays={member: array}), *words)


def test_missing_array_member(saved, tmp_path):
    path, _, _ = saved
    _refused(_rewrite(path, tmp_path / "m.glassnet", drop={"biases_1.npy"}), "biases_1",
             "missing")


def test_array_member_that_is_not_npy(saved, tmp_path):
    path, _, _ = saved
    _refused(_rewrite(path, tmp_path / "n.glassnet", drop={"weights_0.npy"},
                      raw={"weights_0.npy": b"\x93NUMPY\x01\x00garbage"}), "weights_0")
    _refused(_rewrite(path, tmp_path / "o.glassnet", drop={"weights_0.npy"},
                      raw={"weights_0.npy": b"just text"}), "weights_0")


def test_array_member_claiming_a_huge_shape(saved, tmp_path):
    """An .npy header promising 10^12 floats (with 32 bytes of data) is refused up front."""
    path, _, _ = saved
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000000,), }"
    header = header + " " * (117 - len(header)) + "\n"
    npy = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + bytes(32)
    _refused(_rewrite(path, tmp_path / "h.glassnet", drop={"biases_0.npy"},
                      raw={"biases_0.npy": npy}), "biases_0")


def test_metadata_member_that_would_exhaust_memory(saved, tmp_path):
    """A metadata.json that inflates to 256 MiB (a 256 KB zip bomb) is refused unread."""
    import tracemalloc
    path, _, _ = saved
    bomb = tmp_path / "bomb.glassnet"
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            if info.filename != gio.METADATA_MEMBER:
                zout.writestr(info.filename, zin.read(info.filename))
        with zout.open(gio.METADATA_MEMBER, "w", force_zip64=True) as member:
            member.write(b'{"format": "glassnet-model", "pad": "')
            chunk = b" " * (1 << 22)
            for _ in range(64):
                member.write(chunk)
            member.write(b'"}')
    assert bomb.stat().st_size < 1 << 20
    tracemalloc.start()
    try:
        _refused(bomb, "metadata.json")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 32 << 20, f"load allocated {peak / 2 ** 20:.0f} MiB reading a zip bomb"


# --- pickles: refused, never executed ---------------------------------------------------------------

class _Payload:
    """Unpickling this calls os.mkdir(marker): proof that code ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return os.mkdir, (self.marker,)


def _pickled_array(marker) -> np.ndarray:
    arr = np.empty((4, 8), dtype=object)
    arr[...] = 0.0
    arr[0, 0] = _Payload(marker)
    return arr


def test_pickled_object_array_is_refused_never_executed(saved, tmp_path):
    path, _, _ = saved
    # the payload is live: unpickling it the unsafe way does create its marker
    control_marker = tmp_path / "control_ran"
    control = _rewrite(path, tmp_path / "control.glassnet",
                       arrays={"weights_0": _pickled_array(control_marker)})
    with np.load(control, allow_pickle=True) as npz:
        npz["weights_0"]
    assert control_marker.is_dir()

    marker = tmp_path / "attack_ran"
    attack = _rewrite(path, tmp_path / "attack.glassnet", arrays={"weights_0": _pickled_array(marker)})
    _refused(attack, "weights_0", "pickle")
    assert not marker.exists()
    # nor does anything else that opens the file run it
    with pytest.raises(GlassnetError):
        gio.describe(attack)
    gio.read_header(attack)        # the header alone is plain JSON and reads fine
    assert not marker.exists()


def test_pickle_in_every_array_slot_and_as_the_whole_file(saved, tmp_path):
    path, _, _ = saved
    for member, shape in (("weights_1", (8, 3)), ("biases_0", (8,)), ("biases_1", (3,))):
        marker = tmp_path / f"ran_{member}"
        arr = np.empty(shape, dtype=object)
        arr[...] = 0.0
        arr.flat[0] = _Payload(marker)
        _refused(_rewrite(path, tmp_path / f"{member}.glassnet", arrays={member: arr}), member)
        assert not marker.exists()
    marker = tmp_path / "ran_whole"
    whole = tmp_path / "whole.glassnet"
    whole.write_bytes(pickle.dumps(_Payload(marker)))
    _refused(whole, "not a glassnet model file")
    assert not marker.exists()


def test_pickle_hidden_in_an_extra_member_is_never_touched(saved, tmp_path):
    path, _, net = saved
    marker = tmp_path / "ran_extra"
    buf = io.BytesIO()
    np.save(buf, np.array([_Payload(marker)], dtype=object), allow_pickle=True)
    extra = _rewrite(path, tmp_path / "extra.glassnet", raw={"payload.npy": buf.getvalue()})
    _same(net, gn.load(extra))
    assert not marker.exists()


# --- a save that dies half-way leaves the previous file intact -----------------------------------------

def _leftovers(folder: Path, name: str) -> list:
    return sorted(p.name for p in folder.iterdir() if p.name != name)


@pytest.mark.parametrize("where", ["write_array", "fsync", "replace"])
def test_failed_save_keeps_the_previous_file(saved, monkeypatch, where):
    path, before, old = saved
    folder = path.parent
    new = _net(seed=99)

    class Boom(OSError):
        pass

    def boom(*args, **kwargs):
        raise Boom(28, "No space left on device")

    if where == "write_array":   # after the first array went out: a half-written archive
        real = np.lib.format.write_array
        calls = []

        def half(*args, **kwargs):
            calls.append(1)
            if len(calls) == 2:
                boom()
            return real(*args, **kwargs)
        monkeypatch.setattr(np.lib.format, "write_array", half)
    else:
        monkeypatch.setattr(os, where, boom)
    with pytest.raises(gio.WriteError, match="No space left on device") as info:
        new.save(path)       # one line naming the file, not the OSError's traceback
    assert str(path) in str(info.value) and info.value.errno == 28
    monkeypatch.undo()
    assert path.read_bytes() == before
    _same(old, gn.load(path))
    assert _leftovers(folder, path.name) == []       # the temporary file was removed


def test_save_errors_name_the_path(tmp_path):
    net = _net()
    with pytest.raises(GlassnetError, match="does not exist"):
        net.save(tmp_path / "no" / "such" / "folder" / "m.glassnet")
    with pytest.raises(GlassnetError, match="folder"):
        net.save(tmp_path)


_CHILD = textwrap.dedent("""
    import os, sys, time
    import numpy as np
    import glassnet as gn
    path, ready, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    net = gn.Network([400, 2000, 1000, 10], seed=7)          # ~2.8 M parameters, 22 MB
    if mode == "pause":
        real = np.lib.format.write_array
        count = []
        def slow(*args, **kwargs):
            real(*args, **kwargs)
            count.append(1)
            if len(count) == 2:                              # half-way: two arrays written
                open(ready, "w").close()
                time.sleep(60)
        np.lib.format.write_array = slow
    else:
        open(ready, "w").close()
    net.save(path)
""")


@pytest.mark.parametrize("mode", ["pause", "race"])
def test_save_killed_by_sigkill_keeps_the_previous_file(tmp_path, mode):
    """A real child process killed with SIGKILL in the middle of a 22 MB save.

    "pause": the child stops after writing two of its arrays, then is killed: the old file
    must be intact.  "race": the child is killed, unpaused, once a megabyte of its temporary
    file is written; the file must then be the old model (or, had the save won the race,
    the complete new one), never a mix.
    """
    path = tmp_path / "model.glassnet"
    old = _net(seed=1)
    old.save(path)
    before = path.read_bytes()
    ready = tmp_path / "ready"
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(path), str(ready), mode],
                             stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        def temp_sizes():
            sizes = []
            for p in tmp_path.iterdir():
                if p.name.endswith(".tmp"):
                    with contextlib.suppress(FileNotFoundError):
                        sizes.append(p.stat().st_size)
            return sizes
        while time.monotonic() < deadline and child.poll() is None:
            # "race": kill once a megabyte of the new file is out, mid-way through the data
            if ready.exists() and (mode == "pause" or max(temp_sizes(), default=0) >= 1 << 20):
                break
            time.sleep(0.002)
        assert child.poll() is None, child.stderr.read().decode()[-2000:]
        assert max(temp_sizes(), default=0) > 0, "the save should be writing a temporary file"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL
    loaded = gn.load(path)        # whatever happened, the file is a whole model
    if mode == "pause" or path.read_bytes() == before:
        assert path.read_bytes() == before
        _same(old, loaded)
    else:
        assert loaded.layer_sizes == [400, 2000, 1000, 10]
    # a stale temporary file is harmless: the next save succeeds and replaces the model
    new = _net(seed=2)
    new.save(path)
    _same(new, gn.load(path))
