"""Metrics computed chunk by chunk (metrics.Scores) against the whole-array formulas and
scikit-learn; reading memory-mapped rows from the file (_mapped.FileRows)."""
from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import glassnet as gn
from glassnet import metrics as M
from glassnet._mapped import FileRows
from glassnet._validation import GlassnetError, _all_finite, input_scale_message


def _net_and_targets(kind: str, n: int, rng):
    """A float64 network of each kind the accuracy decision knows, with its encoded Y."""
    labels = rng.integers(0, 3, n)
    if kind == "softmax":
        return gn.Network([4, 6, 3], seed=0), np.eye(3)[labels]
    if kind == "neuro_one_hot":       # sigmoid outputs, squared error, one-hot: one class
        return gn.Network([4, 6, 3], output="sigmoid", loss="squared_error", seed=0), \
            np.eye(3)[labels]
    if kind == "squared_not_one_hot":  # the same network on 0/1 rows that are not one-hot
        return gn.Network([4, 6, 3], output="sigmoid", loss="squared_error", seed=0), \
            rng.integers(0, 2, (n, 3)).astype(float)
    if kind == "multi_label":
        return gn.Network([4, 6, 3], output="sigmoid", loss="binary_cross_entropy", seed=0), \
            rng.integers(0, 2, (n, 3)).astype(float)
    return gn.Network([4, 6, 2], loss="squared_error", seed=0), \
        np.column_stack([rng.normal(size=n) * 5 + 1e3, rng.normal(size=n)])


@pytest.mark.parametrize("kind", ["softmax", "neuro_one_hot", "squared_not_one_hot",
                                  "multi_label", "regression"])
@pytest.mark.parametrize("weighted", [False, True])
def test_streamed_metrics_equal_the_whole_array_formulas(kind, weighted, monkeypatch):
    rng = np.random.default_rng(1)
    n = 101
    net, Y = _net_and_targets(kind, n, rng)
    X = rng.normal(size=(n, 4))
    sw = rng.uniform(0.0, 3.0, n) if weighted else None
    metrics = [m for m in M.METRICS.values() if M._applies(m, net)]
    t = net.trace(X)
    whole = {m.name: m.compute(net, Y, t.pre[-1], t.post[-1], sw) for m in metrics}
    whole["loss"] = float(np.average(net.loss_per_sample(t.pre[-1], Y), weights=sw))
    monkeypatch.setattr(M, "CHUNK_ROWS", 7)          # 15 chunks, the last of 3 rows
    streamed = M.scores(net, X, Y, sw, metrics)
    assert streamed.keys() == whole.keys()
    for name, value in whole.items():
        assert streamed[name] == pytest.approx(value, rel=1e-12, abs=1e-15), name
    if "accuracy" in whole:
        # the same rows counted: equal fractions of the same weights
        assert streamed["accuracy"] == pytest.approx(whole["accuracy"], abs=1e-15)


def test_streamed_metrics_equal_scikit_learns_with_weights(monkeypatch):
    from sklearn.metrics import (accuracy_score, log_loss, mean_absolute_error,
                                 mean_squared_error, r2_score)
    monkeypatch.setattr(M, "CHUNK_ROWS", 16)
    rng = np.random.default_rng(2)
    X = rng.normal(size=(300, 4))
    y = rng.integers(0, 3, 300)
    w = rng.uniform(0.5, 2.0, 300)
    net = gn.Network([4, 8, 3], seed=0)
    out = net.evaluate(X, y, sample_weight=w, metrics=["accuracy", "log_loss"])
    proba = net.predict_proba(X)
    assert out["accuracy"] == pytest.approx(accuracy_score(y, proba.argmax(1),
                                                           sample_weight=w), abs=1e-14)
    assert out["log_loss"] == pytest.approx(log_loss(y, proba, sample_weight=w), rel=1e-10)
    assert out["loss"] == out["log_loss"]
    T = np.column_stack([X[:, 0] * 7 + 50, X[:, 1] - X[:, 2]])
    reg = gn.Network([4, 8, 2], loss="squared_error", seed=0)
    out = reg.evaluate(X, T, sample_weight=w, metrics=["mse", "mae", "r2"])
    pred = reg.forward(X)
    assert out["mse"] == pytest.approx(mean_squared_error(T, pred, sample_weight=w), rel=1e-12)
    assert out["mae"] == pytest.approx(mean_absolute_error(T, pred, sample_weight=w), rel=1e-12)
    assert out["r2"] == pytest.approx(r2_score(T, pred, sample_weight=w), rel=1e-12)


def test_r2_merge_keeps_a_large_mean_exact():
    """Chan's merge: targets near 1e9 with unit spread, 1000 chunks of 10 rows."""
    from sklearn.metrics import r2_score
    rng = np.random.default_rng(3)
    t = 1e9 + rng.normal(size=(10_000, 1))
    p = t + 0.5 * rng.normal(size=t.shape)
    sums = M.R2Sums()
    for start in range(0, len(t), 10):
        sums.add(t[start:start + 10], p[start:start + 10])
    assert sums.value() == pytest.approx(r2_score(t, p), rel=1e-12)
    # the exact reference: shifting by 1e9 is exact here, and leaves small numbers
    assert sums.value() == pytest.approx(r2_score(t - 1e9, p - 1e9), rel=1e-12)
    assert 0.7 < sums.value() < 0.8          # 1 - 0.25 / 1: no cancellation to 0 or below
    constant = M.R2Sums()
    constant.add(np.ones((5, 1)), np.ones((5, 1)))
    assert constant.value() == 1.0


