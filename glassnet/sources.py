"""Training data that arrives in blocks: Dask arrays and DataFrames, lists or iterables of chunks.

``Network.fit`` (and the estimators) take such data in place of ``X, y`` and train on it
block by block, holding at most two blocks (the one being trained on and the next, read
ahead in a thread) and one batch.  Training stays one sequential SGD run: the same steps a
NumPy array would get, in an order defined block-wise.

The order of an epoch, precisely
--------------------------------
With ``shuffle=True`` each epoch draws from the network's generator, in this order:

1. the order of the blocks, ``rng.permutation(n_blocks)`` (kept as given for an iterable
   that can only be read front to back);
2. for each block in that order, the order of its rows, ``rng.permutation(len(block))``.

The rows are then taken in that order, block after block, and cut into batches of
``batch_size`` (a batch may span the end of one block and the start of the next), so an
epoch has ``ceil(n / batch_size)`` steps as for an array.  With ``shuffle=False`` the rows
go in their order, so training equals ``fit`` on the concatenated NumPy array bit for bit.
With shuffling, a Dask array trains to exactly the weights of its NumPy twin cut in the same
blocks (``[(X[a:b], y[a:b]) for each block]``): the block order depends only on the blocks'
sizes and the seed.  (A global permutation of all rows would need every block for every
batch: data on a cluster would travel once per batch instead of once per epoch.)

Accepted sources: a Dask array ``X`` with ``y`` a Dask or NumPy array; a Dask DataFrame
``X`` with a Dask Series, DataFrame or array ``y``; a list (or tuple) of ``(X, y)`` or
``(X, y, sample_weight)`` chunks with ``y=None``; any other iterable of such chunks that
starts over each time it is iterated (a one-shot generator cannot be read every epoch:
wrap the function that makes it, ``Chunks(make_generator)``).
"""
from __future__ import annotations

import concurrent.futures
from typing import Callable, Iterable

import numpy as np

from . import metrics as _metrics
from ._validation import GlassnetError


def _is_dask(obj) -> bool:
    return type(obj).__module__.split(".")[0] in ("dask", "dask_expr") and \
        hasattr(obj, "__dask_graph__")


class Chunks:
    """An iterable of ``(X, y)`` chunks made afresh by ``factory()`` for every pass.

    >>> import numpy as np
    >>> def read():
    ...     for i in range(3):
    ...         yield np.full((2, 1), i), np.array([0, 1])
    >>> [len(x) for x, y in Chunks(read)]
    [2, 2, 2]
    """

    def __init__(self, factory: Callable[[], Iterable]):
        if not callable(factory):
            raise GlassnetError(f"Chunks needs a function returning an iterator of (X, y) "
                                f"chunks; got {type(factory).__name__}.")
        self.factory = factory

    def __iter__(self):
        return iter(self.factory())


def is_chunked(X, y=None) -> bool:
    """Whether ``X`` (with ``y``) is block-wise data rather than one array."""
    if isinstance(X, np.ndarray):
        return False
    if _is_dask(X) or isinstance(X, ChunkedData):
        return True
    if y is None and isinstance(X, (list, tuple, Chunks)):
        return True
    return y is None and isinstance(X, Iterable) and not isinstance(X, (str, bytes, dict)) \
        and not hasattr(X, "__array__") and not hasattr(X, "columns")


class ChunkedData:
    """Blocks of rows, each loaded on demand as ``(X, y, sample_weight or None)`` arrays.

    ``lengths[i]`` is block i's row count; ``random_access`` says whether blocks can be read
    in any order (else only front to back, every pass).
    """

    def __init__(self, loaders: list | None, lengths: list[int], iterate=None):
        self.loaders = loaders
        self.lengths = [int(n) for n in lengths]
        self.iterate = iterate
        self.random_access = loaders is not None
        self.n = int(sum(self.lengths))
        self.transform = None
        if self.n == 0:
            raise GlassnetError("the chunked training data holds no rows.")

    def with_transform(self, transform: Callable) -> "ChunkedData":
        """The same blocks passed through ``transform(X, y, w) -> (X, y, w)`` when read."""
        self.transform = transform
        return self

    def blocks(self, order=None):
        """``(i, (X, y, w))`` for each block, in ``order`` (random-access sources only)."""
        if not self.random_access:
            for i, block in enumerate(self.iterate()):
                yield i, self._apply(i, _as_triple(block, i))
            return
        order = range(len(self.lengths)) if order is None else order
        with concurrent.futures.ThreadPoolExecutor(1) as pool:   # read the next block ahead
            future = None
            order = list(order)
            for k, i in enumerate(order):
                block = future.result() if future is not None else self.loaders[i]()
                future = pool.submit(self.loaders[order[k + 1]]) if k + 1 < len(order) else None
                yield i, self._apply(i, block)

    def _apply(self, i: int, block):
        x, y, w = block
        if len(x) != self.lengths[i]:
            raise GlassnetError(f"block {i} of the training data has {len(x)} rows, but "
                                f"{self.lengths[i]} were counted before; the data changed "
                                "while training.")
        return self.transform(x, y, w) if self.transform is not None else (x, y, w)


