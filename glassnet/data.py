"""Tables in, arrays out: CSV reading, label encoding, standardisation, and data errors.

Used by ``glassnet train`` and ``glassnet predict``; pandas is imported only here, inside
the functions that read files.  Every error is a :class:`GlassnetError` that names the
file, the column and the rows.  Rows are counted the way a reader counts them: **data
row 1 is the first row under the header** (so data row r is line r + 1 of a plain CSV).

Classification or regression (``task="auto"``):

* a target that is not numeric (strings, booleans) is a classification target;
* a numeric target whose values are all whole numbers, with at most
  :data:`MAX_AUTO_CLASSES` (20) distinct values, is a classification target;
* any other numeric target is a regression target.

``task="classification"`` or ``"regression"`` overrides the rule.
"""
from __future__ import annotations

import csv
import difflib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ._validation import GlassnetError

#: a whole-number target with at most this many distinct values is taken as class labels
MAX_AUTO_CLASSES = 20
TASKS = ("auto", "classification", "regression")


# --- reading --------------------------------------------------------------------------------

def read_csv(path, *, sep: str = ",", what: str = "data file"):
    """Read a CSV file with a header row into a pandas DataFrame, with errors that say where.

    Refuses a missing, empty or header-only file, a file that is not text, rows with
    the wrong number of fields, and duplicate or empty column names.
    """
    import pandas as pd
    path = Path(os.fspath(path))
    name = str(path)
    if not path.exists():
        raise GlassnetError(f"{what} {name!r} does not exist.")
    if path.is_dir():
        raise GlassnetError(f"{what} {name!r} is a folder, not a CSV file.")
    header = _header(path, sep, what)
    try:
        frame = pd.read_csv(path, sep=sep)
    except pd.errors.EmptyDataError:
        raise GlassnetError(f"{what} {name!r} is empty: expected a header row of column names "
                            "and at least one data row.") from None
    except pd.errors.ParserError as exc:
        raise GlassnetError(f"{what} {name!r} cannot be read as CSV: {exc}".rstrip()) from None
    except UnicodeDecodeError:
        raise GlassnetError(f"{what} {name!r} is not a UTF-8 text file; is it really a "
                            "CSV?") from None
    if len(frame) == 0:
        raise GlassnetError(f"{what} {name!r} has a header ({quote_names(header, 8)}) but no data "
                            "rows.")
    frame.columns = header if len(header) == frame.shape[1] else frame.columns
    return frame


