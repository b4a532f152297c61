"""Input checks at the library's boundary, in one place.

Every public entry point validates through these helpers so that bad input is
answered with a :class:`GlassnetError` (a ``ValueError``) naming the argument,
what was expected and what came, never with a NumPy traceback from deep inside.
"""
from __future__ import annotations

import numbers
from typing import Any, Iterable

import numpy as np


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