def _as_triple(chunk, i: int):
    if not isinstance(chunk, (tuple, list)) or len(chunk) not in (2, 3):
        raise GlassnetError(f"chunk {i} of the training data must be a tuple (X, y) or (X, y, "
                            f"sample_weight); got {type(chunk).__name__}.")
    x, y = np.asarray(chunk[0]), np.asarray(chunk[1])
    w = None if len(chunk) == 2 or chunk[2] is None else np.asarray(chunk[2])
    return x, y, w


def as_chunked(X, y=None, sample_weight=None) -> ChunkedData | None:
    """A :class:`ChunkedData` for block-wise ``X`` (and ``y``); None for an in-memory array."""
    if not is_chunked(X, y):
        return None
    if isinstance(X, ChunkedData):
        return X
    if _is_dask(X):
        return _from_dask(X, y, sample_weight)
    if y is not None or sample_weight is not None:
        raise GlassnetError("with a list or iterable of chunks as X, pass y=None (and no "
                            "sample_weight): each chunk carries its own (X, y) or (X, y, "
                            "sample_weight).")
    if isinstance(X, (list, tuple)):
        chunks = [_as_triple(c, i) for i, c in enumerate(X)]
        return ChunkedData([lambda c=c: c for c in chunks], [len(c[0]) for c in chunks])
    if iter(X) is X:
        raise GlassnetError("X is a one-shot iterator (a generator), but training reads the "
                            "chunks every epoch and counts them first; pass a list of chunks, "
                            "a Dask array, or glassnet.sources.Chunks(function_making_the_"
                            "generator).")
    lengths = [len(_as_triple(c, i)[0]) for i, c in enumerate(X)]   # a counting pass
    return ChunkedData(None, lengths, iterate=lambda: iter(X))


def _dask_rows(obj, what: str):
    """A Dask collection as a Dask array with known block lengths and one column block."""
    import dask.array as da
    if hasattr(obj, "to_dask_array"):                 # DataFrame or Series
        obj = obj.to_dask_array(lengths=True)
    if not isinstance(obj, da.Array):
        raise GlassnetError(f"{what} must be a Dask array or DataFrame; got "
                            f"{type(obj).__name__}.")
    if any(np.isnan(c) for c in obj.chunks[0]):
        obj = obj.compute_chunk_sizes()
    if obj.ndim == 2 and len(obj.chunks[1]) > 1:
        obj = obj.rechunk({1: -1})                    # whole rows in every block
    return obj


def _from_dask(X, y, sample_weight) -> ChunkedData:
    import dask
    if y is None:
        raise GlassnetError("fit with a Dask X needs y (a Dask array, Series or NumPy array).")
    X = _dask_rows(X, "X")
    if X.ndim != 2:
        raise GlassnetError(f"X must be 2-D (rows, features); got a Dask array of shape "
                            f"{X.shape}.")
    rows = X.chunks[0]
    parts = {"y": y, "sample_weight": sample_weight}
    for name, value in parts.items():
        if value is None:
            continue
        if _is_dask(value):
            value = _dask_rows(value, name)
            if value.shape[0] != X.shape[0]:
                raise GlassnetError(f"{name} has {value.shape[0]} rows; X has {X.shape[0]}.")
            parts[name] = value.rechunk({0: rows})
        else:
            value = np.asarray(value)
            if value.shape[0] != X.shape[0]:
                raise GlassnetError(f"{name} has {value.shape[0]} rows; X has {X.shape[0]}.")
            parts[name] = value
    bounds = np.concatenate([[0], np.cumsum(rows)]).astype(int)

    def loader(i: int):
        def load():
            lazy = {"x": X.blocks[i]}
            lazy.update({k: v.blocks[i] for k, v in parts.items() if _is_dask(v)})
            got = dict(zip(lazy, dask.compute(*lazy.values())))
            y_w = [None if v is None else np.asarray(got[k]) if k in got
                   else v[bounds[i]:bounds[i + 1]] for k, v in parts.items()]
            return np.asarray(got["x"]), y_w[0], y_w[1]
        return load

    return ChunkedData([loader(i) for i in range(len(rows))], list(rows))


