"""Tables read and written chunk by chunk: CSV and Parquet in bounded memory.

The format follows the file's extension: ``.parquet`` and ``.pq`` are Parquet (pyarrow, the
optional ``parquet`` extra), anything else is CSV (pandas).  A table is read as a sequence
of :class:`Chunk` s of at most ``rows`` rows, each a pandas DataFrame with the row number of
its first row **in the whole file** (data row 1 is the first row under the header), so an
error found in a chunk names the row a reader would look for.  Reading reports how far it
has got (bytes of a CSV, rows of a Parquet file) to an optional ``progress`` function.

>>> import os, tempfile, numpy as np, pandas as pd
>>> path = os.path.join(tempfile.mkdtemp(), "t.csv")
>>> pd.DataFrame({"a": np.arange(5), "b": np.arange(5) * 2.0}).to_csv(path, index=False)
>>> table = open_table(path)
>>> [(c.first_row, len(c.frame)) for c in table.chunks(2)]
[(1, 2), (3, 2), (5, 1)]
"""
from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

from ._validation import GlassnetError
from .data import _header, check_sep, quote_names
from .io import atomic_write

#: rows per chunk when the caller does not say (about 20 MB of float64 for 100 columns)
DEFAULT_CHUNK_ROWS = 25_000
PARQUET_SUFFIXES = (".parquet", ".pq")


def table_format(path) -> str:
    """'parquet' for a ``.parquet``/``.pq`` name, else 'csv'."""
    return "parquet" if Path(os.fspath(path)).suffix.lower() in PARQUET_SUFFIXES else "csv"


def _pyarrow(what: str):
    try:
        import pyarrow  # noqa: F401
        import pyarrow.parquet as pq
    except ImportError:
        raise GlassnetError(f"{what} is a Parquet file, which needs pyarrow: pip install "
                            "'glassnet[parquet]' (or write the table as CSV).") from None
    return pq


@dataclass
class Chunk:
    """Rows ``first_row .. first_row + len(frame) - 1`` of a table (1-based data rows)."""

    first_row: int
    frame: object        # pandas.DataFrame


class Table:
    """A CSV or Parquet file opened for chunked reading; see :func:`open_table`."""

    def __init__(self, path, *, sep: str = ",", what: str = "data file"):
        sep = check_sep(sep)
        self.path = Path(os.fspath(path))
        self.sep = sep
        self.what = what
        self.name = str(self.path)
        if not self.path.exists():
            raise GlassnetError(f"{what} {self.name!r} does not exist.")
        if self.path.is_dir():
            raise GlassnetError(f"{what} {self.name!r} is a folder, not a table file.")
        self.format = table_format(self.path)
        self.size = self.path.stat().st_size
        if self.format == "parquet":
            pq = _pyarrow(f"{what} {self.name!r}")
            try:
                self._parquet = pq.ParquetFile(self.path)
            except Exception as exc:            # pyarrow's ArrowInvalid and friends
                raise GlassnetError(f"{what} {self.name!r} cannot be read as Parquet: "
                                    f"{exc}".rstrip()) from None
            self.columns = [str(c) for c in self._parquet.schema_arrow.names]
            self.rows = int(self._parquet.metadata.num_rows)
            if self.rows == 0:
                raise GlassnetError(f"{what} {self.name!r} has columns but no data rows.")
        else:
            self.columns = _header(self.path, sep, what)
            self.rows = None      # unknown until read

    def chunks(self, rows: int = DEFAULT_CHUNK_ROWS, columns: Sequence[str] | None = None,
               progress: Callable[[int, int], None] | None = None) -> Iterator[Chunk]:
        """The table ``rows`` rows at a time (only ``columns``, in that order, when given).

        ``progress(done, total)`` is called after each chunk: bytes of a CSV, rows of a
        Parquet file.
        """
        if rows < 1:
            raise GlassnetError(f"--chunk-rows must be at least 1; got {rows}.")
        columns = list(columns) if columns is not None else None
        source = self._parquet_chunks if self.format == "parquet" else self._csv_chunks
        seen = 0
        for frame, done, total in source(rows, columns):
            if len(frame) == 0:
                continue
            yield Chunk(seen + 1, frame)
            seen += len(frame)
            if progress is not None:
                progress(done, total)
        if seen == 0:
            raise GlassnetError(f"{self.what} {self.name!r} has a header "
                                f"({_quote(self.columns, 8)}) but no data rows.")

    def _csv_chunks(self, rows, columns):
        import pandas as pd
        with open(self.path, "rb") as f:
            try:
                reader = pd.read_csv(f, sep=self.sep, chunksize=rows, usecols=columns)
                with reader:
                    for frame in reader:
                        if columns is None and len(self.columns) == frame.shape[1]:
                            frame.columns = self.columns
                        elif columns is not None:
                            frame = frame[columns]
                        yield frame, f.tell(), self.size
            except pd.errors.EmptyDataError:
                raise GlassnetError(f"{self.what} {self.name!r} is empty: expected a header row "
                                    "of column names and at least one data row.") from None
            except pd.errors.ParserError as exc:
                raise GlassnetError(f"{self.what} {self.name!r} cannot be read as CSV: "
                                    f"{exc}".rstrip()) from None
            except UnicodeDecodeError:
                raise GlassnetError(f"{self.what} {self.name!r} is not a UTF-8 text file; is it "
                                    "really a CSV?") from None

    def _parquet_chunks(self, rows, columns):
        done = 0
        try:
            for batch in self._parquet.iter_batches(batch_size=rows, columns=columns):
                frame = batch.to_pandas()
                done += len(frame)
                yield frame, done, self.rows
        except GlassnetError:
            raise
        except (OSError, ValueError) as exc:    # ArrowInvalid is a ValueError
            raise GlassnetError(f"{self.what} {self.name!r} cannot be read as Parquet: "
                                f"{exc}".rstrip()) from None


