"""Shared fixtures: real datasets (they ship with scikit-learn) and the numerical oracles."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pytest


@pytest.fixture(scope="session", autouse=True)
def _one_blas_thread():
    """One BLAS thread: the suite's matrices are small, and on a busy 2-core machine
    OpenBLAS's spinning threads make small products many times slower.  Results do not
    depend on it; nothing here is timed."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture
def ctrl_c():
    """Python's own Ctrl-C handler for the test: a shell that starts the suite in the
    background (``cmd &``, nohup) makes the process ignore SIGINT, and then the Ctrl-C
    tests would press a key nobody listens to."""
    import signal

    previous = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


class Split(NamedTuple):
    X_train: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray


@pytest.fixture(scope="session")
def digits_split() -> Split:
    """scikit-learn's 8x8 digits, pixels scaled to [0, 1], a fixed stratified 75/25 split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    parts = train_test_split(X / 16.0, y, test_size=0.25, random_state=0, stratify=y)
    return Split(*parts)


@pytest.fixture(scope="session")
def iris_scaled():
    """Iris with standardised features: (X (150, 4), y (150,) labels 0..2)."""
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    return (X - X.mean(axis=0)) / X.std(axis=0), y


def _central_diff(f, x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """d f / d x by central differences, f a scalar function of the float64 array x."""
    x = np.asarray(x, dtype=np.float64)
    grad = np.empty_like(x)
    flat, g = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        up = f(x)
        flat[i] = old - h
        down = f(x)
        flat[i] = old
        g[i] = (up - down) / (2 * h)
    return grad


def _rel_error(a, b) -> float:
    """||a - b|| / max(||a||, ||b||): the relative error of two gradient vectors."""
    a, b = np.ravel(a), np.ravel(b)
    scale = max(np.linalg.norm(a), np.linalg.norm(b))
    assert scale > 0, "both gradients are zero: the check would prove nothing"
    return float(np.linalg.norm(a - b) / scale)


@pytest.fixture(scope="session")
def central_diff():
    return _central_diff


@pytest.fixture(scope="session")
def rel_error():
    return _rel_error
