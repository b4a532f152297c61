"""Checkpoints: atomic writes, and resuming a killed run ends bit-identical to an unbroken one."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import glassnet as gn
from glassnet import checkpoint as ckpt
from glassnet.callbacks import Callback, LambdaCallback

FIT = dict(epochs=12, batch_size=16, optimizer="adam", learning_rate=0.01, validation_split=0.2,
           metrics=["accuracy"], early_stopping=True, patience=50)


def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(150, 4))
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 1).astype(int)
    return X, y


def run_state(net, history) -> dict:
    """Everything that must match: weights, optimizer state, generator state, history."""
    return {"params": net.params.copy(),
            "opt": [np.array(x) for x in gn.optimizers.state_leaves(net._training.state)],
            "rng": net.rng.bit_generator.state, "history": history._state()}


def assert_identical(a: dict, b: dict) -> None:
    np.testing.assert_array_equal(a["params"], b["params"])
    assert len(a["opt"]) == len(b["opt"])
    for x, y in zip(a["opt"], b["opt"]):
        np.testing.assert_array_equal(x, y)
    assert a["rng"] == b["rng"]
    assert a["history"] == b["history"]


@pytest.fixture(scope="module")
def reference():
    X, y = data()
    net = gn.Network([4, 12, 3], seed=1)
    history = net.fit(X, y, **FIT)
    return run_state(net, history)


class Crash(Callback):
    """Dies like a killed process would: an exception the loop does not handle."""

    def __init__(self, epoch, batch):
        self.at = (epoch, batch)

    def on_batch_end(self, ctx, logs):
        if (ctx.epoch, ctx.batch) == self.at:
            raise SystemExit("killed")


def test_resume_after_a_crash_is_bit_identical(tmp_path, reference):
    X, y = data()
    path = tmp_path / "run.ckpt"
    with pytest.raises(SystemExit):
        gn.Network([4, 12, 3], seed=1).fit(X, y, checkpoint=path, checkpoint_every=3,
                                           callbacks=[Crash(7, 2)], **FIT)
    saved = ckpt.load(path)
    assert saved.meta["position"]["epoch"] == 6 and not saved.meta["position"]["completed"]
    net = gn.Network([4, 12, 3], seed=1)        # a fresh process would build it again
    history = net.fit(X, y, checkpoint=path, checkpoint_every=3, **FIT)
    assert_identical(run_state(net, history), reference)
    assert ckpt.load(path).meta["position"]["completed"]


def test_ctrl_c_writes_a_mid_epoch_checkpoint_that_resumes_exactly(tmp_path, reference,
                                                                     ctrl_c):
    X, y = data()
    path = tmp_path / "run.ckpt"
    press = LambdaCallback(on_batch_end=lambda ctx, logs: (ctx.epoch, ctx.batch) == (4, 3) and
                           os.kill(os.getpid(), signal.SIGINT))
    h = gn.Network([4, 12, 3], seed=1).fit(X, y, checkpoint=path, checkpoint_every=100,
                                           callbacks=[press], **FIT)
    assert h.interrupted and h.stopped_at == (4, 3)
    position = ckpt.load(path).meta["position"]
    assert (position["epoch"], position["batch"]) == (4, 4) and ckpt.load(path).order is not None
    net = gn.Network([4, 12, 3], seed=1)
    history = net.fit(X, y, checkpoint=path, checkpoint_every=100, **FIT)
    assert not history.interrupted
    assert_identical(run_state(net, history), reference)


def test_a_finished_checkpoint_is_loaded_not_trained_again(tmp_path, reference):
    X, y = data()
    path = tmp_path / "run.ckpt"
    gn.Network([4, 12, 3], seed=1).fit(X, y, checkpoint=path, **FIT)
    batches = []
    count = LambdaCallback(on_batch_end=lambda ctx, logs: batches.append(1))
    net = gn.Network([4, 12, 3], seed=99)      # other initial weights: all come from the file
    history = net.fit(X, y, checkpoint=path, callbacks=[count], **FIT)
    assert batches == []
    assert_identical(run_state(net, history), reference)


def test_resume_false_starts_over_and_resume_true_needs_the_file(tmp_path, reference):
    X, y = data()
    path = tmp_path / "run.ckpt"
    with pytest.raises(gn.GlassnetError, match="does not exist"):
        gn.Network([4, 12, 3], seed=1).fit(X, y, checkpoint=path, resume=True, **FIT)
    gn.Network([4, 12, 3], seed=5).fit(X, y, checkpoint=path, **FIT)      # another run
    net = gn.Network([4, 12, 3], seed=1)
    history = net.fit(X, y, checkpoint=path, resume=False, **FIT)
    assert_identical(run_state(net, history), reference)


@pytest.mark.parametrize("change, what", [
    (dict(batch_size=8), "batch_size"),
    (dict(optimizer="sgd", learning_rate=0.01), "optimizer"),
    (dict(validation_split=0.3), "validation_split"),
    (dict(X_scale=2.0), "training data"),
    (dict(layers=[4, 10, 3]), "network layer sizes"),
])
def test_a_checkpoint_from_another_run_is_refused(tmp_path, change, what):
    X, y = data()
    path = tmp_path / "run.ckpt"
    with pytest.raises(SystemExit):
        gn.Network([4, 12, 3], seed=1).fit(X, y, checkpoint=path, callbacks=[Crash(3, 0)],
                                           **FIT)
    kwargs = dict(FIT)
    layers = change.pop("layers", [4, 12, 3])
    X = X * change.pop("X_scale", 1.0)
    kwargs.update(change)
    with pytest.raises(gn.GlassnetError, match=f"different run: its {what}") as info:
        gn.Network(layers, seed=1).fit(X, y, checkpoint=path, **kwargs)
    assert "resume=False" in str(info.value) and str(path) in str(info.value)


def test_damaged_and_foreign_files_give_clear_errors(tmp_path):
    X, y = data()
    path = tmp_path / "run.ckpt"
    gn.Network([4, 12, 3], seed=1).fit(X, y, checkpoint=path, **dict(FIT, epochs=2))
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])                       # truncated
    with pytest.raises(gn.GlassnetError, match="cannot be read.*damaged"):
        gn.Network([4, 12, 3], seed=1).fit(X, y, checkpoint=path, **FIT)
    np.savez(tmp_path / "other.npz", params=np.zeros(3))       # not a checkpoint
    with pytest.raises(gn.GlassnetError, match="no readable meta.json"):
        ckpt.load(tmp_path / "other.npz")
    evil = tmp_path / "evil.npz"                                 # a pickle is never loaded
    np.savez(evil, **{"meta.json": np.array([{"format": ckpt.FORMAT}], dtype=object)})
    with pytest.raises(gn.GlassnetError, match="cannot be read"):
        ckpt.load(evil)
    newer = tmp_path / "newer.npz"
    np.savez(newer, **{"meta.json": np.array(json.dumps({"format": ckpt.FORMAT,
                                                           "version": 99}))})
    with pytest.raises(gn.GlassnetError, match="format version 99"):
        ckpt.load(newer)


def test_a_hand_edited_checkpoint_is_refused_before_anything_changes(tmp_path):
    X, y = data()
    path = tmp_path / "run.ckpt"
    with pytest.raises(SystemExit):
        gn.Network([4, 12, 3], seed=1).fit(X, y, checkpoint=path, callbacks=[Crash(3, 0)],
                                           **FIT)
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    meta = json.loads(str(arrays["meta.json"]))
    del meta["position"]
    arrays["meta.json"] = np.array(json.dumps(meta))
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    net = gn.Network([4, 12, 3], seed=1)
    before = net.params.copy()
    with pytest.raises(gn.GlassnetError, match="damaged or was edited"):
        net.fit(X, y, checkpoint=path, **FIT)
    np.testing.assert_array_equal(net.params, before)


def test_a_write_that_dies_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    X, y = data()
    path = tmp_path / "run.ckpt"
    gn.Network([4, 12, 3], seed=1).fit(X, y, checkpoint=path, **dict(FIT, epochs=2))
    before = path.read_bytes()

    def dying_savez(file, **arrays):
        file.write(b"PK\x03\x04 half a zip")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", dying_savez)
    with pytest.raises(gn.GlassnetError, match="disk full"):
        gn.Network([4, 12, 3], seed=2).fit(X, y, checkpoint=path, resume=False,
                                           **dict(FIT, epochs=2))
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["run.ckpt"]          # no temporary file left
    monkeypatch.undo()
    assert ckpt.load(path).meta["position"]["completed"]


def test_checkpoint_is_plain_npz_without_pickles(tmp_path):
    X, y = data()
    path = tmp_path / "run.ckpt"
    net = gn.Network([4, 12, 3], seed=1)
    net.fit(X, y, checkpoint=path, **dict(FIT, epochs=3))
    with np.load(path, allow_pickle=False) as f:
        meta = json.loads(str(f["meta.json"]))
        np.testing.assert_array_equal(f["params"], net.params)
        assert "val_index" in f.files and "cb0.best_params" in f.files
    assert meta["format"] == "glassnet-checkpoint" and meta["layer_sizes"] == [4, 12, 3]
    assert meta["rng_state"] == net.rng.bit_generator.state
    assert len(meta["history"]["history"]["loss"]) == 3


# --- a real process, killed by SIGKILL --------------------------------------------------------------

CHILD = textwrap.dedent('''
    import json, sys, time
    import numpy as np
    import glassnet as gn
    from glassnet.callbacks import Callback

    checkpoint, out = sys.argv[1], sys.argv[2]
    slow = float(sys.argv[3])
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 6))
    y = (X[:, 0] - X[:, 1] > 0).astype(int) + (X[:, 2] > 0.5).astype(int)

    class Slow(Callback):             # long enough for the parent to kill us mid-run
        def on_epoch_end(self, ctx, logs):
            time.sleep(slow)

    net = gn.Network([6, 16, 3], seed=3)
    kwargs = dict(epochs=30, batch_size=32, optimizer="adam", learning_rate=0.01,
                  validation_split=0.25, metrics=["accuracy"], early_stopping=True,
                  patience=100, callbacks=[Slow()])
    if checkpoint != "none":
        kwargs.update(checkpoint=checkpoint, checkpoint_every=2)
    history = net.fit(X, y, **kwargs)
    leaves = gn.optimizers.state_leaves(net._training.state)
    np.savez(out, params=net.params, **{f"opt{i}": np.asarray(x) for i, x in enumerate(leaves)},
             meta=np.array(json.dumps({"rng": net.rng.bit_generator.state,
                                       "history": history._state()})))
''')


def _run_child(script, *args, wait=True):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [os.path.dirname(os.path.dirname(gn.__file__))] + sys.path))
    proc = subprocess.Popen([sys.executable, str(script), *map(str, args)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if wait:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
    return proc


def _result(path) -> dict:
    with np.load(path, allow_pickle=False) as f:
        meta = json.loads(str(f["meta"]))
        opt = [f[k] for k in sorted((k for k in f.files if k.startswith("opt")),
                                    key=lambda k: int(k[3:]))]
        return {"params": f["params"], "opt": opt, "rng": meta["rng"],
                "history": meta["history"]}


def test_sigkilled_process_resumes_bit_identical(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(CHILD)
    path = tmp_path / "run.ckpt"
    # the run never interrupted, in its own process
    _run_child(script, "none", tmp_path / "reference.npz", 0.0)
    # the run killed with SIGKILL once it has checkpointed a few epochs
    proc = _run_child(script, path, tmp_path / "killed.npz", 0.05, wait=False)
    deadline = time.monotonic() + 90
    epoch = 0
    while time.monotonic() < deadline and proc.poll() is None:
        if path.exists():
            try:
                epoch = ckpt.load(path).meta["position"]["epoch"]
            except gn.GlassnetError:
                epoch = 0
            if epoch >= 6:
                break
        time.sleep(0.01)
    proc.kill()                                       # SIGKILL: no handler, no cleanup
    proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the training process ended before the kill"
    saved = ckpt.load(path).meta["position"]
    assert 6 <= saved["epoch"] < 30 and not saved["completed"]
    assert not (tmp_path / "killed.npz").exists()
    # run the same command again: it resumes from the checkpoint and finishes
    _run_child(script, path, tmp_path / "resumed.npz", 0.0)
    assert_identical(_result(tmp_path / "resumed.npz"), _result(tmp_path / "reference.npz"))
