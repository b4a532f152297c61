"""Data larger than memory: streamed predict, the memory-mapped training cache, Parquet,
Dask and chunked data in fit (issue 19), and reading/batch progress (issue 16, item 9)."""
from __future__ import annotations

import io
import json
import os
import tracemalloc

import numpy as np
import pandas as pd
import pytest

import glassnet
from glassnet import data as D
from glassnet import dataset, sources, tables
from glassnet._validation import GlassnetError
from glassnet.cli import main


def _table(n: int, seed: int = 0, d: int = 6, text_labels: bool = True) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    # columns of very different scales and offsets (1e6 mean) exercise the statistics
    U = rng.normal(size=(n, d))
    X = U * np.logspace(0, 3, d) + np.linspace(0, 1e6, d)
    z = U[:, 0] - U[:, 1] + 0.3 * rng.normal(size=n)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(d)])
    frame["label"] = np.where(z > 0, "yes", "no") if text_labels else (z > 0).astype(int)
    frame["value"] = 3 * U[:, 0] - U[:, 2] + 100
    return frame


def _cli(*args) -> int:
    return main([str(a) for a in args])


@pytest.fixture
def csv(tmp_path):
    path = tmp_path / "data.csv"
    _table(3000).to_csv(path, index=False)
    return path


# --- train: memory-mapped cache == in memory, bit for bit ----------------------------------------

@pytest.mark.parametrize("target,extra", [("label", ["--features", "f0,f1,f2,f3,f4,f5"]),
                                          ("value", ["--features", "f0,f1,f2,f3,f4,f5"])])
def test_memmap_training_equals_in_memory_bit_for_bit(tmp_path, csv, target, extra):
    common = [csv, "--target", target, *extra, "--dtype", "float32", "--epochs", "3",
              "--batch-size", "16", "--seed", "3", "-q"]
    assert _cli("train", *common, "-o", tmp_path / "mem.glassnet", "--chunk-rows", "5000") == 0
    assert _cli("train", *common, "-o", tmp_path / "map.glassnet", "--chunk-rows", "257",
                "--max-memory", "1KB") == 0
    assert (tmp_path / "map.glassnet.cache" / "cache.json").exists()
    assert not (tmp_path / "mem.glassnet.cache").exists()
    a, b = glassnet.load(tmp_path / "mem.glassnet"), glassnet.load(tmp_path / "map.glassnet")
    assert a.params.dtype == np.float32
    assert np.array_equal(a.params, b.params)
    assert a.metadata["scaling"] == b.metadata["scaling"]
    assert a.metadata["training"]["metrics"] == b.metadata["training"]["metrics"]


def test_cache_is_reused_and_rebuilt_when_the_file_changes(tmp_path, csv):
    table = tables.open_table(csv)
    kw = dict(target="label", features=[f"f{i}" for i in range(6)], task="auto",
              validation=0.2, seed=0, standardize=True, dtype="float32", chunk_rows=500)
    cache = tmp_path / "m.cache"
    first = dataset.load(table, cache=cache, **kw)
    assert not first.reused and isinstance(first.X_train, np.memmap)
    again = dataset.load(tables.open_table(csv), cache=cache, **kw)
    assert again.reused and np.array_equal(again.X_train, first.X_train)
    mark = json.loads((cache / "cache.json").read_text())
    assert mark["source"]["size"] == os.path.getsize(csv) and mark["source"]["sample_sha256"]
    # same size, a changed value: the fingerprint (mtime and sampled bytes) sees it
    text = csv.read_text().replace("yes", "no ", 1).replace("no\n", "yes\n", 1)
    csv.write_text(text)
    rebuilt = dataset.load(tables.open_table(csv), cache=cache, **kw)
    assert not rebuilt.reused
    # other settings rebuild too
    assert not dataset.load(tables.open_table(csv), cache=cache, **{**kw, "seed": 1}).reused


