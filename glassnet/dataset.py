"""A training table as arrays, in memory or as a memory-mapped cache beside the model.

:func:`load` reads a CSV or Parquet table once, chunk by chunk, and returns the scaled
training and validation rows ready for ``fit``.  Both ways of holding them run the **same
arithmetic in the same order**, so they train the same model bit for bit:

1. every chunk's features become float64 (a bad value is named by its row in the whole
   file) and its targets are collected (text labels as small integer codes);
2. the rows are taken in blocks of :data:`BLOCK_ROWS` (fewer for wide tables,
   :func:`block_rows`), and each block draws its own validation rows from its own seeded
   generator (:func:`split_block`, stratified for classification); every class keeps a
   training row (:func:`split`);
3. each block's training rows give their column statistics (:func:`part_of`), merged in
   block order (:class:`Moments`, Chan et al.'s pairwise update: exact to rounding, no
   catastrophic cancellation, no overflow for large values thanks to a power-of-two
   prescale);
4. the rows are scaled, ``(x - mean) / std`` in float64, and stored in the training dtype,
   one block at a time.

Because a block's split and statistics need only its own rows, a large CSV converted into
the cache is parsed by several processes that also do steps 2 and 3 for their blocks while
the rows are in memory: the table is read from the file once and its float64 copy once.

In memory (the default for tables that fit the memory budget) the float64 features are held
in RAM.  Above the budget they go to a temporary file, and step 4 writes
``MODEL.cache/X_train.npy`` and ``X_val.npy``, memory-mapped while training, so the process
holds one chunk and one batch besides the network.  The cache records what it was made
from (the file's size, modification time and a hash of a sample of its bytes, and the
settings); a run on the same file with the same settings reuses it and any change
rebuilds it.  ``cache.json`` is written last and atomically: a conversion that was
interrupted leaves no ``cache.json``, so no later run trusts its half-written arrays.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from . import data as D
from . import tables
from ._validation import GlassnetError
from .io import atomic_write

#: rows per block: the unit of the validation split, of the statistics and of the scaled
#: copy (fixed, so that the split and every bit of the statistics do not depend on how the
#: file was chunked or on how many processes parsed it); fewer for wide tables
BLOCK_ROWS = 65_536
#: at most this many bytes of float64 rows in a block (:func:`block_rows`) ...
BLOCK_BYTES = 16 * 2 ** 20
#: ... but never fewer rows than this
MIN_BLOCK_ROWS = 1024
#: bumped whenever the cache's layout or arithmetic changes (an older cache is rebuilt)
CACHE_VERSION = 2
CACHE_MARK = "cache.json"


# --- statistics ----------------------------------------------------------------------------------

@dataclass
class Part:
    """One block's column statistics, at the block's own power-of-two scale (see
    :class:`Moments`): what a parsing process hands back instead of its rows."""

    count: int
    mean: np.ndarray              # (d,) mean of x / scale
    m2: np.ndarray                # (d,) sum of squared deviations of x / scale
    low: np.ndarray               # (d,) smallest and largest x (unscaled)
    high: np.ndarray
    scale: np.ndarray             # (d,) a power of two near the largest |x|


def part_of(X, keep: np.ndarray | None = None) -> Part | None:
    """The statistics of a block of rows ``X`` (rows, d), or of its rows where ``keep`` is
    True; None for no rows.

    Computed on the columns as contiguous rows, ``(d, rows)``: every reduction then runs
    along memory (pairwise sums, SIMD minima), twice as fast as down the columns of
    ``(rows, d)``, and free of a copy for the column-ordered arrays pandas hands over.
    Whatever the input's order the values and the sums are the same, so are the bits.
    """
    X = np.asarray(X, dtype=np.float64)
    columns = X.T if keep is None else np.compress(keep, X.T, axis=1)   # (d, rows)
    if columns.shape[1] == 0:
        return None
    low, high = columns.min(axis=1), columns.max(axis=1)
    biggest = np.maximum(-low, high)                     # max |x|, without an |X| array
    scale = np.exp2(np.floor(np.log2(np.where(biggest > 0, biggest, 1.0))))
    Z = np.divide(columns, scale[:, None], order="C")    # (d, rows), C-ordered
    mean = Z.mean(axis=1)
    Z -= mean[:, None]
    np.square(Z, out=Z)
    return Part(columns.shape[1], mean, Z.sum(axis=1), low, high, scale)


class Moments:
    """Column means and (population) standard deviations merged block by block.

    Each block's mean and sum of squared deviations ``M2`` (a :class:`Part`) are merged into
    the running ones with Chan, Golub and LeVeque's update::

        delta = mean_b - mean;  n = n_a + n_b
        mean += delta * n_b / n;  M2 += M2_b + delta**2 * n_a * n_b / n

    Columns are first divided by a power of two (exact, so nothing is rounded) so that
    values near the largest float do not overflow the squares.  Each block uses the power
    of its own largest ``|x|``; before a merge both sides are restated at the larger of
    the two powers, again exactly, so the result does not depend on where the large values
    sit in the file.  The merge order is the blocks' order in the file, fixed, so every
    bit of the result is the same however (and by how many processes) the blocks were
    computed.
    """

    def __init__(self):
        self.count, self.mean, self.m2, self.scale = 0, None, None, None
        self.low = self.high = None      # per column: constant only when low == high

    def add(self, part) -> None:
        """Merge a block: a :class:`Part`, or an array of rows (its :func:`part_of`)."""
        if part is not None and not isinstance(part, Part):
            part = part_of(part)
        if part is None:
            return
        if self.count == 0:
            self.count, self.mean, self.m2 = part.count, part.mean, part.m2
            self.low, self.high, self.scale = part.low, part.high, part.scale
            return
        scale = np.maximum(self.scale, part.scale)
        ra, rb = self.scale / scale, part.scale / scale        # powers of two, <= 1
        mean_a, m2_a = self.mean * ra, self.m2 * (ra * ra)
        mean_b, m2_b = part.mean * rb, part.m2 * (rb * rb)
        total = self.count + part.count
        delta = mean_b - mean_a
        self.mean = mean_a + delta * (part.count / total)
        self.m2 = m2_a + m2_b + delta * delta * (self.count * part.count / total)
        self.count, self.scale = total, scale
        self.low, self.high = np.minimum(self.low, part.low), np.maximum(self.high, part.high)

    def result(self):
        """(mean, std); an error naming the columns whose statistics do not fit a float."""
        if self.count == 0:
            raise GlassnetError("no training rows to compute the feature statistics from.")
        with np.errstate(over="ignore"):
            mean, std = self.mean * self.scale, np.sqrt(self.m2 / self.count) * self.scale
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(std))):
            bad = np.flatnonzero(~(np.isfinite(mean) & np.isfinite(std)))[:5].tolist()
            raise GlassnetError(f"the feature columns at positions {bad} have values too large "
                                "to standardise; rescale them or do not standardise.")
        return mean, std


def moments(X, rows: np.ndarray | None = None, block: int = BLOCK_ROWS):
    """Column means and standard deviations of ``X[rows]`` (:class:`Moments`, a block at a time).

    >>> X = np.random.default_rng(0).normal(5, 2, size=(1000, 3))
    >>> mean, std = moments(X, block=64)
    >>> bool(np.allclose(mean, X.mean(0)) and np.allclose(std, X.std(0)))
    True
    """
    n_rows = X.shape[0] if rows is None else rows.size
    acc = Moments()
    for start in range(0, n_rows, block):
        acc.add(X[start:start + block] if rows is None else X[rows[start:start + block]])
    return acc.result()


def standardizer(acc: Moments | None, names=None) -> D.Standardizer:
    """The scaling of the training rows from their merged statistics (None: no scaling, of
    ``len(names)`` columns).  As :func:`glassnet.data.column_stats`: a column is constant
    (std 1: only centred) only when all its values are equal, and a varying column whose
    std float64 cannot hold (below 5e-324) is refused by name."""
    if acc is None:
        return D.Standardizer(np.zeros(len(names)), np.ones(len(names)))
    mean, std = acc.result()
    constant = acc.low == acc.high
    std[constant] = 1.0
    bad = np.flatnonzero(~(std > 0))
    if bad.size:
        shown = (D.quote_names([names[c] for c in bad[:5]]) if names is not None
                 else str(bad[:5].tolist()))
        raise GlassnetError(f"the column(s) {shown} cannot be standardised in float64: their "
                            "values vary by less than it can tell apart. Rescale them before "
                            "training.")
    return D.Standardizer(mean, std)


def scale_rows(X, splits, scaler: D.Standardizer, first: int = 0,
               last: int | None = None) -> None:
    """``out[i] = (X[rows[i]] - mean) / std`` for each ``(rows, out)`` of ``splits`` (sorted
    rows that together cover the rows ``first:last`` of X once), cast to ``out``'s dtype.

    One pass over X, a block of rows at a time (:func:`block_rows`), each block's rows sent
    to their split: a spilled table is read back once for all the splits (the values are
    those of scaling each split on its own: the formula is applied value by value).
    """
    done = [0] * len(splits)
    step = block_rows(X.shape[1])
    last = X.shape[0] if last is None else last
    for start in range(first, last, step):
        stop = min(start + step, last)
        block = np.asarray(X[start:stop], dtype=np.float64)          # (<= step, d)
        for k, (rows, out) in enumerate(splits):
            end = int(np.searchsorted(rows, stop, side="left"))
            if end > done[k]:
                out[done[k]:end] = scaler.transform(block[rows[done[k]:end] - start])
                done[k] = end


# --- the validation split ------------------------------------------------------------------------

def block_rows(d: int) -> int:
    """Rows per block of a table of ``d`` features: :data:`BLOCK_ROWS`, halved while a block
    of float64 rows would exceed :data:`BLOCK_BYTES` (wide tables), to no fewer than
    :data:`MIN_BLOCK_ROWS`.  Fixed by the table's width alone, so the blocks (and with them
    the split and every bit of the statistics) do not depend on chunking or processes."""
    rows = BLOCK_ROWS
    while rows > MIN_BLOCK_ROWS and rows * max(1, d) * 8 > BLOCK_BYTES:
        rows //= 2
    return max(1, rows)


def split_block(n: int, fraction: float, seed: int | None, index: int,
                codes: np.ndarray | None = None) -> np.ndarray:
    """The rows of block ``index`` (``n`` rows) held out for validation, sorted, counted
    from the block's start.

    The block's generator is ``default_rng(seed)`` for the first block and the ``index``-th
    child of ``SeedSequence(seed)`` for the others, so each block is drawn on its own and
    a table of one block is split as :func:`glassnet.data.holdout_split` splits it.

    * Without ``codes`` (regression): ``round(fraction * n)`` rows of a permutation, at
      least one and at most ``n - 1``, as ``holdout_split``.
    * With class ``codes`` (any integers whose order is the labels' order): each class's
      rows, in the order of its shuffle, give their first ``floor(fraction * n_c + u)``
      rows, ``u`` uniform in [0, 1) drawn per class after the shuffles.  The rounding is
      random so that no class is favoured across blocks: a class with one row in each
      block would never be held out with ``round``; here it is, a ``fraction`` of the
      time.  (:func:`split` then keeps one row of each class for training.)
    """
    if not 0.0 <= fraction < 1.0:
        raise GlassnetError(f"the validation fraction must be in [0, 1). Got {fraction}.")
    if fraction == 0.0 or n < 2:
        return np.arange(0)
    rng = np.random.default_rng(
        seed if index == 0 else np.random.SeedSequence(seed, spawn_key=(index,)))
    if codes is None:
        order = rng.permutation(n)
        k = min(n - 1, max(1, int(round(fraction * n))))
        return np.sort(order[:k])
    codes = np.asarray(codes).reshape(-1)
    if codes.dtype.kind not in "iu" or codes.min() < 0:
        codes = np.unique(codes, return_inverse=True)[1].reshape(-1)
    counts = np.bincount(codes)
    by_class = np.argsort(codes, kind="stable")        # each class's rows, in row order
    ends = np.cumsum(counts)
    groups = []
    for c in np.flatnonzero(counts):                   # the classes in the labels' order
        rows = by_class[ends[c] - counts[c]:ends[c]]   # a view, shuffled in place
        rng.shuffle(rows)
        groups.append(rows)
    u = rng.random(len(groups))
    held = np.zeros(n, dtype=bool)
    for rows, draw in zip(groups, u):
        held[rows[:int(np.floor(fraction * rows.size + draw))]] = True
    return np.flatnonzero(held)


@dataclass
class BlockWork:
    """What a parsing process computed for one block, so the parent need not read it back:
    for each way the block may be split (``"random"``, ``"stratified"``), the held-out rows
    and the training rows' :class:`Part` (None without scaling)."""

    kind: str                     # the block's labels: 'text', 'number' or 'bool'
    results: dict


def training_part(X, held: np.ndarray) -> Part | None:
    """The statistics of the rows of the block ``X`` that are not ``held`` out."""
    if held.size == 0:
        return part_of(X)
    keep = np.ones(X.shape[0], dtype=bool)
    keep[held] = False
    return part_of(X, keep)


@dataclass
class Split:
    """The validation split of a whole table and its training rows' statistics."""

    train: np.ndarray             # sorted row numbers
    val: np.ndarray
    moments: Moments | None       # None without scaling


def split(raw, t: "Targets", text: bool, fraction: float, seed, standardize: bool,
          found: list | None = None) -> Split:
    """Split ``raw`` (rows, d: an array or a spilled file) block by block, stratified by
    class for classification, and merge the training rows' statistics in block order.

    ``found``: a :class:`BlockWork` per block from the parsing processes; a block whose
    work does not fit the task (the labels of a whole column decide it, and a block of
    numbers in a column with text sorts its labels differently) is done here instead,
    reading its rows back.  Both give the same bits.  Then every class keeps a row for
    training: a class whose rows were all held out gives back its first row.
    """
    n, d = raw.shape
    size = block_rows(d)
    if found is not None and len(found) != -(-n // size):
        found = None                     # not these blocks: all of them are done here
    classes = t.task == "classification"
    variant = "stratified" if classes else "random"
    held, parts = [], []
    for b, start in enumerate(range(0, n, size)):
        stop = min(start + size, n)
        work = found[b] if found is not None else None
        if work is not None and variant in work.results and \
                (not classes or (work.kind == "text") == text):
            h, part = work.results[variant]
        else:
            h = split_block(stop - start, fraction, seed, b,
                            t.y[start:stop] if classes else None)
            part = _MISSING
        held.append(h)
        parts.append(part)
    val = np.concatenate([h + b * size for b, h in enumerate(held)])
    if classes:
        back = _given_back(t.y, val)
        for row in back:                 # its block's training rows change: redone here
            b = row // size
            held[b] = held[b][held[b] != row - b * size]
            parts[b] = _MISSING
        if back.size:
            val = val[~np.isin(val, back)]
    acc = None
    if standardize:
        acc = Moments()
        for b, (h, part) in enumerate(zip(held, parts)):
            if part is _MISSING:
                part = training_part(raw[b * size:min((b + 1) * size, n)], h)
            acc.add(part)
    keep = np.ones(n, dtype=bool)
    keep[val] = False
    return Split(np.flatnonzero(keep), val, acc)


_MISSING = object()


def _given_back(labels, val) -> np.ndarray:
    """The first held-out row (in ``val``, sorted) of each class whose rows were all held
    out: given back to training, so that every class keeps a training row."""
    if val.size == 0:
        return np.arange(0)
    total = np.bincount(labels)
    out = np.bincount(labels[val], minlength=total.size)
    return np.array([val[labels[val] == c][0]
                     for c in np.flatnonzero((out == total) & (total > 0))], dtype=np.int64)


# --- targets -------------------------------------------------------------------------------------

class _Targets:
    """A target column collected chunk by chunk: numbers as arrays, text as integer codes."""

    def __init__(self):
        self.parts: list[np.ndarray] = []
        self.kinds: list[str] = []
        self.labels: dict = {}           # text label -> code in order of appearance

    def add_column(self, col, target: str, where: str, first_row: int) -> None:
        """A chunk's target column (a pandas Series); missing values are an error naming
        their rows in the whole file."""
        import pandas as pd
        if col.isna().any() or pd.api.types.is_numeric_dtype(col) or \
                pd.api.types.is_bool_dtype(col):
            self.add(D.target_values(col.to_frame(), target, where, first_row=first_row))
        else:                            # text: coded by hashing, without a string array
            self.parts.append(self._codes(col))          # the Series: no object array
            self.kinds.append("text")

    def add(self, values: np.ndarray) -> None:
        if values.dtype.kind in "biuf":
            self.parts.append(values)
            self.kinds.append("bool" if values.dtype.kind == "b" else "number")
        else:
            self.parts.append(self._codes(values.astype(str)))
            self.kinds.append("text")

    def _codes(self, text: np.ndarray) -> np.ndarray:
        import pandas as pd
        inverse, uniques = pd.factorize(text)             # hashing: no sort of the chunk
        if (inverse < 0).any():                           # None/NaN among objects
            raise GlassnetError("the target column has missing values.")
        ids = np.array([self.labels.setdefault(str(u), len(self.labels)) for u in uniques],
                       dtype=np.int64)
        return ids[inverse]

    def extend(self, other: "_Targets") -> None:
        """Append another collection's chunks (the rows after these), recoding its text."""
        ids = np.array([self.labels.setdefault(label, len(self.labels))
                        for label in other.labels], dtype=np.int64)
        for part, kind in zip(other.parts, other.kinds):
            self.parts.append(ids[part] if kind == "text" else part)
            self.kinds.append(kind)

    def is_text(self) -> bool:
        """Whether the column is text (any text, or numbers mixed with booleans)."""
        kinds = set(self.kinds)
        return not (kinds <= {"number"} or kinds == {"bool"})

    def block_codes(self, auto: bool) -> np.ndarray | None:
        """The last chunk's labels as integers in the labels' sorted order (the order of
        the codes :meth:`encoded` or :func:`glassnet.data.encode_labels` gives the whole
        column, when the column is all text or all numbers), or, when ``auto``, None for
        numbers that ``--task auto`` would not take as classes."""
        import pandas as pd
        kind, part = self.kinds[-1], self.parts[-1]
        if kind == "text":
            names = list(self.labels)                     # code -> label
            present = np.flatnonzero(np.bincount(part))
            order = sorted(range(present.size), key=lambda i: names[present[i]])
            rank = np.zeros(present[-1] + 1, dtype=np.int64)
            rank[present[order]] = np.arange(present.size)
            return rank[part]
        codes, uniques = pd.factorize(part, sort=True)
        if auto and kind == "number" and not (uniques.size <= D.MAX_AUTO_CLASSES and
                                     np.all(uniques == np.round(uniques))):
            return None
        return codes.astype(np.int64)

    def encoded(self):
        """Text labels as (codes 0..k-1 in sorted label order, sorted labels), as
        :func:`glassnet.data.encode_labels` gives them, without an array of strings; None
        for a numeric or boolean column."""
        if not self.is_text():
            return None
        if set(self.kinds) != {"text"}:
            self.values()                                 # numbers among text become text
        labels = list(self.labels)
        order = sorted(range(len(labels)), key=labels.__getitem__)
        rank = np.empty(len(labels), dtype=np.int64)
        rank[order] = np.arange(len(labels))
        codes = np.empty(sum(part.size for part in self.parts), dtype=np.int64)
        start = 0
        for part in self.parts:                   # one array for the codes, filled in place
            np.take(rank, part, out=codes[start:start + part.size])
            start += part.size
        return codes, [labels[i] for i in order]

    def values(self) -> np.ndarray:
        """The whole column: a numeric or boolean array, or (text) an object array of labels."""
        kinds = set(self.kinds)
        if kinds <= {"number"} or kinds == {"bool"}:
            return np.concatenate(self.parts)
        for i, kind in enumerate(self.kinds):   # a column mixing text and numbers is text
            if kind != "text":
                text = np.array([D.label_key(v) for v in self.parts[i]], dtype=object)
                self.parts[i], self.kinds[i] = self._codes(text.astype(str)), "text"
        table = np.empty(len(self.labels), dtype=object)
        table[:] = list(self.labels)
        return table[np.concatenate(self.parts)]


@dataclass
class Targets:
    """The target column ready for training: its task, codes or values, class labels."""

    task: str
    y: np.ndarray                 # codes 0..k-1 (classification) or float64 values
    classes: list | None
    n_outputs: int


def targets(values, task: str, target: str, where: str) -> Targets:
    """Classification codes and labels, or regression values, as ``glassnet train`` uses them.

    ``values``: the column as an array, or as collected chunk by chunk (text labels already
    coded, so no array of strings is made).
    """
    encoded = values.encoded() if isinstance(values, _Targets) else None
    if encoded is not None and task != "regression":
        codes, classes = encoded
        task = "classification"
    else:
        values = values.values() if isinstance(values, _Targets) else values
        task = D.detect_task(values, task)
    if task == "classification":
        if encoded is None:
            codes, classes = D.encode_labels(values)
        if len(classes) < 2:
            raise GlassnetError(f"{where}: the target column {target!r} holds a single "
                                f"class ({classes[0]!r}); classification needs at least two.")
        return Targets(task, codes, classes, 1 if len(classes) == 2 else len(classes))
    if values.dtype.kind not in "iuf":
        raise GlassnetError(f"{where}: --task regression needs a numeric target, but "
                            f"{target!r} holds text such as {str(values[0])!r}.")
    return Targets(task, values.astype(np.float64), None, 1)


# --- the training set ----------------------------------------------------------------------------

@dataclass
class TrainingSet:
    """What ``glassnet train`` fits on: scaled rows (arrays or memory maps) and their meaning."""

    X_train: np.ndarray          # (n_train, features), training dtype, scaled
    y_train: np.ndarray          # codes or values (original units)
    X_val: np.ndarray            # (n_val, features)
    y_val: np.ndarray
    features: list
    targets: Targets
    scaler: D.Standardizer
    rows: int
    cache: Path | None = None    # the cache folder, when memory-mapped
    reused: bool = False         # the cache was already there and matched


def load(table, *, target: str, features: Sequence[str], task: str, validation: float,
         seed: int, standardize: bool, dtype, chunk_rows: int, cache: Path | None = None,
         progress: Callable[[int, int], None] | None = None) -> TrainingSet:
    """Read ``table`` once and return the scaled training and validation rows.

    ``cache``: a folder for the memory-mapped arrays (None keeps everything in memory).
    """
    dtype = np.dtype(dtype)
    settings = {"version": CACHE_VERSION, "target": target, "features": list(features),
                "task": task, "validation": validation, "seed": seed,
                "standardize": standardize, "dtype": dtype.name, "sep": table.sep}
    if cache is None:
        return _load(table, target, features, task, validation, seed, standardize, dtype,
                     chunk_rows, None, progress, settings)
    found = _open_cache(cache, table, settings)
    if found is not None:
        return found
    # what the file is before reading it: a change while it is read is then seen
    settings = {**settings, "source": fingerprint(table.path)}
    try:
        _clear(cache)
        with small_pages():
            return _load(table, target, features, task, validation, seed, standardize, dtype,
                         chunk_rows, cache, progress, settings)
    except OSError as exc:          # a full disk, a read-only folder: say where and why
        raise GlassnetError(f"cannot write the training cache {str(cache)!r}: "
                            f"{exc.strerror or exc}. Free some space there, or raise "
                            "--max-memory to train in memory.") from None


@contextlib.contextmanager
def small_pages():
    """NumPy's hint that large arrays want huge pages (``madvise(MADV_HUGEPAGE)``), off
    for the block and restored after it.

    The conversion touches each of its large arrays once or twice.  Where the kernel
    compacts memory to find a huge page on the first touch (transparent huge pages with
    ``defrag=madvise``, the usual default), that costs more than the work: on the
    development machine, filling a fresh 1.6 GB array took 18 s with the hint and 0.6 s
    without; a 64 MB array of row numbers, 0.4 s and 0.03 s.  The hint changes no value.
    NumPy has no public switch for it (only the ``NUMPY_MADVISE_HUGEPAGE`` variable, read
    at import); where its private one is missing this does nothing.
    """
    setter = None
    for name in ("numpy._core.multiarray", "numpy.core.multiarray"):
        with contextlib.suppress(ImportError, AttributeError):
            setter = getattr(__import__(name, fromlist=["_"]), "_set_madvise_hugepage")
            break
    if setter is None:
        yield
        return
    previous = setter(False)
    try:
        yield
    finally:
        setter(previous)


def _load(table, target, features, task, validation, seed, standardize, dtype, chunk_rows,
          cache, progress, settings) -> TrainingSet:
    raw, values, found = _read(table, target, features, chunk_rows, cache, progress,
                               (validation, seed, task, standardize))
    try:
        t = targets(values, task, target, table.name)
        text, values = values.is_text(), None            # the collected codes: let go
        rows = split(raw, t, text, validation, seed, standardize, found)
        found = None
        scaler = standardizer(rows.moments, list(features))
        train_rows, val_rows = rows.train, rows.val
        d = raw.shape[1]
        if cache is None:
            arrays = {"train": np.empty((train_rows.size, d), dtype),
                      "val": np.empty((val_rows.size, d), dtype)}
            scale_rows(raw, [(train_rows, arrays["train"]), (val_rows, arrays["val"])], scaler)
        else:
            write_scaled(raw, [(train_rows, cache / "X_train.npy"),
                               (val_rows, cache / "X_val.npy")], scaler, dtype)
    finally:
        if cache is not None:
            for spill in cache.glob("raw*.tmp"):
                with contextlib.suppress(OSError):
                    os.unlink(spill)
    n_rows = int(train_rows.size + val_rows.size)
    if cache is None:
        return TrainingSet(arrays["train"], t.y[train_rows], arrays["val"], t.y[val_rows],
                           list(features), t, scaler, n_rows)
    source = settings.pop("source")
    y_train, y_val = t.y[train_rows], t.y[val_rows]
    _finish_cache(cache, source, settings, t, y_train, y_val, scaler, n_rows)
    result = _open_cache(cache, table, settings, (y_train, y_val))
    if result is None:
        raise GlassnetError(f"{table.name!r} changed while it was being converted; run "
                            "again when it is complete.")
    result.reused = False
    return result


def features_of(chunk, features: Sequence[str], where: str) -> np.ndarray:
    """A chunk's features as float64 (rows, features); any bad value: the detailed error of
    :func:`glassnet.data.feature_matrix`, naming the row in the whole file."""
    import pandas as pd
    frame = chunk.frame[list(features)]
    if all(pd.api.types.is_float_dtype(t) or pd.api.types.is_integer_dtype(t)
           for t in frame.dtypes):
        X = frame.to_numpy(dtype=np.float64)
        if np.isfinite(np.add.reduce(X, axis=None)) or np.isfinite(X).all():
            return X
    return D.feature_matrix(chunk.frame, features, where, first_row=chunk.first_row)


def _read(table, target, features, chunk_rows, cache, progress, plan):
    """One pass over the table: float64 features (in memory or a file), the target, and
    (from the parsing processes, else None) each block's :class:`BlockWork`.

    A large CSV converted into a cache is parsed by several processes at once (see
    :func:`_read_parallel`), each also splitting its blocks and taking their statistics;
    the result is the same.
    """
    if cache is not None:
        workers = _parse_workers(table)
        if workers > 1:
            found = _read_parallel(table, target, features, cache, progress, workers, plan)
            if found is not None:
                return found
    collected = _Targets()
    parts: list[np.ndarray] = []
    sink = DirectFile(cache / "raw.tmp") if cache is not None else None
    n = 0
    try:
        for chunk in table.chunks(chunk_rows, columns=[*features, target], progress=progress):
            X = features_of(chunk, features, table.name)
            collected.add_column(chunk.frame[target], target, table.name, chunk.first_row)
            n += X.shape[0]
            if sink is None:
                parts.append(X)
            else:
                sink.write(np.ascontiguousarray(X).data)
    finally:
        if sink is not None:
            sink.close()
    if sink is None:
        return (np.concatenate(parts) if len(parts) > 1 else parts[0]), collected, None
    return _RawFile([(cache / "raw.tmp", n)], len(features)), collected, None


#: a CSV at least this large is parsed by several processes when converted into a cache
PARALLEL_BYTES = 64 * 2 ** 20
#: at most this many parsing processes
MAX_PARSE_WORKERS = 4


def _parse_workers(table) -> int:
    if table.format != "csv" or len(table.sep) != 1:
        return 1
    return _workers(table.size)


def _workers(size: int) -> int:
    """How many processes share work on ``size`` bytes: one per core, at most
    :data:`MAX_PARSE_WORKERS`, one below :data:`PARALLEL_BYTES` or without ``fork``."""
    import multiprocessing
    if size < PARALLEL_BYTES or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    return max(1, min(os.cpu_count() or 1, MAX_PARSE_WORKERS,
                      size // max(1, PARALLEL_BYTES // 2)))


def _read_parallel(table, target, features, cache, progress, workers, plan):
    """The conversion's pass split over ``workers`` processes, or None to read in one.

    The data lines are cut into ``workers`` stretches of about equal bytes, each starting
    at a block's first line (:func:`block_starts` counts the lines up to each cut).  Each
    process parses its stretch with the same pandas reader, a block at a time, writes its
    float64 features to its own file, splits each block and takes the statistics of its
    training rows while the rows are in memory (:class:`BlockWork`), and returns them with
    its targets; the stretches are put back in order.  A value parses to the same float
    whichever process reads it, and a block's split and statistics depend only on its
    rows, so the result is that of the single pass.  A stretch holding a quote character
    (a quoted field may hide a line end), a blank line (the line count would not be the
    row count) or anything the parser or the checks refuse sends the whole file back to
    the single pass, whose errors name the row in the whole file.
    """
    import concurrent.futures
    import multiprocessing
    size = block_rows(len(features))
    with open(table.path, "rb") as f:
        f.readline()                                      # the header
        begin = f.tell()
    starts = [(begin, 0)] + block_starts(table.path, begin, table.size, workers, size)
    spans = [(a, b, line, (next_line - line) if next_line is not None else None)
             for (a, line), (b, next_line) in zip(starts, starts[1:] + [(table.size, None)])]
    columns = [*features, target]
    jobs = [(str(table.path), table.sep, list(table.columns), columns, list(features), target,
             a, b, str(cache / f"raw.{k}.tmp"), size, line // size, rows, plan, k)
            for k, (a, b, line, rows) in enumerate(spans)]
    parsed = multiprocessing.get_context("fork").RawArray("q", len(jobs))   # bytes read
    with _forked_pool(len(jobs), "parsed", parsed) as pool:
        futures = [pool.submit(_parse_span, *job) for job in jobs]
        while True:
            _, running = concurrent.futures.wait(futures, timeout=0.25)
            if progress is not None:
                progress(begin + sum(parsed), table.size)
            if not running:
                break
        results = [future.result() for future in futures]
    if any(r is None for r in results):
        for k in range(len(jobs)):
            with contextlib.suppress(OSError):
                os.unlink(cache / f"raw.{k}.tmp")
        return None
    collected, found = _Targets(), []
    for _, part, blocks in results:
        collected.extend(part)
        found.extend(blocks)
    parts = [(cache / f"raw.{k}.tmp", n) for k, (n, _, _) in enumerate(results)]
    return _RawFile(parts, len(features)), collected, found


def block_starts(path, begin: int, size: int, parts: int, rows: int) -> list:
    """``(byte, line)`` where data lines ``k * rows`` start, one after each of the ``parts
    - 1`` even cuts of the bytes ``begin:size`` (fewer for a short file); line 0 starts at
    ``begin``.  A line ends at ``\\n``.  One read of the file up to the last cut."""
    cuts = [begin + (size - begin) * k // parts for k in range(1, parts)]
    found: list = []
    buffer = bytearray(16 * 2 ** 20)
    view = np.frombuffer(buffer, dtype=np.uint8)
    pos, lines, want = begin, 0, None               # lines: line ends before pos
    with open(path, "rb") as f:
        f.seek(begin)
        while cuts or want is not None:
            got = f.readinto(buffer)
            if not got:
                break
            ends = None                             # where the piece's lines end, once found
            while cuts and cuts[0] < pos + got or want is not None:
                if ends is None:
                    ends = np.flatnonzero(view[:got] == 10)
                if want is None:                    # the line of the next cut
                    at = lines + int(np.searchsorted(ends, cuts.pop(0) - pos))
                    want = (at // rows + 1) * rows  # the next block start after the cut
                    if found and want <= found[-1][1]:
                        want = None
                        continue
                if lines + ends.size < want:
                    break
                found.append((pos + int(ends[want - lines - 1]) + 1, want))
                want = None
            lines += int(np.count_nonzero(view[:got] == 10)) if ends is None else ends.size
            pos += got
    return [(byte, line) for byte, line in found if byte < size]


class _Span:
    """A file's bytes ``start:stop`` as a read-only stream; notes any quote character, and
    counts the bytes read in ``counts[slot]`` (a shared array) when given."""

    def __init__(self, path: str, start: int, stop: int, counts=None, slot: int = 0):
        self.file = open(path, "rb")
        self.file.seek(start)
        self.left = stop - start
        self.quoted = False
        self.counts, self.slot = counts, slot

    def read(self, size: int = -1) -> bytes:
        size = self.left if size is None or size < 0 else min(size, self.left)
        data = self.file.read(size)
        self.left -= len(data)
        if b'"' in data:
            self.quoted = True
        if self.counts is not None:
            self.counts[self.slot] += len(data)
        return data

    def close(self) -> None:
        self.file.close()


def _parse_span(path, sep, header, columns, features, target, start, stop, out, size,
                first_block, rows, plan, slot=0):
    """One process's share of :func:`_read_parallel`: (rows, targets, block work), or None.

    ``rows``: how many rows the stretch must hold (None for the last stretch); ``slot``:
    where it counts the bytes it has read, for the progress bar.
    """
    import csv
    import warnings

    import pandas as pd
    # a forked child writes nothing: a stream lock held by another thread of the parent
    # at the fork (a progress bar's) would never be released here
    warnings.simplefilter("ignore")
    fraction, seed, task, standardize = plan
    span = _Span(path, start, stop, _FORKED.get("parsed"), slot)
    collected, n, blocks = _Targets(), 0, []
    try:
        with DirectFile(out) as sink:
            reader = pd.read_csv(span, sep=sep, chunksize=size, header=None,
                                 names=header, usecols=columns, quoting=csv.QUOTE_NONE,
                                 skip_blank_lines=False)
            for frame in reader:
                if span.quoted or n % size:             # a short block before this one
                    return None
                chunk = tables.Chunk(n + 1, frame[columns])
                X = features_of(chunk, features, path)
                collected.add_column(frame[target], target, path, n + 1)
                blocks.append(_block_work(X, collected, first_block + len(blocks), fraction,
                                          seed, task, standardize))
                sink.write(np.ascontiguousarray(X).data)
                n += X.shape[0]
    except (GlassnetError, ValueError, pd.errors.ParserError, UnicodeDecodeError):
        return None
    finally:
        span.close()
    if span.quoted or (rows is not None and n != rows):
        return None
    return n, collected, blocks


def _block_work(X, collected: _Targets, index: int, fraction, seed, task,
                standardize) -> BlockWork:
    """A parsing process's :class:`BlockWork` for the block just parsed: the splits the
    whole column may call for (the task is known only at the end: with ``--task auto`` a
    block of numbers that look like classes is split both ways)."""
    kind = collected.kinds[-1]
    codes = {}
    if task == "regression" or (task == "auto" and kind == "number"):
        codes["random"] = None
    if task != "regression":
        labels = collected.block_codes(auto=task == "auto")
        if labels is not None:
            codes["stratified"] = labels
    results = {}
    for variant, labels in codes.items():
        held = split_block(X.shape[0], fraction, seed, index, labels)
        results[variant] = (held, training_part(X, held) if standardize else None)
    return BlockWork(kind, results)


class _RawFile:
    """The float64 features spilled to files (one, or one per parsing process, in row
    order), read back a window of rows at a time.

    Plain reads into private buffers rather than a memory map, so the pages read are not
    counted in (or kept in) the process's resident memory.  Rows must be asked for in
    increasing order (the training and validation rows are sorted).
    """

    #: rows read at a time (about 2.5 MB for 20 features), however spread the rows asked are
    WINDOW = 16_384

    def __init__(self, parts: list, d: int):
        self.parts = [(Path(path), int(n)) for path, n in parts]
        self.starts = np.cumsum([0] + [n for _, n in self.parts])
        self.shape = (int(self.starts[-1]), d)

    def __getitem__(self, index) -> np.ndarray:
        n, d = self.shape
        if isinstance(index, slice):
            start, stop, _ = index.indices(n)
            return self._read(start, stop)
        rows = np.asarray(index)
        out = np.empty((rows.size, d))
        if rows.size == 0:
            return out
        for w in range(int(rows[0]), int(rows[-1]) + 1, self.WINDOW):
            lo, hi = np.searchsorted(rows, [w, w + self.WINDOW])
            if hi > lo:
                window = self._read(w, min(w + self.WINDOW, n))
                out[lo:hi] = window[rows[lo:hi] - w]
        return out

    def _read(self, start: int, stop: int) -> np.ndarray:
        d = self.shape[1]
        pieces = []
        for (path, count), first in zip(self.parts, self.starts[:-1]):
            a, b = max(start, first), min(stop, first + count)
            if a < b:
                pieces.append(np.fromfile(path, dtype=np.float64, count=(b - a) * d,
                                          offset=int(a - first) * d * 8).reshape(-1, d))
        if len(pieces) == 1:
            return pieces[0]
        return np.concatenate(pieces) if pieces else np.empty((0, d))


class DirectFile:
    """A file written front to back past the page cache (``O_DIRECT``) where the system
    allows it, else an ordinary buffered file; the bytes on disk are the same.

    The conversion writes about 2.4 GB for a 1.8 GB CSV (the float64 spill and the float32
    cache).  Through the page cache that took 12 to 16 s on the development machine (a
    virtual machine: 113 to 4,600 MB/s from one run to the next); written directly, in
    8 MB pieces from an aligned buffer, 1.6 s, steadily.  A direct write waits for the
    disk, so each full piece is written by a thread while the caller fills a second
    buffer (the parse of a quarter of the 10,000,000-row CSV spent 0.2 s of its 2.9 s
    waiting on writes before).  The last piece is padded to the block size and the file
    then cut to its length.  ``close()`` (or leaving the ``with``) writes that last piece
    and reports any error of the writes; nothing may be written after it.

    ``offset`` (a multiple of :data:`BLOCK`) writes into an existing file from there on,
    leaving the rest of it as it is, so several processes can each write a stretch of one
    file: every stretch but the file's last must then be a multiple of :data:`BLOCK` long.

    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "f.bin")
    >>> with DirectFile(path) as f:
    ...     _ = f.write(b"abc" * 5000)
    >>> open(path, "rb").read() == b"abc" * 5000
    True
    """

    #: bytes written per call (a multiple of every block size O_DIRECT may require)
    PIECE = 8 * 2 ** 20
    BLOCK = 4096

    def __init__(self, path, offset: int | None = None):
        import mmap
        self.path, self.size, self.pos, self.plain, self.fd = str(path), 0, 0, None, None
        self.offset, self.fresh = offset or 0, offset is None
        self.views, self.flight = [], None
        assert self.offset % self.BLOCK == 0, "an offset the block size divides"
        flag = getattr(os, "O_DIRECT", 0)
        if flag:
            mode = os.O_WRONLY | flag | (os.O_CREAT | os.O_TRUNC if offset is None else 0)
            try:
                self.fd = os.open(self.path, mode, 0o666)
            except OSError:              # a file system without it (tmpfs): buffered
                self.fd = None
            else:
                os.lseek(self.fd, self.offset, os.SEEK_SET)
        if self.fd is None:
            self._open_plain()
            return
        # two page-aligned buffers, as O_DIRECT needs: one filled while the other is written
        self.views = [memoryview(mmap.mmap(-1, self.PIECE)) for _ in range(2)]
        self.view = self.views[0]

    def write(self, data) -> int:
        data = memoryview(data).cast("B")
        total = len(data)
        while len(data) and self.plain is None:
            n = min(len(data), self.PIECE - self.pos)
            self.view[self.pos:self.pos + n] = data[:n]
            self.pos += n
            data = data[n:]
            if self.pos == self.PIECE:
                self._send()
        if len(data):
            self.plain.write(data)
        return total

    def _send(self) -> None:
        """Write the full buffer: the first one here (a refusal then turns the file into a
        buffered one), the others by a thread while the caller fills the other buffer."""
        import threading
        self._wait()
        if self.size == 0:
            self._put(self.view, self.PIECE, self.PIECE)
            self.pos = 0
            return
        outcome: list = []
        view = self.view

        def put():
            try:
                self._put(view, self.PIECE, self.PIECE)
            except BaseException as exc:         # raised by the caller's next write or close
                outcome.append(exc)

        thread = threading.Thread(target=put, name="glassnet-direct-write", daemon=True)
        thread.start()
        self.flight = (thread, outcome)
        self.view = self.views[1] if view is self.views[0] else self.views[0]
        self.pos = 0

    def _wait(self) -> None:
        """Wait for the write in flight, and raise its error."""
        if self.flight is not None:
            thread, outcome = self.flight
            thread.join()
            self.flight = None
            if outcome:
                raise outcome[0]

    def _put(self, view, length: int, used: int) -> None:
        """Write ``view``'s first ``length`` bytes (a multiple of BLOCK) at ``size``; the
        first ``used`` of them are the file's (the rest pads the last piece)."""
        done = 0
        try:
            while done < length:
                done += os.write(self.fd, view[done:length])
        except OSError:
            if self.size or done:
                raise
            self._to_plain()         # refused at the first write (EINVAL): buffered
            self.plain.write(view[:used])
            return
        self.size += used

    def _to_plain(self) -> None:
        os.close(self.fd)
        self.fd = None
        self._open_plain()

    def _open_plain(self) -> None:
        self.plain = open(self.path, "wb" if self.fresh else "r+b")
        self.plain.seek(self.offset)

    def fileno(self) -> int:
        return self.plain.fileno() if self.plain is not None else self.fd

    def close(self) -> None:
        """Write what is left (padded to the block size, then cut to the length)."""
        try:
            self._wait()
            if self.fd is not None and self.pos:
                length = self.pos
                padded = -(-length // self.BLOCK) * self.BLOCK
                self._put(self.view, padded, length)
                if self.plain is None and padded != length:     # the padding: cut off
                    os.ftruncate(self.fd, self.offset + self.size)
        finally:
            if self.fd is not None:
                os.close(self.fd)
                self.fd = None
            if self.plain is not None:
                self.plain.close()
            for view in self.views:
                buffer = view.obj
                view.release()
                with contextlib.suppress(BufferError):   # a traceback still holds a slice
                    buffer.close()
            self.views = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


#: the cache's ``.npy`` header is this long, so its rows start on a block boundary, where
#: each process writing a stretch of them can write past the page cache
HEADER_BYTES = 4096


def npy_header(dtype, shape) -> bytes:
    """A version 1.0 ``.npy`` header of :data:`HEADER_BYTES` bytes (the format lets the
    dictionary be padded with spaces; ``np.load`` reads it as any other)."""
    text = repr({"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
                 "fortran_order": False, "shape": tuple(int(s) for s in shape)})
    body = text.encode("latin1").ljust(HEADER_BYTES - 11) + b"\n"
    return b"\x93NUMPY\x01\x00" + (HEADER_BYTES - 10).to_bytes(2, "little") + body


class _NpyWriter:
    """A ``.npy`` file's rows written in order, block by block: ``out[a:b] = block``.

    ``first`` None: the whole file, header first.  ``first=k``: ``rows`` rows from row
    ``k`` on, into a file :func:`_npy_create` made (one process's stretch of it).
    """

    def __init__(self, path: Path, dtype, shape, first: int | None = None,
                 rows: int | None = None):
        self.path, self.dtype, self.shape = path, np.dtype(dtype), tuple(shape)
        self.first, self.rows = first, shape[0] if rows is None else rows
        self.written = 0

    def __enter__(self):
        if self.first is None:
            self.file = DirectFile(self.path)
            self.file.write(npy_header(self.dtype, self.shape))
        else:
            row_bytes = self.dtype.itemsize * int(np.prod(self.shape[1:]))
            self.file = DirectFile(self.path, offset=HEADER_BYTES + self.first * row_bytes)
        return self

    def __setitem__(self, index: slice, values) -> None:
        assert index.start == self.written, "blocks are written in order"
        values = np.asarray(values).astype(self.dtype)     # the cast an assignment makes
        self.file.write(np.ascontiguousarray(values).data)      # no bytes copy
        self.written += values.shape[0]

    def __exit__(self, kind, value, tb):
        self.file.close()                  # its last piece written
        if kind is None:
            with open(self.path, "rb+") as f:      # the data and the length, on the disk
                os.fsync(f.fileno())
        if kind is None and self.written != self.rows:
            raise GlassnetError(f"{self.path}: wrote {self.written} rows of {self.rows}.")


def _npy_create(path: Path, dtype, shape) -> None:
    """An ``.npy`` file of the right length whose rows are still to be written."""
    dtype = np.dtype(dtype)
    with open(path, "wb") as f:
        f.write(npy_header(dtype, shape))
        f.truncate(HEADER_BYTES + dtype.itemsize * int(np.prod(shape)))


def write_scaled(raw, outputs, scaler: D.Standardizer, dtype) -> None:
    """Scale the rows of ``raw`` into ``.npy`` files: ``outputs`` is ``(rows, path)`` pairs
    (sorted rows covering ``raw`` once, as for :func:`scale_rows`).

    A large spilled table is read and written by several processes at once, each a
    stretch of every output whose first row starts on a block boundary of the file (the
    rows are cut at multiples of :func:`_aligned_rows`), so that all of them write past
    the page cache; the bytes are those of one pass: the formula is applied value by value.
    """
    d = raw.shape[1]
    workers = _scale_workers(raw)
    if workers == 1:                     # here, each file whole (header first)
        _scale_span(raw, [(rows, path, None, (rows.size, d)) for rows, path in outputs],
                    scaler, dtype)
        return
    align = _aligned_rows(np.dtype(dtype).itemsize * d)
    jobs = [[] for _ in range(workers)]
    for rows, path in outputs:
        _npy_create(path, dtype, (rows.size, d))
        cuts = [min(rows.size, round(rows.size * w / workers / align) * align)
                for w in range(workers)] + [rows.size]
        for w in range(workers):
            jobs[w].append((rows[cuts[w]:cuts[w + 1]], path, cuts[w], (rows.size, d)))
    # the row numbers (8 bytes a row) reach the processes by the fork, not pickled
    with _forked_pool(workers, "scale jobs", jobs) as pool:
        for future in [pool.submit(_scale_share, w, raw, scaler, dtype)
                       for w in range(workers)]:
            future.result()


#: what a forked worker process was handed by its pool's initializer (inherited, not pickled)
_FORKED: dict = {}


def _forked_pool(workers: int, name: str, value):
    """A pool of ``workers`` forked processes, each with ``value`` as ``_FORKED[name]``.

    Fork: the processes start at once with everything imported, never re-run the
    caller's script (spawn would import ``__main__`` again in each of them), and inherit
    ``value`` with the rest of memory instead of receiving a pickle of it.
    """
    import concurrent.futures
    import multiprocessing
    return concurrent.futures.ProcessPoolExecutor(
        workers, mp_context=multiprocessing.get_context("fork"), initializer=_inherit,
        initargs=(name, value))


def _inherit(name: str, value) -> None:
    _FORKED[name] = value


def _scale_share(w: int, raw, scaler, dtype) -> None:
    _scale_span(raw, _FORKED["scale jobs"][w], scaler, dtype)


def _aligned_rows(row_bytes: int) -> int:
    """The fewest rows whose bytes fill whole blocks of :class:`DirectFile`."""
    import math
    return DirectFile.BLOCK // math.gcd(DirectFile.BLOCK, row_bytes)


def _scale_workers(raw) -> int:
    """How many processes write the scaled copy of ``raw`` (1: this one)."""
    if not isinstance(raw, _RawFile):
        return 1
    return _workers(raw.shape[0] * raw.shape[1] * 8)


def _scale_span(raw, job, scaler, dtype) -> None:
    """One process's share of :func:`write_scaled`: its stretch of each output, ``(rows,
    path, first row, shape)`` (first row None: the whole file)."""
    taken = [rows for rows, _, _, _ in job if rows.size]
    first = min((int(r[0]) for r in taken), default=0)
    last = max((int(r[-1]) + 1 for r in taken), default=0)
    with contextlib.ExitStack() as stack:
        splits = [(rows, stack.enter_context(_NpyWriter(path, dtype, shape, first=start,
                                                         rows=rows.size)))
                  for rows, path, start, shape in job]
        scale_rows(raw, splits, scaler, first=first, last=last)


# --- the cache's identity ------------------------------------------------------------------------

def fingerprint(path, samples: int = 16, piece: int = 4096) -> dict:
    """What a table file is: size, modification time and a SHA-256 of a spread of its bytes.

    The hash covers the first and last 64 KiB and ``samples`` pieces spread evenly
    between them, so an edit anywhere that keeps size and time is still likely seen.
    """
    path = Path(path)
    st = path.stat()
    h = hashlib.sha256()
    with open(path, "rb") as f:
        head = 65536
        h.update(f.read(head))
        if st.st_size > head:
            for i in range(1, samples + 1):
                f.seek(st.st_size * i // (samples + 1))
                h.update(f.read(piece))
            f.seek(max(0, st.st_size - head))
            h.update(f.read(head))
    return {"path": str(path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns,
            "sample_sha256": h.hexdigest()}


def _clear(cache: Path) -> None:
    """An empty cache folder; the completion mark goes first, so nothing half-done is trusted."""
    cache.mkdir(exist_ok=True)
    mark = cache / CACHE_MARK
    if mark.exists():
        mark.unlink()
    for entry in cache.iterdir():
        if entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def _finish_cache(cache: Path, source: dict, settings: dict, t: Targets, y_train, y_val,
                  scaler, rows: int) -> None:
    """The targets, then the mark that says the cache is complete (atomically, last)."""
    for name, values in (("y_train.npy", y_train), ("y_val.npy", y_val)):
        with DirectFile(cache / name) as f:
            np.save(f, values)
    mark = {"source": source, "settings": settings,
            "task": t.task, "classes": t.classes, "n_outputs": t.n_outputs, "rows": rows,
            "mean": scaler.mean.tolist(), "std": scaler.std.tolist()}
    with atomic_write(cache / CACHE_MARK, "w") as f:
        json.dump(mark, f)


def _open_cache(cache: Path, table, settings: dict, y=None) -> TrainingSet | None:
    """The cached training set when ``cache.json`` matches this file and these settings.

    ``y``: the targets ``(y_train, y_val)`` just written, not read back.
    """
    try:
        with open(cache / CACHE_MARK, encoding="utf-8") as f:
            mark = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(mark, dict) or mark.get("settings") != settings or \
            mark.get("source") != fingerprint(table.path):
        return None
    try:
        X_train = np.load(cache / "X_train.npy", mmap_mode="r")
        X_val = np.load(cache / "X_val.npy", mmap_mode="r")
        y_train, y_val = y if y is not None else (np.load(cache / "y_train.npy"),
                                                  np.load(cache / "y_val.npy"))
    except (OSError, ValueError):
        return None
    t = Targets(mark["task"], y_train, mark["classes"], int(mark["n_outputs"]))
    scaler = D.Standardizer(np.asarray(mark["mean"]), np.asarray(mark["std"]))
    return TrainingSet(X_train, y_train, X_val, y_val, list(settings["features"]), t, scaler,
                       int(mark["rows"]), cache, reused=True)


class PageGuard:
    """Keep the pages of memory-mapped arrays that the process holds to about ``allowance``.

    Training gathers batches from the whole map, and a pass over it (a finiteness check,
    the epoch's metrics) touches every page; the kernel keeps the touched pages mapped into
    the process until it needs the memory.  While the guard is active a thread reads the
    process's mapped-file size (``RssFile`` in /proc/self/status) every ``interval``
    seconds and, above ``limit``, tells the kernel the arrays' pages are not needed
    (``madvise(MADV_DONTNEED)``); the limit is ``allowance`` above what was mapped when
    the guard started (the libraries).  The mapping is a read-only view of the file, so nothing
    is lost: a page touched again is mapped again from the page cache.  The values read
    are the same; only the resident size changes.  Where /proc or madvise is missing the
    guard does nothing.

    >>> import numpy as np
    >>> with PageGuard([np.zeros(3)], allowance=2 ** 20):
    ...     pass
    """

    def __init__(self, arrays, allowance: int, interval: float = 0.01):
        self.maps = [m for m in (getattr(a, "_mmap", None) for a in arrays) if m is not None]
        self.allowance = int(allowance)
        self.limit = None
        self.interval = interval
        self.released = 0
        self._stop = None

    @staticmethod
    def mapped_file_bytes() -> int | None:
        """The process's resident file-backed pages (libraries and maps), or None."""
        try:
            with open("/proc/self/status") as f:
                for line in f:
                    if line.startswith("RssFile:"):
                        return int(line.split()[1]) * 1024
        except (OSError, ValueError):
            return None
        return None

    def release(self) -> None:
        import mmap
        for m in self.maps:
            with contextlib.suppress(ValueError, OSError, AttributeError):
                m.madvise(mmap.MADV_DONTNEED)
        self.released += 1

    def _watch(self) -> None:
        while not self._stop.wait(self.interval):
            size = self.mapped_file_bytes()
            if size is None:
                return
            if size > self.limit:
                self.release()

    def __enter__(self):
        import mmap
        import threading
        baseline = self.mapped_file_bytes()
        if not self.maps or not hasattr(mmap, "MADV_DONTNEED") or baseline is None:
            return self
        self.limit = baseline + self.allowance
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="glassnet-page-guard",
                                        daemon=True)
        self._thread.start()
        return self

    def __exit__(self, kind, value, tb):
        if self._stop is not None:
            self._stop.set()
            self._thread.join()
            self.release()
        return False


def parse_size(text: str) -> int:
    """'1GB', '512MB', '2.5G', '100000' (bytes) -> bytes; binary units (1 GB = 2**30 B)."""
    units = {"": 1, "B": 1, "K": 2 ** 10, "KB": 2 ** 10, "M": 2 ** 20, "MB": 2 ** 20,
             "G": 2 ** 30, "GB": 2 ** 30, "T": 2 ** 40, "TB": 2 ** 40}
    s = str(text).strip().upper().replace("IB", "B")
    number = s.rstrip("KMGTB")
    unit = s[len(number):]
    try:
        value = float(number)
    except ValueError:
        value = float("nan")
    if unit not in units or not value > 0 or not np.isfinite(value):
        raise GlassnetError(f"--max-memory must be a size such as 1GB, 512MB or 2.5G; got "
                            f"{text!r}.")
    return int(value * units[unit])


def in_memory_bytes(table, n_features: int) -> int:
    """About what reading ``table`` into memory takes (float64 features, twice, and targets)."""
    if table.rows is not None:
        return int(table.rows * (n_features + 2) * 8 * 2.5)
    return int(table.size * 2.5)      # a CSV number is about as many bytes as its float64