def test_a_callable_metric_still_sees_the_whole_arrays(monkeypatch):
    monkeypatch.setattr(M, "CHUNK_ROWS", 5)
    seen = []

    def rows(Y, output):
        seen.append(Y.shape[0])
        return float(Y.shape[0])

    X = np.random.default_rng(0).normal(size=(23, 4))
    out = gn.Network([4, 3, 2], seed=0).evaluate(X, np.arange(23) % 2, metrics=[rows])
    assert out["rows"] == 23.0 and seen == [23]


def test_an_overflow_is_named_by_its_row_in_the_whole_set():
    net = gn.Network([2, 3, 2], activation="relu", seed=0)
    net.weights[0] = np.full((2, 3), 10.0)             # 1e308 * 10 + 1e308 * 10 = inf
    X = np.zeros((M.CHUNK_ROWS * 2 + 10, 2))
    X[M.CHUNK_ROWS + 5] = 1e308                         # in the second chunk
    with pytest.raises(GlassnetError, match=rf"first rows: \[{M.CHUNK_ROWS + 5}\]\).*"
                                            r"values up to 1e\+308"):
        net.evaluate(X, np.zeros(len(X), int))


def test_scoring_holds_one_chunk_not_one_value_per_row():
    rng = np.random.default_rng(0)
    n, k = 400_000, 3
    X = rng.normal(size=(n, 4))
    Y = np.eye(k)[rng.integers(0, k, n)]
    net = gn.Network([4, 8, k], seed=0)
    metrics = M.resolve(["accuracy", "log_loss"], net)
    tracemalloc.start()
    try:
        M.scores(net, X, Y, None, metrics)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # the whole set's outputs alone, z or a, would be n * k * 8 bytes = 9.6 MB
    assert peak < 3_000_000, peak


# --- memory-mapped rows, read from the file ---------------------------------------------------

@pytest.fixture
def mapped(tmp_path):
    X = np.random.default_rng(5).normal(size=(50_000, 20)).astype(np.float32)
    np.save(tmp_path / "X.npy", X)
    return X, np.load(tmp_path / "X.npy", mmap_mode="r")


def _rss_file() -> int | None:
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith("RssFile"))
    except (OSError, StopIteration):
        return None


def test_file_rows_read_the_same_bytes_and_refuse_other_views(mapped, tmp_path):
    X, Xm = mapped
    rows = np.random.default_rng(0).permutation(len(X))[:300]
    with FileRows.of(Xm) as reader:
        assert np.array_equal(reader.take(rows, np.empty((300, 20), np.float32)), X[rows])
        assert np.array_equal(np.concatenate(list(reader.blocks(999))), X)
    assert FileRows.of(Xm[10:]) is None                # not at the map's start
    assert FileRows.of(X) is None                      # in memory
    assert FileRows.of(np.load(tmp_path / "X.npy", mmap_mode="r+")) is None   # writable
    assert FileRows.of(np.asarray(Xm)) is not None     # a plain view of the whole map


def test_checks_on_a_map_read_its_file(mapped, tmp_path):
    X, Xm = mapped
    assert _all_finite(Xm)
    bad = X.copy()
    bad[-1, 7] = np.nan                                # in the last block read
    np.save(tmp_path / "bad.npy", bad)
    assert not _all_finite(np.load(tmp_path / "bad.npy", mmap_mode="r"))
    scaled = X * 100 + 1000
    np.save(tmp_path / "scaled.npy", scaled)
    assert input_scale_message(np.load(tmp_path / "scaled.npy", mmap_mode="r")) == \
        input_scale_message(scaled)
    assert input_scale_message(np.load(tmp_path / "scaled.npy", mmap_mode="r")) is not None


@pytest.mark.parametrize("validation_split", [0.0, 0.2])
def test_fit_on_a_map_equals_fit_in_memory_and_does_not_map_the_file(mapped,
                                                                     validation_split):
    X, Xm = mapped
    y = (X[:, 0] > X[:, 1]).astype(int)
    resident = []

    class Watch(gn.callbacks.Callback):
        def on_batch_end(self, ctx, logs):
            resident.append(_rss_file())

    def fit(data, callbacks=()):
        net = gn.Network([20, 8, 2], seed=0, dtype="float32")
        net.fit(data, y, epochs=1, batch_size=256, validation_split=validation_split,
                optimizer="adam", callbacks=list(callbacks))
        return net.params

    expected = fit(X)
    start = _rss_file()
    assert np.array_equal(fit(Xm, [Watch()]), expected)
    if start is not None:
        # 157 shuffled batches of a 4 MB file: gathered through the map, the batches alone
        # map most of it (1 MB a row on Linux 6.18, 64 KB on older kernels)
        assert max(resident) - start < 1_000_000, (start, max(resident))