# --- batches for the training loop -----------------------------------------------------------------

class ChunkBatches:
    """The training loop's view of chunked data: the same interface as its in-memory batches.

    ``draw`` makes the epoch's order (see the module docstring), ``arrange`` starts reading
    the blocks in it, ``batch`` fills the next ``stop - start`` rows into one preallocated
    batch buffer.  ``X``/``Y``/``sw`` are the first block (what callbacks and data-dependent
    initialisers see of the data).
    """

    def __init__(self, data: ChunkedData, check: Callable, shuffle: bool, batch_size: int):
        self.data, self.check, self.shuffle = data, check, shuffle
        self.m = data.n
        _, first = next(data.blocks([0] if data.random_access else None))
        self.X, self.Y, self.sw = check(*first, 0)
        k = min(self.m, batch_size)
        self.bx = np.empty((k,) + self.X.shape[1:], self.X.dtype)
        self.by = np.empty((k,) + self.Y.shape[1:], self.Y.dtype)
        self.bw = None if self.sw is None else np.empty(k, self.sw.dtype)
        self.rows = None

    def draw(self, rng):
        if not self.shuffle:
            return None
        nb = len(self.data.lengths)
        blocks = rng.permutation(nb) if self.data.random_access else np.arange(nb)
        return blocks, [rng.permutation(self.data.lengths[b]) for b in blocks]

    def arrange(self, order):
        return _Stream(self, order)

    def batch(self, stream, start: int, stop: int):
        return stream.take(stop - start)

    def training_scores(self, net, metrics) -> dict:
        """The epoch's ``metrics`` on every training row, block by block, chunk by chunk."""
        scores = _metrics.Scores(net, metrics, loss=False)
        for i, block in self.data.blocks():
            scores.add(*self.check(*block, i))
        return scores.result()


class _Stream:
    """The rows of one epoch, block after block, handed out a batch at a time."""

    def __init__(self, owner: ChunkBatches, order):
        self.owner = owner
        if order is None:
            self.perms = None
            self.blocks = owner.data.blocks()
        else:
            block_order, perms = order
            self.perms = dict(zip((int(b) for b in block_order), perms))
            self.blocks = owner.data.blocks(block_order if owner.data.random_access else None)
        self.x = self.y = self.w = None
        self.pos = 0

    def _next_block(self) -> None:
        i, block = next(self.blocks)
        x, y, w = self.owner.check(*block, i)
        if self.perms is not None:
            p = self.perms[i]
            x, y, w = x[p], y[p], None if w is None else w[p]
        self.x, self.y, self.w, self.pos = x, y, w, 0

    def take(self, k: int):
        o = self.owner
        bx, by = o.bx[:k], o.by[:k]
        bw = None if o.bw is None else o.bw[:k]
        filled = 0
        while filled < k:
            if self.x is None or self.pos == self.x.shape[0]:
                self._next_block()
            n = min(k - filled, self.x.shape[0] - self.pos)
            bx[filled:filled + n] = self.x[self.pos:self.pos + n]
            by[filled:filled + n] = self.y[self.pos:self.pos + n]
            if bw is not None:
                bw[filled:filled + n] = self.w[self.pos:self.pos + n]
            self.pos += n
            filled += n
        return bx, by, bw


def block_checker(net) -> Callable:
    """``check(X, y, w, i)``: a block validated as fit validates arrays, errors naming it."""
    def check(x, y, w, i):
        try:
            return net.check_data(x, y, w)
        except GlassnetError as exc:
            raise GlassnetError(f"block {i} of the training data: {exc}") from None
    return check