def test_interrupted_conversion_leaves_no_trusted_cache(tmp_path, csv, monkeypatch):
    kw = dict(target="label", features=[f"f{i}" for i in range(6)], task="auto",
              validation=0.2, seed=0, standardize=True, dtype="float32", chunk_rows=500)
    cache = tmp_path / "m.cache"
    real, calls = dataset.features_of, []

    def dies_on_the_fourth_chunk(*args, **kwargs):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(dataset, "features_of", dies_on_the_fourth_chunk)
    with pytest.raises(KeyboardInterrupt):
        dataset.load(tables.open_table(csv), cache=cache, **kw)
    assert not (cache / "cache.json").exists()
    monkeypatch.setattr(dataset, "features_of", real)
    rebuilt = dataset.load(tables.open_table(csv), cache=cache, **kw)
    assert not rebuilt.reused
    memory = dataset.load(tables.open_table(csv), cache=None, **kw)
    assert np.array_equal(rebuilt.X_train, memory.X_train)
    # a cache whose arrays were damaged after completion but whose mark claims completeness
    # is still only trusted while the source file is unchanged: it is the mark that is atomic
    assert sorted(p.name for p in cache.iterdir()) == ["X_train.npy", "X_val.npy",
                                                       "cache.json", "y_train.npy",
                                                       "y_val.npy"]


def test_parallel_conversion_gives_the_arrays_of_one_pass(tmp_path, csv, monkeypatch):
    kw = dict(target="label", features=[f"f{i}" for i in range(6)], task="auto",
              validation=0.2, seed=0, standardize=True, dtype="float32", chunk_rows=400)
    one = dataset.load(tables.open_table(csv), cache=None, **kw)
    used = []
    real = dataset._read_parallel

    def spy(*args, **kwargs):
        result = real(*args, **kwargs)
        used.append(result is not None)
        return result

    monkeypatch.setattr(dataset, "PARALLEL_BYTES", 0)          # every file counts as large
    monkeypatch.setattr(dataset, "_parse_workers", lambda table: 3)
    monkeypatch.setattr(dataset, "_read_parallel", spy)
    par = dataset.load(tables.open_table(csv), cache=tmp_path / "p.cache", **kw)
    assert used == [True]
    for name in ("X_train", "X_val", "y_train", "y_val"):
        assert np.array_equal(getattr(par, name), getattr(one, name)), name
    assert par.targets.classes == one.targets.classes
    assert not list((tmp_path / "p.cache").glob("raw*"))
    # a quoted field (it could hide a line end): the single pass, same result
    quoted = tmp_path / "quoted.csv"
    quoted.write_text(csv.read_text().replace(",yes,", ',"yes",'))
    used.clear()
    again = dataset.load(tables.open_table(quoted), cache=tmp_path / "q.cache", **kw)
    assert used == [False] and np.array_equal(again.X_train, one.X_train)
    # a bad value: the single pass names its row in the whole file
    frame = _table(3000)
    frame["f3"] = frame["f3"].astype(object)
    frame.loc[2718, "f3"] = "n/a?"
    bad = tmp_path / "bad.csv"
    frame.to_csv(bad, index=False)
    with pytest.raises(GlassnetError, match=r"'n/a\?' in data row 2719"):
        dataset.load(tables.open_table(bad), cache=tmp_path / "b.cache", **kw)


# --- the split in blocks: drawn where the rows are parsed, the same bits ---------------------------