def open_table(path, *, sep: str = ",", what: str = "data file") -> Table:
    """Open a CSV or Parquet table for chunked reading; errors name the file and what is wrong."""
    return Table(path, sep=sep, what=what)


def _quote(names, limit: int = 12) -> str:
    return quote_names(names, limit)


# --- writing -------------------------------------------------------------------------------------

class TableWriter:
    """Write a table chunk by chunk: CSV (to a file or standard output) or Parquet.

    The file appears only when the writer closes without an error (written to a temporary
    file beside it, then moved into place); ``None`` or ``"-"`` is standard output (CSV).

    >>> import os, tempfile, pandas as pd
    >>> path = os.path.join(tempfile.mkdtemp(), "out.csv")
    >>> with TableWriter(path) as w:
    ...     w.write(pd.DataFrame({"a": [1, 2]})); w.write(pd.DataFrame({"a": [3]}))
    >>> open(path).read().split()
    ['a', '1', '2', '3']
    """

    def __init__(self, path, *, sep: str = ","):
        self.stdout = path is None or str(path) == "-"
        self.path = None if self.stdout else Path(os.fspath(path))
        self.format = "csv" if self.stdout else table_format(self.path)
        self.sep = check_sep(sep)
        self.rows = 0
        self._stack = contextlib.ExitStack()
        self._file = None
        self._parquet = None
        self._schema = None
        if self.format == "parquet":
            _pyarrow(f"output {str(self.path)!r}")

    def __enter__(self):
        if self.stdout:
            self._file = sys.stdout
        else:
            mode = "wb" if self.format == "parquet" else "w"
            self._file = self._stack.enter_context(atomic_write(self.path, mode))
        return self

    def write(self, frame) -> None:
        if self.format == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq
            if self._parquet is None:
                table = pa.Table.from_pandas(frame, preserve_index=False)
                self._schema = table.schema
                self._parquet = pq.ParquetWriter(self._file, self._schema)
            else:
                table = pa.Table.from_pandas(frame, schema=self._schema, preserve_index=False)
            self._parquet.write_table(table)
        else:
            frame.to_csv(self._file, index=False, header=self.rows == 0, sep=self.sep)
        self.rows += len(frame)

    def __exit__(self, kind, value, tb):
        try:
            if self._parquet is not None:
                self._parquet.close()
            if self.stdout:
                self._file.flush()
        except BaseException:
            self._stack.__exit__(*sys.exc_info())
            raise
        return self._stack.__exit__(kind, value, tb)
