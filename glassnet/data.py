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

from ._validation import GlassnetError, echo

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
    sep = check_sep(sep)
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


#: what ``--sep`` may be written as besides the character itself
SEP_NAMES = {"\\t": "\t", "tab": "\t", "TAB": "\t"}


def check_sep(sep) -> str:
    """The field separator: one character (``\\t`` and ``tab`` name the tab), not a quote or
    a line break.

    >>> check_sep(";"), check_sep("tab") == chr(9)
    (';', True)
    """
    sep = SEP_NAMES.get(sep, sep) if isinstance(sep, str) else sep
    if not isinstance(sep, str) or len(sep) != 1 or sep in "\"\r\n":
        raise GlassnetError(f"--sep must be a single character such as ',' or ';' (or 'tab'); "
                            f"got {echo(sep)}"
                            + (" (empty)" if sep == "" else "")
                            + (f", {len(sep)} characters" if isinstance(sep, str) and len(sep) > 1
                               else "") + ".")
    return sep


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
            big = _big_integers(col, name, where, first_row)
            if big is None:
                non_numeric.append(_non_numeric_detail(col, name, first_row))
                continue
            col = big
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


def _big_integers(col, name: str, where: str, first_row: int = 1):
    """A column of whole numbers too large for int64 (pandas leaves them as Python ints, an
    object column) as float64, which holds them to about 16 digits; None if the column
    holds anything else.  An integer beyond float64 (1.8e308) is an error naming it."""
    import pandas as pd
    present = col.dropna()
    if present.empty or not all(isinstance(v, int) and not isinstance(v, bool)
                                for v in present):
        return None
    out = np.full(len(col), np.nan)
    for i, v in enumerate(col):
        if isinstance(v, int):
            try:
                out[i] = float(v)
            except OverflowError:
                raise GlassnetError(
                    f"{where}: column {name!r} holds the integer {echo(v, 40, as_text=True)} "
                    f"in data row {i + first_row}, too large for any number type glassnet "
                    "computes with (float64 ends near 1.8e308).") from None
    return pd.Series(out, index=col.index)


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

def column_stats(X: np.ndarray, weights: np.ndarray | None = None,
                 names: Sequence[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per-column (mean, std) of ``X`` (rows weighted by ``weights``), without overflow or
    underflow: each column is divided by its largest ``|x|`` first, so features near
    1e299 or 1e-13 get their true statistics (squaring 1e299 would overflow to inf).

    A column is constant only when every (weighted) value is the same; its std is 1, so it
    is only centred.  Statistics float64 cannot hold (a column spanning more than 1.8e308)
    are an error naming the column; ``names`` gives the columns' names for it.

    >>> mean, std = column_stats(np.array([[1e299, 3e-13, 5.0], [3e299, 1e-13, 5.0]]))
    >>> [f"{m:.3g}" for m in mean], [f"{s:.3g}" for s in std]
    (['2e+299', '2e-13', '5'], ['1e+299', '1e-13', '1'])
    """
    X = np.asarray(X, dtype=np.float64)
    w = None if weights is None else np.asarray(weights, dtype=np.float64).reshape(-1)
    rows = X if w is None else X[w > 0]
    if rows.shape[0] == 0:
        return np.zeros(X.shape[1]), np.ones(X.shape[1])
    big = np.max(np.abs(rows), axis=0)                                   # (features,)
    constant = np.all(rows == rows[:1], axis=0)
    scale = np.where((big > 0) & np.isfinite(big), big, 1.0)
    Z = X / scale                                                        # |Z| <= 1
    with np.errstate(over="ignore", invalid="ignore", under="ignore"):
        mean_z = np.average(Z, axis=0, weights=w)
        var_z = np.average((Z - mean_z) ** 2, axis=0, weights=w)
        mean = mean_z * scale
        std = np.sqrt(var_z) * scale
    std[constant] = 1.0
    mean[constant] = rows[0, constant]
    bad = ~(np.isfinite(mean) & np.isfinite(std)) | ~(std > 0)
    if bad.any():
        cols = np.flatnonzero(bad)
        shown = (quote_names([names[c] for c in cols[:5]]) if names is not None
                 else str(cols[:5].tolist()))
        raise GlassnetError(f"the column(s) {shown} cannot be standardised in float64: their "
                            f"values (up to {float(np.max(big[cols])):.3g} in size) vary by "
                            "more than float64 can hold, or by less than it can tell apart. "
                            "Rescale them (e.g. take logarithms) before training.")
    return mean, std


@dataclass
class Standardizer:
    """x -> (x - mean) / std per column; a constant column keeps std 1 (it is only centred).

    The statistics come from :func:`column_stats` (no overflow, no false constants), the
    same in ``glassnet train`` and the estimators.
    """

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, X: np.ndarray, names: Sequence[str] | None = None) -> "Standardizer":
        return cls(*column_stats(X, names=names))

    def transform(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        with np.errstate(over="ignore", invalid="ignore"):
            out = (X - self.mean) / self.std
        if not np.isfinite(out).all():
            # x - mean overflowed (values near +-1e308 on both sides): scale before
            # subtracting; rows whose inputs were already inf or NaN stay so
            with np.errstate(over="ignore", invalid="ignore"):
                safe = X / self.std - self.mean / self.std
            out = np.where(np.isfinite(out), out, safe)
        return out

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
    labels = np.asarray(labels)
    if labels.dtype.kind in "iu" and labels.size and labels.min() >= 0:
        present = np.flatnonzero(np.bincount(labels))     # np.unique's classes, without a sort
    else:
        present = np.unique(labels)
    held = np.zeros(n, dtype=bool)
    for c in present:
        rows = np.flatnonzero(labels == c)
        rng.shuffle(rows)           # in place: the order rng.permutation(rows) draws
        k = int(round(fraction * rows.size))
        k = min(k, rows.size - 1)   # keep at least one row of every class for training
        held[rows[:k]] = True
    # each side's rows in increasing order (as sorting them would give), without a sort
    return np.flatnonzero(~held), np.flatnonzero(held)
