"""Input checks at the library's boundary, in one place.

Every public entry point validates through these helpers so that bad input is
answered with a :class:`GlassnetError` (a ``ValueError``) naming the argument,
what was expected and what came, never with a NumPy traceback from deep inside.
"""
from __future__ import annotations

import numbers
import os
import sys
import warnings
from typing import Any, Iterable, Sequence

import numpy as np

from ._mapped import FileRows


class GlassnetError(ValueError):
    """A user-facing error: bad input, a damaged file, a training run that failed."""


#: the most characters of a user's value an error message repeats back (``echo``)
MAX_ECHO_CHARS = 200


def echo(value: Any, limit: int = MAX_ECHO_CHARS, *, as_text: bool = False) -> str:
    """``repr(value)`` (or ``str`` with ``as_text``) for an error message, at most ``limit``
    characters: a longer one keeps its start and end and says how long it was.

    Every message that repeats what the user gave goes through here, so an 800 KB argument
    gives a one-line error, not an 800 KB one.

    >>> echo("x" * 1000, 60)
    "'xxxxxxxxxxxxxxx ... xxxxxxxxxxxxxxxxxxx' (1,002 characters)"
    """
    try:
        text = str(value) if as_text else _repr(value)
    except ValueError:           # an int past Python's 4,300-digit str() limit
        return f"<{type(value).__name__} too long to show>"
    if len(text) <= limit:
        return text
    tail = max(limit // 3, 1)
    head = max(limit - tail - 24, 1)
    return f"{text[:head]} ... {text[-tail:]} ({len(text):,} characters)"


def _repr(value: Any) -> str:
    """repr, without building a huge string for a huge list first."""
    if isinstance(value, (list, tuple)) and len(value) > MAX_ECHO_CHARS:
        inner = ", ".join(repr(v) for v in value[:MAX_ECHO_CHARS // 2])
        return f"[{inner}, ... ({len(value):,} items)]"
    try:
        return repr(value)
    except Exception:            # a hostile __repr__ must not hide the real error
        return f"<{type(value).__name__}>"


class UnscaledInputWarning(UserWarning):
    """``fit`` was given input columns far from standardized (see :func:`input_scale_message`).

    Silence it with ``warnings.simplefilter("ignore", glassnet.UnscaledInputWarning)``.
    """


# --- warnings that point at the user's line ------------------------------------------------------

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


def warn(message: str, category: type = UserWarning) -> None:
    """``warnings.warn`` attributed to the first caller outside glassnet: the user's line.

    Every warning glassnet raises goes through here, so that however deep inside the
    package it starts (``Neuro(...)`` -> ``Network.__init__`` -> the symmetry check), the
    file and line Python prints are the ones the user wrote.
    """
    frame, level = sys._getframe(1), 2         # level 2: warn's caller
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)


# --- the input-scale check fit makes -----------------------------------------------------------

#: a column is unscaled for fit when sqrt(mean^2 + std^2) exceeds this.  Standardized data
#: gives 1, pixels in [0, 1] at most 1, raw digits pixels (0..16) at most 13 and raw iris 5.9,
#: all of which train; raw wine reaches 810 (proline) and 101 (magnesium) and trains to 40%.
#: The doctor's ``unscaled_inputs`` finding starts lower (5): it explains a run that went
#: wrong, while this warning speaks up unasked and so only where runs usually do go wrong.
FIT_UNSCALED = 20.0
#: rows the check reads at most (evenly spaced, no random draw: the network's generator is
#: left alone), in blocks of this many, so a large X costs a few thousand rows' work
SCALE_ROWS = 4096


def input_scale_message(X: np.ndarray, names: Sequence | None = None) -> str | None:
    """The warning fit gives for inputs far from standardized, or None when they are fine.

    Reads at most :data:`SCALE_ROWS` evenly spaced rows of ``X`` (n, d), one block at a
    time in float64, and measures each column's size sqrt(mean^2 + std^2).
    """
    n, d = X.shape
    if n == 0 or d == 0:
        return None
    step = max(1, -(-n // SCALE_ROWS))
    reader = FileRows.of(X)
    if reader is None:
        rows = X[::step]                    # a view: nothing is copied yet
    else:                                   # a read-only map: the rows read from its file
        with reader:
            rows = reader.take(np.arange(0, n, step))
    blocks = range(0, rows.shape[0], 1024)
    # each column divided by the power of two at or below its largest |x| first (exact), so
    # that values near the float64 limit cannot overflow the squares (|x| / top < 2):
    # size = top * sqrt(mean((x / top)^2))
    top = np.zeros(d)
    for start in blocks:
        block = rows[start:start + 1024]            # max and min are exact in any dtype
        np.maximum(top, np.maximum(block.max(axis=0), -block.min(axis=0)), out=top)
    top = np.exp2(np.floor(np.log2(np.where(top > 0, top, 1.0))))
    inverse = 1.0 / top                             # a power of two: the product is exact
    total = np.zeros(d)
    square = np.zeros(d)
    for start in blocks:
        block = np.multiply(rows[start:start + 1024], inverse, dtype=np.float64)  # (<=1024, d)
        total += block.sum(axis=0)
        block *= block
        square += block.sum(axis=0)
    m = rows.shape[0]
    mean, mean_square = total / m, square / m
    size = top * np.sqrt(mean_square)                    # sqrt(mean^2 + std^2), the RMS
    bad = np.flatnonzero(size > FIT_UNSCALED)
    if bad.size == 0:
        return None
    std = top * np.sqrt(np.maximum(mean_square - mean * mean, 0.0))
    mean = top * mean
    worst = bad[np.argsort(-size[bad])][:5]
    label = (lambda j: repr(str(names[j]))) if names is not None and len(names) == d else \
        (lambda j: f"column {j}")
    listing = ", ".join(f"{label(j)} (mean {mean[j]:.4g}, std {std[j]:.4g})" for j in worst)
    more = f" and {bad.size - worst.size} more" if bad.size > worst.size else ""
    return (f"{bad.size} of {d} input columns are far from standardized (size "
            f"sqrt(mean^2 + std^2) above {FIT_UNSCALED:g}; standardized data has 1): "
            f"{listing}{more}. Large inputs saturate units and make large, uneven gradients, "
            "so training often stalls or diverges. Standardize with the training rows' "
            "statistics: mean, std = X.mean(axis=0), X.std(axis=0); X = (X - mean) / std "
            "(or scikit-learn's StandardScaler); glassnet.sklearn.GlassClassifier and "
            "GlassRegressor do it for you. To silence this: warnings.simplefilter('ignore', "
            "glassnet.UnscaledInputWarning).")


def check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise GlassnetError(f"{name} must be True or False. Got {echo(value)}.")
    return bool(value)


def check_choice(name: str, value: Any, choices: Iterable[str], what: str = "parameter") -> str:
    """Return ``value`` if it is one of ``choices``; else raise naming the valid keys."""
    choices = sorted(choices)
    if not isinstance(value, str) or value not in choices:
        raise GlassnetError(
            f"The {name!r} {what} must be one of {choices}. Got {echo(value)} instead."
        )
    return value


def check_int(name: str, value: Any, *, minimum: int | None = None) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise GlassnetError(f"{name} must be an integer. Got {echo(value)} "
                            f"({type(value).__name__}).")
    value = int(value)
    if minimum is not None and value < minimum:
        raise GlassnetError(f"{name} must be >= {minimum}. Got {echo(value)}.")
    return value


def check_float(name: str, value: Any, *, minimum: float | None = None,
                strictly_positive: bool = False) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise GlassnetError(f"{name} must be a real number. Got {echo(value)} "
                            f"({type(value).__name__}).")
    value = float(value)
    if not np.isfinite(value):
        raise GlassnetError(f"{name} must be finite. Got {value}.")
    if strictly_positive and value <= 0:
        raise GlassnetError(f"{name} must be > 0. Got {value}.")
    if minimum is not None and value < minimum:
        raise GlassnetError(f"{name} must be >= {minimum}. Got {value}.")
    return value


def check_dtype(dtype: Any) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except (TypeError, ValueError, SyntaxError):  # np.dtype parses strings such as "0,"
        dt = None
    if dt is None or dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise GlassnetError(f"dtype must be 'float32' or 'float64'. Got {dtype!r}.")
    return dt


def _first_bad_rows(mask: np.ndarray, limit: int = 5) -> list[int]:
    rows = np.flatnonzero(mask.reshape(mask.shape[0], -1).any(axis=1)) if mask.ndim else []
    return [int(r) for r in rows[:limit]]


def _all_finite(arr: np.ndarray) -> bool:
    """Whether a float array holds no NaN or inf, without a boolean array as large as it.

    A sum is NaN or inf if any value is; a finite sum proves every value finite.  Only when
    the sum is not finite (a bad value, or finite values whose sum overflows) are the values
    checked one by one, a block of rows at a time.  (For fit's data the full mask would be
    the largest thing training allocates: 1/4 of a float32 X.)
    """
    reader = FileRows.of(arr)
    if reader is not None:                  # a read-only map: read from its file, in blocks
        with reader, np.errstate(over="ignore", invalid="ignore"):
            return all(np.isfinite(np.add.reduce(block, axis=None)) or
                       np.isfinite(block).all() for block in reader.blocks())
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(np.add.reduce(arr, axis=None)):
            return True
    rows = arr.reshape(arr.shape[0], -1) if arr.ndim > 1 else arr.reshape(-1, 1)
    step = max(1, 2 ** 20 // max(1, rows.shape[1]))
    return all(np.isfinite(rows[i:i + step]).all() for i in range(0, rows.shape[0], step))


def as_float_array(name: str, value: Any, dtype: np.dtype, *, ndim: int | tuple[int, ...] = 2,
                   allow_empty: bool = False) -> np.ndarray:
    """Convert ``value`` to a finite float array of ``dtype`` with a clear error if it can't be.

    Copies only when the input is not already a C-contiguous array of ``dtype``.
    """
    if value is None:
        raise GlassnetError(f"{name} is missing (got None); expected an array of numbers.")
    if hasattr(value, "toarray") and hasattr(value, "nnz"):   # scipy.sparse: np.asarray makes
        raise GlassnetError(                                  # a 0-d object array of it
            f"{name} is a sparse matrix ({type(value).__name__}); glassnet trains on dense "
            f"arrays: pass {name}.toarray().")
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError):  # ragged nested lists, objects NumPy cannot read
        raise GlassnetError(
            f"{name} must be a rectangular array of numbers; got {type(value).__name__} whose "
            "rows have different lengths or hold non-numbers."
        ) from None
    if arr.dtype == object or arr.dtype.kind in "USVMm":
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError, OverflowError):
            raise GlassnetError(
                f"{name} must hold numbers; got an array of {arr.dtype} that cannot be read as numbers."
            ) from None
    if arr.dtype.kind not in "biuf":
        raise GlassnetError(f"{name} must hold real numbers; got dtype {arr.dtype}.")
    ndims = (ndim,) if isinstance(ndim, int) else ndim
    if arr.ndim not in ndims:
        shape_words = " or ".join(f"{d}-D" for d in ndims)
        raise GlassnetError(f"{name} must be a {shape_words} array; got shape {arr.shape}.")
    if not allow_empty and arr.size == 0:
        raise GlassnetError(f"{name} is empty (shape {arr.shape}); expected at least one sample.")
    source = arr
    with np.errstate(over="ignore"):  # 1e308 into float32 becomes inf: reported just below
        arr = np.ascontiguousarray(arr, dtype=dtype)
    if arr.dtype.kind == "f" and not _all_finite(arr):
        finite = np.isfinite(arr)
        if not finite.all():
            rows = _first_bad_rows(~finite)
            if source.dtype.kind in "biu" or np.isfinite(source).all():
                raise GlassnetError(
                    f"{name} holds values too large for {arr.dtype} (largest is "
                    f"{np.finfo(arr.dtype).max:.3g}; first rows: {rows}); rescale the data or "
                    "use dtype='float64'."
                )
            raise GlassnetError(
                f"{name} contains NaN or infinite values (first rows: {rows}); "
                "remove or impute them before training."
            )
    return arr