def _header(path: Path, sep: str, what: str) -> list[str]:
    """The raw column names of the first line; duplicates and blanks are errors."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            first = next(csv.reader(f, delimiter=sep), None)
    except UnicodeDecodeError:
        raise GlassnetError(f"{what} {str(path)!r} is not a UTF-8 text file; is it really a "
                            "CSV?") from None
    if not first or not any(c.strip() for c in first):
        raise GlassnetError(f"{what} {str(path)!r} is empty: expected a header row of column "
                            "names and at least one data row.")
    blanks = [i + 1 for i, c in enumerate(first) if not c.strip()]
    if blanks:
        raise GlassnetError(f"{what} {str(path)!r}: the header has empty column names (column "
                            f"positions {blanks}); every column needs a name.")
    seen, dupes = set(), []
    for c in first:
        if c in seen and c not in dupes:
            dupes.append(c)
        seen.add(c)
    if dupes:
        raise GlassnetError(f"{what} {str(path)!r}: the header repeats the column name(s) "
                            f"{quote_names(dupes)}; column names must be unique.")
    return first


def quote_names(names: Sequence, limit: int = 12) -> str:
    shown = ", ".join(repr(str(n)) for n in list(names)[:limit])
    more = len(names) - limit
    return shown + (f" and {more} more" if more > 0 else "")


def _rows(mask: np.ndarray, limit: int = 5, first_row: int = 1) -> str:
    """'rows 3, 8 and 2 more' for a boolean mask over data rows (``mask[0]`` is ``first_row``)."""
    rows = np.flatnonzero(mask) + first_row
    shown = ", ".join(str(r) for r in rows[:limit])
    more = len(rows) - limit
    word = "row" if len(rows) == 1 else "rows"
    return f"{word} {shown}" + (f" and {more} more" if more > 0 else "")


# --- columns --------------------------------------------------------------------------------

def check_target_column(frame, target: str, where: str) -> None:
    """The target column must exist; the error suggests the closest of all the columns.

    The suggestions are drawn from every column (a case-insensitive match first, then
    :func:`difflib.get_close_matches`) and never cut; the listing of the columns may be.
    A file read as a single column whose name holds ``;``, a tab or ``|`` was split on the
    wrong separator, and the message says which ``--sep`` to pass.
    """
    if target in frame.columns:
        return
    columns = [str(c) for c in frame.columns]
    if len(columns) == 1:
        sep = next((s for s in (";", "\t", "|") if s in columns[0]), None)
        if sep is not None:
            raise GlassnetError(
                f"{where}: there is no target column {target!r}: the file was read as one "
                f"column named {columns[0]!r}, which holds {sep!r}: its fields are probably "
                f"separated by {sep!r}. Pass --sep "
                + ("$'\\t'" if sep == "\t" else repr(sep)) + ".")
    key = target.strip().lower()
    lowered = [c for c in columns if c.strip().lower() == key]
    by_lower = {}                                    # lower-cased name -> the names it covers
    for c in columns:
        by_lower.setdefault(c.strip().lower(), []).append(c)
    close = [c for k in difflib.get_close_matches(key, list(by_lower), n=3, cutoff=0.6)
             for c in by_lower[k]]
    hint = list(dict.fromkeys(lowered + close))
    if hint:
        guess = (f" Did you mean {hint[0]!r}?" if len(hint) == 1 else
                 f" Did you mean one of {', '.join(repr(h) for h in hint)}?")
    else:
        guess = " No column name is close to it."
    raise GlassnetError(f"{where}: there is no target column {target!r}.{guess} The "
                        f"{len(columns)} columns are: {quote_names(columns, 100)}.")


def feature_matrix(frame, features: Sequence[str], where: str, *,
                   first_row: int = 1) -> np.ndarray:
    """The named columns as a float64 (rows, features) matrix; booleans become 0/1.

    Raises naming every non-numeric column (with its first offending value and row) and
    every column with missing values (with its first rows).  ``first_row`` is the data row
    number of the frame's first row (a chunk of a larger file starts further down).
    """
    import pandas as pd
    non_numeric, missing = [], []
    columns = []
    for name in features:
        col = frame[name]
        if pd.api.types.is_bool_dtype(col):
            col = col.astype(np.float64)
        elif not pd.api.types.is_numeric_dtype(col):
            non_numeric.append(_non_numeric_detail(col, name, first_row))
            continue
        values = col.to_numpy(dtype=np.float64, na_value=np.nan)
        nan, inf = np.isnan(values), np.isinf(values)
        if nan.any():
            missing.append(f"{name!r} (empty in data {_rows(nan, first_row=first_row)})")
        if inf.any():
            missing.append(f"{name!r} (infinite in data {_rows(inf, first_row=first_row)})")
        columns.append(values)
    if non_numeric:
        raise GlassnetError(
            f"{where}: feature columns must hold numbers, but "
            + ("this column does not: " if len(non_numeric) == 1 else "these columns do not: ")
            + "; ".join(non_numeric) + ". Encode them as numbers (e.g. one-hot) or leave them "
            "out with --features.")
    if missing:
        raise GlassnetError(f"{where}: feature columns have missing or infinite values: "
                            + "; ".join(missing)
                            + ". (Data row 1 is the first row under the header.) Remove those "
                            "rows or fill the gaps before training or predicting.")
    if not columns:
        return np.empty((len(frame), 0))
    return np.ascontiguousarray(np.column_stack(columns), dtype=np.float64)


def _non_numeric_detail(col, name: str, first_row: int = 1) -> str:
    """'colour' (first non-number 'red' in data row 1)."""
    import pandas as pd
    numbers = pd.to_numeric(col, errors="coerce")
    bad = (numbers.isna() & col.notna()).to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        return (f"{name!r} (first non-number {str(col.iloc[row])!r} in data row "
                f"{row + first_row})")
    return f"{name!r} (dtype {col.dtype})"


def select_features(frame, target: str | None, features: Sequence[str] | None,
                    where: str) -> list[str]:
    """The feature columns: ``features`` if given (each must exist), else all but the target."""
    columns = [str(c) for c in frame.columns]
    if features is None:
        chosen = [c for c in columns if c != target]
    else:
        chosen = list(features)
        absent = [c for c in chosen if c not in columns]
        if absent:
            raise GlassnetError(f"{where}: the feature column(s) {quote_names(absent)} are not in the "
                                f"file. The columns are: {quote_names(columns, 30)}.")
        if target is not None and target in chosen:
            raise GlassnetError(f"{where}: the target column {target!r} cannot also be a "
                                "feature.")
        dupes = sorted({c for c in chosen if chosen.count(c) > 1})
        if dupes:
            raise GlassnetError(f"{where}: --features names {quote_names(dupes)} more than once.")
    if not chosen:
        raise GlassnetError(f"{where}: there are no feature columns besides the target "
                            f"{target!r}.")
    return chosen


def match_columns(frame, features: Sequence[str], where: str, *, target: str | None = None,
                  allowed_extra: Sequence[str] = (), ignore_extra: bool = False) -> None:
    """A prediction file must have the model's feature columns, and (unless told) no others.

    The model's target column and the ``allowed_extra`` ones (ids to keep) may be present.
    """
    columns = [str(c) for c in frame.columns]
    missing = [c for c in features if c not in columns]
    extra = [c for c in columns if c not in features and c != target
             and c not in allowed_extra]
    if missing or (extra and not ignore_extra):
        parts = []
        if missing:
            parts.append(f"missing {quote_names(missing)}")
        if extra and not ignore_extra:
            parts.append(f"not in the model {quote_names(extra)}")
        hint = (" Pass --ignore-extra to skip unknown columns, or --keep COLUMN to copy one "
                "into the output." if extra and not missing else "")
        raise GlassnetError(f"{where}: its columns differ from the ones the model was trained on "
                            f"({'; '.join(parts)}). The model expects {len(features)} feature "
                            f"columns: {quote_names(features, 30)}.{hint}")


# --- targets --------------------------------------------------------------------------------

def target_values(frame, target: str, where: str, *, first_row: int = 1) -> np.ndarray:
    """The target column as a NumPy array; missing entries are an error naming the rows."""
    col = frame[target]
    bad = col.isna().to_numpy()
    if bad.any():
        raise GlassnetError(f"{where}: the target column {target!r} has missing values in data "
                            f"{_rows(bad, first_row=first_row)} (data row 1 is the first row under the header). "
                            "Remove those rows before training.")
    import pandas as pd
    if pd.api.types.is_bool_dtype(col):
        return col.to_numpy(dtype=bool)
    if pd.api.types.is_numeric_dtype(col):
        return col.to_numpy()
    return col.astype(str).to_numpy(dtype=object)


def _is_numeric(values: np.ndarray) -> bool:
    return values.dtype.kind in "iuf"


def detect_task(values: np.ndarray, task: str = "auto") -> str:
    """'classification' or 'regression' for a target column, by the rule in the module doc."""
    if task not in TASKS:
        raise GlassnetError(f"task must be one of {list(TASKS)}. Got {task!r} instead.")
    if task != "auto":
        return task
    if not _is_numeric(values):
        return "classification"
    values = values.astype(np.float64)
    if np.all(values == np.round(values)) and np.unique(values).size <= MAX_AUTO_CLASSES:
        return "classification"
    return "regression"


def encode_labels(values: np.ndarray) -> tuple[np.ndarray, list]:
    """Class labels of any kind -> (codes 0..k-1, sorted list of the k labels).

    Whole-number floats (``1.0``) become ints, so the labels read back as they were written.

    >>> encode_labels(np.array(["cat", "dog", "cat"], dtype=object))
    (array([0, 1, 0]), ['cat', 'dog'])
    """
    values = np.asarray(values)
    if values.dtype.kind == "f" and np.all(values == np.round(values)):
        values = values.astype(np.int64)
    classes, codes = np.unique(values, return_inverse=True)
    return codes.reshape(-1).astype(np.int64), [c.item() if isinstance(c, np.generic) else c
                                                for c in classes]


def decode_labels(codes: np.ndarray, classes: Sequence) -> np.ndarray:
    """Codes 0..k-1 back to the labels (an object array, so ints, strings and bools survive)."""
    table = np.empty(len(classes), dtype=object)
    table[:] = list(classes)
    return table[np.asarray(codes, dtype=np.int64)]


def label_key(value) -> str:
    """A class label as text, so that the same label matches however it was read or stored:
    ``1``, ``1.0``, ``"1"`` and ``np.int64(1)`` are all ``"1"``; ``True`` is ``"True"``.

    >>> [label_key(v) for v in (1, 1.0, "1", np.int64(1), True, "cat")]
    ['1', '1', '1', '1', 'True', 'cat']
    """
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (np.integer, np.floating)):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def class_codes(values, classes: Sequence, what: str = "y") -> np.ndarray:
    """Class labels -> their indices 0..k-1 in ``classes`` (a model's stored class labels).

    Labels are matched by :func:`label_key`.  Integer codes 0..k-1 pass through unchanged
    when no stored label is a number (so they cannot be mistaken for one).  A label the
    model does not know is an error naming it and the model's classes.

    >>> class_codes(np.array(["dog", "cat", "dog"]), ["cat", "dog"]).tolist()
    [1, 0, 1]
    >>> class_codes(np.array([3, 1]), [1, 2, 3]).tolist()
    [2, 0]
    """
    values = np.asarray(values)
    lookup = {label_key(c): i for i, c in enumerate(classes)}
    keys = [label_key(v) for v in values.reshape(-1)]
    unknown = list(dict.fromkeys(key for key in keys if key not in lookup))
    if not unknown:
        return np.array([lookup[key] for key in keys], dtype=np.int64).reshape(values.shape)
    numeric_labels = any(isinstance(c, (int, float, np.number)) and not isinstance(c, bool)
                         for c in classes)
    if (values.dtype.kind in "iu" and not numeric_labels and values.size
            and values.min() >= 0 and values.max() < len(classes)):
        return values.astype(np.int64)
    raise GlassnetError(f"{what} holds labels the model does not know: {unknown[:5]}"
                        f"{' and more' if len(unknown) > 5 else ''}; its classes are "
                        f"{list(classes)[:20]}.")


# --- scaling and splitting ------------------------------------------------------------------

@dataclass
class Standardizer:
    """x -> (x - mean) / std per column; a constant column keeps std 1 (it is only centred)."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, X: np.ndarray) -> "Standardizer":
        X = np.asarray(X, dtype=np.float64)
        mean = X.mean(axis=0)
        std = X.std(axis=0)
        std[~(std > 1e-12 * np.maximum(1.0, np.abs(mean)))] = 1.0
        return cls(mean, std)

    def transform(self, X: np.ndarray) -> np.ndarray:
        return (np.asarray(X, dtype=np.float64) - self.mean) / self.std

    def inverse(self, Z: np.ndarray) -> np.ndarray:
        return np.asarray(Z) * self.std + self.mean

    def to_dict(self) -> dict:
        return {"mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, d: Any, size: int, what: str = "scaling") -> "Standardizer":
        try:
            mean = np.asarray(d["mean"], dtype=np.float64).reshape(-1)
            std = np.asarray(d["std"], dtype=np.float64).reshape(-1)
        except (KeyError, TypeError, ValueError):
            raise GlassnetError(f"the model's {what} is damaged: expected "
                                "{'mean': [...], 'std': [...]}.") from None
        if mean.size != size or std.size != size or not np.all(std > 0):
            raise GlassnetError(f"the model's {what} has {mean.size} means and {std.size} "
                                f"positive stds; expected {size} of each.")
        return cls(mean, std)


def holdout_split(n: int, fraction: float, seed: int | None,
                  labels: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Row indices (train, validation) with ``fraction`` of the rows held out.

    Stratified by ``labels`` when given: each class gives its share, rounded, and always
    keeps at least one row for training (so tiny data may hold out nothing).  ``fraction``
    0 holds out nothing.
    """
    if not 0.0 <= fraction < 1.0:
        raise GlassnetError(f"the validation fraction must be in [0, 1). Got {fraction}.")
    rng = np.random.default_rng(seed)
    if fraction == 0.0 or n < 2:
        return np.arange(n), np.arange(0)
    if labels is None:
        order = rng.permutation(n)
        k = min(n - 1, max(1, int(round(fraction * n))))
        return np.sort(order[k:]), np.sort(order[:k])
    train, val = [], []
    for c in np.unique(labels):
        rows = rng.permutation(np.flatnonzero(labels == c))
        k = int(round(fraction * rows.size))
        k = min(k, rows.size - 1)   # keep at least one row of every class for training
        val.append(rows[:k])
        train.append(rows[k:])
    train, val = np.sort(np.concatenate(train)), np.sort(np.concatenate(val))
    return train, val