def _labelled(n: int, kind: str, seed: int = 0) -> pd.DataFrame:
    """A table whose label column is text, whole numbers, text mixed with numbers, or has a
    class so rare that most blocks hold one row of it or none."""
    frame = _table(n, seed)
    rng = np.random.default_rng(seed + 1)
    if kind == "numbers":
        frame["label"] = rng.integers(0, 4, n)
    elif kind == "mixed":
        frame["label"] = frame["label"].astype(object)
        frame.loc[n // 2:, "label"] = rng.integers(0, 3, n - n // 2)   # numbers after text
    elif kind == "rare":
        frame["label"] = np.where(rng.random(n) < 0.002, "rare", frame["label"])
    return frame


@pytest.mark.parametrize("target,kind,task", [("label", "text", "auto"),
                                              ("label", "numbers", "auto"),
                                              ("label", "numbers", "classification"),
                                              ("label", "mixed", "auto"),
                                              ("label", "rare", "auto"),
                                              ("value", "text", "auto"),
                                              ("value", "text", "regression")])
def test_parallel_block_work_gives_the_arrays_of_one_pass(tmp_path, monkeypatch, target, kind,
                                                           task):
    """Blocks of 256 rows: each parsing process splits its blocks and takes their
    statistics; the parent only merges them (it reads no block back, except the few that
    a mixed column or a class wholly held out sends back to it), and every array equals
    the in-memory load's."""
    monkeypatch.setattr(dataset, "BLOCK_ROWS", 256)
    path = tmp_path / "data.csv"
    _labelled(5000, kind).to_csv(path, index=False)
    kw = dict(target=target, features=[f"f{i}" for i in range(6)], task=task,
              validation=0.2, seed=4, standardize=True, dtype="float32", chunk_rows=700)
    one = dataset.load(tables.open_table(path), cache=None, **kw)
    monkeypatch.setattr(dataset, "PARALLEL_BYTES", 0)
    monkeypatch.setattr(dataset, "_parse_workers", lambda table: 3)
    read_back = []
    real_part = dataset.training_part
    monkeypatch.setattr(dataset, "training_part",
                        lambda X, held: read_back.append(1) or real_part(X, held))
    seen = []
    par = dataset.load(tables.open_table(path), cache=tmp_path / "p.cache",
                       progress=lambda done, total: seen.append((done, total)), **kw)
    for name in ("X_train", "X_val", "y_train", "y_val"):
        assert np.array_equal(getattr(par, name), getattr(one, name)), name
    size = path.stat().st_size                     # the processes' bytes, counted as read
    assert seen[-1] == (size, size) and seen == sorted(seen)
    assert par.targets.classes == one.targets.classes
    assert np.array_equal(par.scaler.mean, one.scaler.mean)
    assert np.array_equal(par.scaler.std, one.scaler.std)
    blocks = -(-5000 // 256)
    if kind == "mixed":          # the blocks of numbers sort their labels otherwise
        assert 0 < len(read_back) < blocks
    elif kind != "rare":
        assert read_back == []
    assert 0.18 < par.X_val.shape[0] / 5000 < 0.22
    if par.targets.task == "classification":       # stratified: each class gives its share
        for c in range(len(par.targets.classes)):
            total = np.sum(par.y_train == c) + np.sum(par.y_val == c)
            assert np.sum(par.y_train == c) >= 1
            if total > 100:
                assert abs(np.sum(par.y_val == c) / total - 0.2) < 0.04


def test_a_rare_class_is_held_out_its_share_and_always_trains():
    """One row of a class in each block: random rounding holds it out a fifth of the time
    (rounding to nearest never would), and the class keeps a training row even when the
    draws would hold out every one of its rows."""
    size = 50
    labels = np.zeros(size * 2000, dtype=np.int64)
    labels[::size] = 1                                   # the first row of every block
    held = np.concatenate([dataset.split_block(size, 0.2, 7, b, labels[b * size:(b + 1) * size])
                           + b * size for b in range(2000)])
    assert 340 < np.sum(labels[held] == 1) < 460         # 400 of 2000, give or take 18
    t = dataset.Targets("classification", np.array([0, 0, 0, 0, 1, 0, 0, 0]), ["a", "b"], 1)
    X = np.arange(16.0).reshape(8, 2)
    for seed in range(40):           # some seeds hold out the lone "b" row: it comes back
        rows = dataset.split(X, t, True, 0.5, seed, True)
        assert 4 in rows.train
        kept = rows.train
        mean, std = rows.moments.result()
        assert np.allclose(mean, X[kept].mean(axis=0)) and np.allclose(std, X[kept].std(axis=0))


def test_a_table_of_one_block_is_split_as_holdout_split():
    rng = np.random.default_rng(3)
    for trial in range(40):
        n = int(rng.integers(2, 500))
        fraction, seed = float(rng.uniform(0.05, 0.9)), int(rng.integers(0, 100))
        assert np.array_equal(dataset.split_block(n, fraction, seed, 0),
                              D.holdout_split(n, fraction, seed)[1])
        # stratified: the same shuffles; only the rounding of each class's share differs
        codes = rng.integers(0, 3, n)
        held = dataset.split_block(n, fraction, seed, 0, codes)
        draw = np.random.default_rng(seed)
        for c in np.unique(codes):
            order = draw.permutation(np.flatnonzero(codes == c))
            mine = np.intersect1d(held, order)
            assert abs(mine.size - fraction * order.size) < 1
            assert set(mine) == set(order[:mine.size])


def test_blocks_hold_at_most_16_mb_of_float64_rows():
    assert dataset.block_rows(20) == 65_536                  # 10 MB
    assert dataset.block_rows(32) == 65_536 and dataset.block_rows(33) == 32_768
    assert dataset.block_rows(784) == 2048                   # 12.8 MB
    assert dataset.block_rows(10 ** 6) == 1024               # never fewer


@pytest.mark.parametrize("parts,rows", [(2, 7), (3, 50), (4, 1000), (5, 3)])
@pytest.mark.parametrize("ending", ["\n", ""])
def test_block_starts_are_the_lines_of_whole_blocks(tmp_path, monkeypatch, parts, rows, ending):
    rng = np.random.default_rng(parts * rows)
    lines = ["h1,h2"] + [",".join(map(str, rng.integers(0, 10 ** int(rng.integers(1, 9)), 2)))
                         for _ in range(1003)]
    path = tmp_path / "lines.csv"
    path.write_text("\n".join(lines) + ending)
    data = path.read_bytes()
    begin = data.index(b"\n") + 1
    starts = dataset.block_starts(path, begin, len(data), parts, rows)
    line_starts = [begin] + [i + 1 for i in range(begin, len(data)) if data[i] == 10]
    assert len(starts) <= parts - 1 and [line for _, line in starts] == sorted(
        {line for _, line in starts})
    for byte, line in starts:
        assert line % rows == 0 and line > 0 and byte == line_starts[line] < len(data)
    if rows <= 50:                                # short blocks: every cut is found
        assert len(starts) == parts - 1


def _memory_and_parallel(path, cache, monkeypatch, workers, **kw):
    """The in-memory load of ``path``, its load by ``workers`` parsing processes into
    ``cache``, and whether the parallel pass was used (False: it sent the file back)."""
    one = dataset.load(tables.open_table(path), cache=None, **kw)
    used = []
    real = dataset._read_parallel
    monkeypatch.setattr(dataset, "PARALLEL_BYTES", 0)
    monkeypatch.setattr(dataset, "_parse_workers", lambda table: workers)
    monkeypatch.setattr(dataset, "_read_parallel",
                        lambda *a, **k: used.append(real(*a, **k)) or used[-1])
    par = dataset.load(tables.open_table(path), cache=cache, **kw)
    assert len(used) == 1
    return one, par, used[0] is not None


def test_parallel_conversion_of_a_file_with_windows_line_ends(tmp_path, monkeypatch):
    monkeypatch.setattr(dataset, "BLOCK_ROWS", 256)
    path = tmp_path / "crlf.csv"
    _table(3000).to_csv(path, index=False, lineterminator="\r\n")
    one, par, parallel = _memory_and_parallel(
        path, tmp_path / "c.cache", monkeypatch, 3, target="label",
        features=[f"f{i}" for i in range(6)], task="auto", validation=0.2, seed=2,
        standardize=True, dtype="float64", chunk_rows=400)
    assert parallel
    for name in ("X_train", "X_val", "y_train", "y_val"):
        assert np.array_equal(getattr(par, name), getattr(one, name)), name


def test_a_blank_line_sends_the_conversion_to_the_single_pass(tmp_path, csv, monkeypatch):
    monkeypatch.setattr(dataset, "BLOCK_ROWS", 256)
    text = csv.read_text().splitlines()
    blank = tmp_path / "blank.csv"
    blank.write_text("\n".join(text[:1500] + [""] + text[1500:]) + "\n")
    one, par, parallel = _memory_and_parallel(
        blank, tmp_path / "b.cache", monkeypatch, 2, target="label",
        features=[f"f{i}" for i in range(6)], task="auto", validation=0.2, seed=0,
        standardize=True, dtype="float32", chunk_rows=400)
    assert one.rows == 3000 and not parallel
    assert np.array_equal(par.X_train, one.X_train) and np.array_equal(par.y_val, one.y_val)


def test_page_guard_keeps_mapped_pages_bounded_and_values_intact(tmp_path):
    if dataset.PageGuard.mapped_file_bytes() is None:
        pytest.skip("no /proc/self/status RssFile on this system")
    import time
    path = tmp_path / "big.npy"
    values = np.arange(16 * 2 ** 20 // 8, dtype=np.float64)          # 16 MB
    np.save(path, values)
    mapped = np.load(path, mmap_mode="r")
    expected = float(values.sum())
    with dataset.PageGuard([mapped], allowance=2 ** 20, interval=0.01) as guard:
        for _ in range(3):
            assert float(mapped.sum()) == expected                    # every page touched
            time.sleep(0.1)
        # the guard has dropped the pages since: far less than the 16 MB is still mapped
        assert dataset.PageGuard.mapped_file_bytes() < guard.limit + 8 * 2 ** 20
        assert guard.released >= 1
    unguarded = dataset.PageGuard.mapped_file_bytes()
    float(mapped.sum())
    assert dataset.PageGuard.mapped_file_bytes() > unguarded + 8 * 2 ** 20   # the contrast


def test_a_bad_value_is_named_by_its_row_in_the_whole_file(tmp_path, capsys):
    frame = _table(1000)
    frame["f2"] = frame["f2"].astype(object)
    frame.loc[836, "f2"] = "oops"                        # data row 837
    path = tmp_path / "bad.csv"
    frame.to_csv(path, index=False)
    assert _cli("train", path, "--target", "label", "--chunk-rows", "100", "-q",
                "-o", tmp_path / "m.glassnet", "--max-memory", "1KB") == 2
    assert "'oops' in data row 837" in capsys.readouterr().err
    good = tmp_path / "good.csv"
    _table(1000).to_csv(good, index=False)
    assert _cli("train", good, "--target", "label", "--epochs", "1", "-q",
                "-o", tmp_path / "m.glassnet") == 0
    capsys.readouterr()
    frame = _table(1000).drop(columns=["label"])
    frame.loc[511, "f1"] = np.nan                        # data row 512
    frame.to_csv(path, index=False)
    assert _cli("predict", tmp_path / "m.glassnet", path, "--chunk-rows", "64",
                "--ignore-extra") == 2
    assert "data row 512" in capsys.readouterr().err


def test_max_memory_sizes():
    assert dataset.parse_size("1GB") == 2 ** 30 and dataset.parse_size("512mb") == 2 ** 29
    assert dataset.parse_size("2.5G") == int(2.5 * 2 ** 30)
    assert dataset.parse_size("100000") == 100000
    for bad in ("lots", "-1GB", "0", "1XB", "nanMB"):
        with pytest.raises(GlassnetError, match="--max-memory must be a size"):
            dataset.parse_size(bad)


def test_moments_are_exact_and_do_not_overflow():
    rng = np.random.default_rng(0)
    X = rng.normal(1e8, 1.0, size=(5000, 3))
    mean, std = dataset.moments(X, block=333)
    exact = X.astype(np.longdouble)
    np.testing.assert_allclose(mean, exact.mean(axis=0).astype(float), rtol=1e-14)
    # the spread is 1e-8 of the values: sum-of-squares formulas lose every digit here
    np.testing.assert_allclose(std, exact.std(axis=0).astype(float), rtol=1e-7)
    big = rng.normal(size=(1000, 2)) * 1e300           # squares overflow without the prescale
    m, s = dataset.moments(big, block=100)
    np.testing.assert_allclose(s / 1e300, (big / 1e300).std(axis=0), rtol=1e-12)


def test_moments_rescale_when_a_later_block_is_larger():
    # small values first, values near 1e299 only in the last block: the prescale taken
    # from the first block alone overflowed the squares there
    rng = np.random.default_rng(1)
    X = np.vstack([rng.normal(size=(300, 2)), rng.normal(size=(100, 2)) * 1e299])
    mean, std = dataset.moments(X, block=100)
    Z = X / 1e299
    np.testing.assert_allclose(mean / 1e299, Z.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(std / 1e299, Z.std(axis=0), rtol=1e-12)


def test_scale_rows_sends_each_row_to_its_split_once(monkeypatch):
    """One pass for both splits gives each split's rows scaled value by value."""
    monkeypatch.setattr(dataset, "BLOCK_ROWS", 37)          # splits cross block edges
    rng = np.random.default_rng(2)
    X = rng.normal(5.0, 3.0, size=(1000, 4))
    val = np.sort(rng.choice(1000, 200, replace=False))
    train = np.setdiff1d(np.arange(1000), val)
    scaler = D.Standardizer(X.mean(axis=0), X.std(axis=0))
    out_train, out_val = np.empty((800, 4), np.float32), np.empty((200, 4), np.float32)
    dataset.scale_rows(X, [(train, out_train), (val, out_val)], scaler)
    assert np.array_equal(out_train, scaler.transform(X[train]).astype(np.float32))
    assert np.array_equal(out_val, scaler.transform(X[val]).astype(np.float32))


@pytest.mark.parametrize("sizes", [[0], [1], [4096], [3, 8 * 2 ** 20, 5], [8 * 2 ** 20] * 2,
                                   [1_000_003, 2_500_000, 7], [2 * 8 * 2 ** 20 - 100],
                                   [5 * 2 ** 20] * 7])
@pytest.mark.parametrize("direct", [True, False])
def test_direct_file_writes_the_bytes_it_is_given(tmp_path, monkeypatch, sizes, direct):
    if not direct:                     # a system without O_DIRECT: the buffered file
        monkeypatch.delattr(os, "O_DIRECT", raising=False)
    rng = np.random.default_rng(len(sizes))
    pieces = [rng.bytes(k) for k in sizes]
    path = tmp_path / "f.bin"
    with dataset.DirectFile(path) as f:
        for piece in pieces:
            assert f.write(piece) == len(piece)
    assert path.read_bytes() == b"".join(pieces)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("direct", [True, False])
def test_scaled_copy_written_by_several_processes_is_that_of_one(tmp_path, monkeypatch, dtype,
                                                                 direct):
    """Three processes, each a stretch of both files starting on a block boundary (7
    features: rows of 28 or 56 bytes), write the bytes one pass writes."""
    if not direct:
        monkeypatch.delattr(os, "O_DIRECT", raising=False)
    rng = np.random.default_rng(5)
    X = rng.normal(3.0, 2.0, size=(20_011, 7))
    spill = tmp_path / "raw.0.tmp"
    X[:12_000].tofile(spill)
    X[12_000:].tofile(tmp_path / "raw.1.tmp")
    raw = dataset._RawFile([(spill, 12_000), (tmp_path / "raw.1.tmp", 8011)], 7)
    val = np.sort(rng.choice(20_011, 4003, replace=False))
    train = np.setdiff1d(np.arange(20_011), val)
    scaler = D.Standardizer(X.mean(axis=0), X.std(axis=0))
    monkeypatch.setattr(dataset, "_scale_workers", lambda raw: 3)
    outputs = [(train, tmp_path / "X_train.npy"), (val, tmp_path / "X_val.npy")]
    dataset.write_scaled(raw, outputs, scaler, dtype)
    for rows, path in outputs:
        got = np.load(path, mmap_mode="r")
        assert got.dtype == dtype and got.offset == dataset.HEADER_BYTES
        assert np.array_equal(got, scaler.transform(X[rows]).astype(dtype))
        assert path.stat().st_size == dataset.HEADER_BYTES + got.nbytes


def test_direct_file_reports_a_failed_write_and_falls_back_when_refused(tmp_path,
                                                                        monkeypatch):
    if not hasattr(os, "O_DIRECT"):
        pytest.skip("no O_DIRECT on this system")
    real, calls = os.write, []

    def full_disk_on_the_third(fd, data):
        calls.append(len(data))
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        return real(fd, data)

    monkeypatch.setattr(os, "write", full_disk_on_the_third)
    piece = dataset.DirectFile.PIECE
    with pytest.raises(OSError, match="No space left"):        # written by the thread
        with dataset.DirectFile(tmp_path / "full.bin") as f:
            for _ in range(5):
                f.write(b"x" * piece)

    def refuses_the_first(fd, data):          # a file system that takes no direct write
        if not calls:
            calls.append(1)
            raise OSError(22, "Invalid argument")
        return real(fd, data)

    calls.clear()
    monkeypatch.setattr(os, "write", refuses_the_first)
    data = np.random.default_rng(0).bytes(2 * piece + 11)
    with dataset.DirectFile(tmp_path / "plain.bin") as f:
        assert f.write(data) == len(data)
    assert f.plain is not None and (tmp_path / "plain.bin").read_bytes() == data


# --- predict: streamed == in memory, flat memory -------------------------------------------------

def _train_model(tmp_path, csv):
    model = tmp_path / "m.glassnet"
    assert _cli("train", csv, "--target", "label", "--features", "f0,f1,f2,f3,f4,f5",
                "--epochs", "2", "-q", "-o", model) == 0
    return model


def test_streamed_predict_equals_in_memory_predict(tmp_path, csv):
    model = _train_model(tmp_path, csv)
    assert _cli("predict", model, csv, "--proba", "--keep", "value", "--chunk-rows", "7",
                "-o", tmp_path / "a.csv") == 0
    streamed = pd.read_csv(tmp_path / "a.csv")
    net = glassnet.load(model)
    frame = pd.read_csv(csv)
    X = D.Standardizer.from_dict(net.metadata["scaling"], 6).transform(
        frame[[f"f{i}" for i in range(6)]].to_numpy())
    proba = net.predict_proba(X)
    assert len(streamed) == len(frame)
    np.testing.assert_array_equal(streamed["value"], frame["value"])
    classes = net.metadata["classes"]
    assert list(streamed["predicted_label"] if "predicted_label" in streamed else
                streamed["label"]) == [classes[k] for k in proba.argmax(axis=1)]
    for k, c in enumerate(classes):
        np.testing.assert_allclose(streamed[f"proba_{c}"], proba[:, k], rtol=1e-12)


def _predict_peak(tmp_path, model, rows: int) -> int:
    path = tmp_path / f"p{rows}.csv"
    _table(rows, seed=1).to_csv(path, index=False)
    tracemalloc.start()
    try:
        assert _cli("predict", model, path, "--chunk-rows", "1000", "--ignore-extra", "-o",
                    tmp_path / f"out{rows}.csv") == 0
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_predict_peak_memory_does_not_grow_with_the_file(tmp_path, csv, capsys):
    model = _train_model(tmp_path, csv)
    small = _predict_peak(tmp_path, model, 8_000)
    large = _predict_peak(tmp_path, model, 80_000)         # 10x the rows
    features_large = 80_000 * 6 * 8                        # its features as float64: 3.8 MB
    assert large < 1.2 * small + 200_000, (small, large)
    assert large < features_large, (small, large)     # reading it whole would hold more


# --- Parquet -------------------------------------------------------------------------------------

def test_parquet_in_and_out(tmp_path, csv):
    pytest.importorskip("pyarrow")
    pq_path = tmp_path / "data.parquet"
    pd.read_csv(csv).to_parquet(pq_path, index=False)
    common = ["--target", "label", "--epochs", "2", "--seed", "1", "-q", "--features",
              "f0,f1,f2,f3,f4,f5"]
    assert _cli("train", csv, *common, "-o", tmp_path / "c.glassnet") == 0
    assert _cli("train", pq_path, *common, "-o", tmp_path / "p.glassnet",
                "--chunk-rows", "400") == 0
    a, b = glassnet.load(tmp_path / "c.glassnet"), glassnet.load(tmp_path / "p.glassnet")
    assert np.array_equal(a.params, b.params)
    assert _cli("predict", tmp_path / "p.glassnet", pq_path, "--ignore-extra",
                "-o", tmp_path / "out.parquet", "--chunk-rows", "999") == 0
    assert _cli("predict", tmp_path / "p.glassnet", csv, "--ignore-extra",
                "-o", tmp_path / "out.csv") == 0
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "out.parquet"),
                                  pd.read_csv(tmp_path / "out.csv"))
    # column errors as for CSV
    with pytest.raises(GlassnetError, match="there is no target column 'lable'.*Did you mean"):
        D.check_target_column(tables.open_table(pq_path), "lable", str(pq_path))
    (tmp_path / "junk.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(GlassnetError, match="cannot be read as Parquet"):
        tables.open_table(tmp_path / "junk.parquet")


# --- Dask and chunks in fit ----------------------------------------------------------------------

def _xy(n=900, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4)).astype(np.float32)
    return X, (X[:, 0] + X[:, 1] > 0).astype(int)


def _fit(X, y, shuffle=True, **kw):
    net = glassnet.Network([4, 8, 2], seed=1, dtype="float32")
    history = net.fit(X, y, epochs=3, batch_size=32, optimizer="adam", learning_rate=0.01,
                      shuffle=shuffle, **kw)
    return net, history


@pytest.fixture(scope="module")
def dask_client():
    pytest.importorskip("dask.distributed")
    from dask.distributed import Client, LocalCluster
    with LocalCluster(processes=False, n_workers=1, threads_per_worker=1,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        yield client


def test_dask_array_trains_to_the_weights_of_its_numpy_twin(dask_client):
    import dask.array as da
    X, y = _xy()
    Xd, yd = da.from_array(X, chunks=(250, 4)), da.from_array(y, chunks=250)
    net, history = _fit(Xd, yd, metrics=["accuracy"], validation_data=(X[:100], y[:100]))
    twin, _ = _fit([(X[i:i + 250], y[i:i + 250]) for i in range(0, len(X), 250)], None)
    assert np.array_equal(net.params, twin.params)
    assert history.accuracy[-1] > 0.9 and history.val_accuracy[-1] > 0.9
    # without shuffling, the rows' own order: the same as fit on the NumPy array itself
    a, _ = _fit(Xd, yd, shuffle=False)
    b, _ = _fit(X, y, shuffle=False)
    assert np.array_equal(a.params, b.params)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_dask_dataframe_and_the_estimators(dask_client):
    import dask.array as da
    import dask.dataframe as dd
    from glassnet.sklearn import GlassClassifier
    X, y = _xy()
    frame = dd.from_pandas(pd.DataFrame(X, columns=list("abcd")), npartitions=3)
    labels = dd.from_pandas(pd.Series(y), npartitions=3)
    a, _ = _fit(frame, labels, shuffle=False)
    b, _ = _fit(X, y, shuffle=False)
    assert np.array_equal(a.params, b.params)
    clf = GlassClassifier(hidden_layer_sizes=(8,), max_iter=20, random_state=0)
    clf.fit(da.from_array(X, chunks=(300, 4)), da.from_array(y, chunks=300))
    mem = GlassClassifier(hidden_layer_sizes=(8,), max_iter=20, random_state=0).fit(X, y)
    assert clf.score(X, y) > 0.9 and clf.score(X, y) > mem.score(X, y) - 0.03
    assert clf.n_features_in_ == 4
    np.testing.assert_allclose(clf.mean_, mem.mean_, rtol=1e-6, atol=1e-7)


def test_iterables_of_chunks():
    X, y = _xy()
    chunks = [(X[i:i + 200], y[i:i + 200]) for i in range(0, len(X), 200)]
    a, _ = _fit(sources.Chunks(lambda: iter(chunks)), None, shuffle=False)
    b, _ = _fit(X, y, shuffle=False)
    assert np.array_equal(a.params, b.params)
    with pytest.raises(GlassnetError, match="one-shot iterator"):
        _fit((c for c in chunks), None)
    with pytest.raises(GlassnetError, match="validation_split"):
        _fit(chunks, None, validation_split=0.2)
    bad = chunks[:2] + [(X[:10], np.full(10, 7))]
    with pytest.raises(GlassnetError, match="block 2 of the training data"):
        _fit(bad, None)


# --- progress: reading and batches ---------------------------------------------------------------

def test_cli_progress_counts_batches_within_an_epoch():
    from rich.console import Console

    from glassnet.cli.train import ProgressBar
    X, y = _xy(640)
    bar = ProgressBar(2, Console(file=io.StringIO(), force_terminal=True))
    seen = []

    class Spy(glassnet.callbacks.Callback):
        def on_batch_end(self, ctx, logs):
            if ctx.batch == 9:     # mid-epoch: the bar has moved (it redraws at most 10/s)
                bar._next = 0.0
                seen.append(bar.progress.tasks[0].completed)

    net = glassnet.Network([4, 8, 2], seed=0)
    net.fit(X, y, epochs=2, batch_size=32, callbacks=[Spy(), bar])
    task = bar.progress.tasks[0]
    assert task.total == 2 * 20 and task.completed == 40
    assert seen and 0 < seen[0] < 20


def test_reading_progress_reports_bytes(tmp_path, csv):
    reports = []
    chunks = list(tables.open_table(csv).chunks(500, progress=lambda d, t: reports.append(
        (d, t))))
    assert len(chunks) == 6 and reports[-1][0] == reports[-1][1] == os.path.getsize(csv)
    assert [c.first_row for c in chunks] == [1, 501, 1001, 1501, 2001, 2501]


def test_train_shows_reading_and_conversion_progress(tmp_path, csv, capsys, monkeypatch):
    import glassnet.cli.train as cli_train
    monkeypatch.setattr(cli_train, "READING_BAR_BYTES", 0)     # every file counts as large
    assert _cli("train", csv, "--target", "label", "--epochs", "1", "--max-memory", "1KB",
                "-o", tmp_path / "m.glassnet") == 0
    err = capsys.readouterr().err
    assert "converting" in err and "training" in err
    assert _cli("train", csv, "--target", "label", "--epochs", "1",
                "-o", tmp_path / "n.glassnet") == 0
    assert "reading" in capsys.readouterr().err
