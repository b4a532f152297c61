"""Reading a memory-mapped array's rows from its file instead of through the map.

On Linux a row read through a memory map maps the page-cache pages around it into the
process, and every such page counts in the process's resident size until the kernel needs
the memory.  For a file the page cache holds in large folios that is about 1 MB a row
(measured on Linux 6.18: one shuffled batch of 256 rows of a 640 MB map made the resident
size grow by 270 MB, and a sum over the whole array mapped all of it in 0.09 s), faster than
any watcher can release them.  :class:`FileRows` reads the bytes instead: training's
shuffled batch gathers, the finiteness check and the scale check of a read-only map then
hold only what they read.
"""
from __future__ import annotations

import os

import numpy as np


class FileRows:
    """Rows of a read-only memory-mapped array, gathered with reads (``os.pread``) instead
    of through the map, so that shuffled batches do not grow the process's resident size.

    Reading a row through the map maps the page-cache pages around it into the process:
    on Linux 6.18, about 1 MB a row for a file the page cache holds in large folios (one
    shuffled batch of 256 rows of a 640 MB map made the resident size grow by 270 MB), so
    an epoch's gathers hold the whole file however often the pages are released.  A read
    copies just the row's bytes from the page cache, about 0.7 us a row (in Python).  The
    values are the same bytes either way.
    """

    def __init__(self, fd: int, offset: int, X: np.ndarray):
        self.fd, self.offset, self.row_bytes = fd, offset, X.strides[0]
        self.dtype, self.shape = X.dtype, X.shape

    @classmethod
    def of(cls, X) -> "FileRows | None":
        """A reader for ``X`` when it is (a plain view of) a read-only ``np.memmap`` of
        C-ordered rows whose file reads back the same (checked on its first and last rows);
        else None."""
        mapped = X
        while mapped is not None and not isinstance(mapped, np.memmap):
            mapped = mapped.base if isinstance(mapped, np.ndarray) else None
        if not (hasattr(os, "pread") and mapped is not None and X.ndim == 2
                and X.flags.c_contiguous and getattr(mapped, "mode", None) == "r"
                and getattr(mapped, "filename", None) and X.shape[0] > 0
                and mapped.ctypes.data == X.ctypes.data):
            return None
        try:
            fd = os.open(mapped.filename, os.O_RDONLY)
        except OSError:
            return None
        reader = cls(fd, int(mapped.offset), X)
        last = X.shape[0] - 1
        if not (reader.row(0) == X[0].tobytes() and reader.row(last) == X[last].tobytes()):
            reader.close()             # a view at another offset, or a file changed since
            return None
        return reader

    def row(self, i: int) -> bytes:
        return os.pread(self.fd, self.row_bytes, self.offset + i * self.row_bytes)

    def take(self, rows: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Rows ``rows`` of the array into ``out`` (len(rows), ...), a new array when None."""
        if out is None:
            out = np.empty((len(rows),) + self.shape[1:], self.dtype)
        pread, fd, size = os.pread, self.fd, self.row_bytes
        offsets = (rows.astype(np.int64) * size + self.offset).tolist()
        data = b"".join([pread(fd, size, at) for at in offsets])
        np.copyto(out, np.frombuffer(data, self.dtype).reshape(out.shape))
        return out

    def block(self, start: int, stop: int) -> np.ndarray:
        """Rows ``start:stop`` (within the array), in one read."""
        k = stop - start
        data = os.pread(self.fd, k * self.row_bytes, self.offset + start * self.row_bytes)
        return np.frombuffer(data, self.dtype).reshape((k,) + self.shape[1:])

    def blocks(self, rows: int = 2 ** 16):
        """The array's rows in order, ``rows`` at a time, each block one read."""
        n = self.shape[0]
        for start in range(0, n, rows):
            yield self.block(start, min(start + rows, n))

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    __del__ = close

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def take(X: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``X[rows]`` (a copy), read from the file when ``X`` is a read-only memory map."""
    reader = FileRows.of(X)
    if reader is None:
        return X[rows]
    with reader:
        return reader.take(rows)
