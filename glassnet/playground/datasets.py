"""The playground's data sets: five 2-D toy sets and scikit-learn's digits, seeded.

Every set comes from one ``numpy.random.Generator`` made from the seed, so the same
arguments give the same points bit for bit; the page's "show the Python" code calls
:func:`make` to rebuild exactly the data the page trained on.  This module needs NumPy
only (digits needs scikit-learn, whose copy of the data ships with it).

The 2-D sets live on the plane ``[-PLANE, PLANE]^2`` and have two classes (0 and 1).
Their inputs are the chosen features of the point (``x1``, ``x2``, ``x1^2``, ...),
computed by :func:`input_features`; the drawing uses the same function on the heatmap grid.

>>> d = make("circle", points=200, noise=0.1, test_fraction=0.5, seed=0)
>>> d.X_train.shape, d.y_train.shape, d.feature_names
((100, 2), (100,), ['x1', 'x2'])
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import GlassnetError, check_choice

#: the plane the 2-D sets are drawn on: [-PLANE, PLANE] in both coordinates
PLANE = 3.0
#: the 2-D sets, in the order the page lists them
PLANE_SETS = ("circle", "xor", "gaussians", "spiral", "moons")
#: every set the page offers
DATASETS = PLANE_SETS + ("digits",)
#: the optional input features of the 2-D sets: name -> (label, function of x1 and x2)
FEATURES = {
    "x1": ("x1", lambda a, b: a),
    "x2": ("x2", lambda a, b: b),
    "x1sq": ("x1²", lambda a, b: a * a),
    "x2sq": ("x2²", lambda a, b: b * b),
    "x1x2": ("x1·x2", lambda a, b: a * b),
    "sinx1": ("sin x1", lambda a, b: np.sin(a)),
    "sinx2": ("sin x2", lambda a, b: np.sin(b)),
}
DIGITS_SIDE = 8


@dataclass(frozen=True)
class Dataset:
    """One playground data set, split; ``P_*`` are the 2-D points (None for digits)."""

    name: str
    X_train: np.ndarray          # (n_train, n_features) network inputs
    y_train: np.ndarray          # (n_train,) class indices
    X_test: np.ndarray
    y_test: np.ndarray
    feature_names: list
    n_classes: int
    P_train: np.ndarray | None = None   # (n_train, 2) the points on the plane
    P_test: np.ndarray | None = None


def input_features(points: np.ndarray, names) -> np.ndarray:
    """The inputs for ``points`` (n, 2): one column per feature name, in ``names`` order.

    >>> input_features(np.array([[1.0, 2.0]]), ["x1", "x1x2", "x2sq"]).tolist()
    [[1.0, 2.0, 4.0]]
    """
    names = list(names)
    if not names:
        raise GlassnetError(f"features must name at least one of {list(FEATURES)}; got none.")
    for n in names:
        check_choice("features", n, FEATURES, what="entry")
    a, b = points[:, 0], points[:, 1]
    return np.column_stack([FEATURES[n][1](a, b) for n in names]).astype(np.float64)


def grid(size: int) -> np.ndarray:
    """The heatmap grid: ``size * size`` points, row by row from the top (x2 = +PLANE) down,
    each row left (x1 = -PLANE) to right; (size * size, 2)."""
    axis = np.linspace(-PLANE, PLANE, size)
    x1, x2 = np.meshgrid(axis, axis[::-1])
    return np.column_stack([x1.ravel(), x2.ravel()])


def _circle(rng, n, noise):
    inner = n // 2
    r = np.concatenate([rng.uniform(0.0, 0.5 * PLANE, inner),
                        rng.uniform(0.7 * PLANE, PLANE, n - inner)])
    angle = rng.uniform(0.0, 2 * np.pi, n)
    pts = np.column_stack([r * np.sin(angle), r * np.cos(angle)])
    pts += rng.normal(0.0, noise * PLANE / 2, pts.shape)
    return pts, (np.arange(n) < inner).astype(np.int64)


def _xor(rng, n, noise):
    pad = 0.1 * PLANE
    pts = rng.uniform(-PLANE, PLANE, (n, 2))
    pts += np.where(pts > 0, pad, -pad)          # keep points off the axes
    pts = np.clip(pts, -PLANE, PLANE)
    labels = (pts[:, 0] * pts[:, 1] >= 0).astype(np.int64)
    pts += rng.normal(0.0, noise * PLANE / 2, pts.shape)
    return pts, labels


def _gaussians(rng, n, noise):
    half = n // 2
    centre = 0.5 * PLANE
    std = 0.15 * PLANE + noise * PLANE
    a = rng.normal(centre, std, (half, 2))
    b = rng.normal(-centre, std, (n - half, 2))
    return np.vstack([a, b]), (np.arange(n) < half).astype(np.int64)


def _spiral(rng, n, noise):
    half = n // 2
    out, labels = [], []
    for cls, count, delta in ((1, half, 0.0), (0, n - half, np.pi)):
        t = np.linspace(0.0, 1.0, count, endpoint=False)
        r = t * 0.9 * PLANE
        angle = 1.75 * t * 2 * np.pi + delta
        pts = np.column_stack([r * np.sin(angle), r * np.cos(angle)])
        pts += rng.normal(0.0, noise * PLANE / 3, pts.shape)
        out.append(pts)
        labels.append(np.full(count, cls, np.int64))
    return np.vstack(out), np.concatenate(labels)


def _moons(rng, n, noise):
    half = n // 2
    t1 = rng.uniform(0.0, np.pi, half)
    t2 = rng.uniform(0.0, np.pi, n - half)
    upper = np.column_stack([np.cos(t1), np.sin(t1)])
    lower = np.column_stack([1.0 - np.cos(t2), 0.5 - np.sin(t2)])
    pts = np.vstack([upper, lower]) - [0.5, 0.25]        # centred on the origin
    pts *= 0.45 * PLANE
    pts += rng.normal(0.0, noise * PLANE / 2, pts.shape)
    return pts, (np.arange(n) < half).astype(np.int64)


_MAKERS = {"circle": _circle, "xor": _xor, "gaussians": _gaussians, "spiral": _spiral,
           "moons": _moons}


def _split(rng, n, test_fraction):
    order = rng.permutation(n)
    n_test = min(n - 1, max(1, int(round(n * test_fraction))))
    return np.sort(order[n_test:]), np.sort(order[:n_test])


def make(name: str, *, points: int = 500, noise: float = 0.0, test_fraction: float = 0.5,
         features=("x1", "x2"), seed: int = 0) -> Dataset:
    """Build the data set ``name`` from ``seed``: ``points`` samples (digits: at most
    1797), ``noise`` in [0, 1] (a fraction of the plane; ignored by digits), a random
    ``test_fraction`` held out, and the 2-D sets' input ``features`` (names of
    :data:`FEATURES`)."""
    feature_list = list(features)
    check_choice("data", name, DATASETS, what="data set")
    rng = np.random.default_rng(seed)
    if name == "digits":
        from sklearn.datasets import load_digits   # ships with scikit-learn: no download
        digits = load_digits()
        n = min(points, len(digits.target))
        rows = np.sort(rng.choice(len(digits.target), size=n, replace=False))
        X = digits.data[rows] / 16.0                    # pixels in [0, 1]
        y = digits.target[rows].astype(np.int64)
        train, test = _split(rng, n, test_fraction)
        names = [f"pixel_{r}_{c}" for r in range(DIGITS_SIDE) for c in range(DIGITS_SIDE)]
        return Dataset(name, X[train], y[train], X[test], y[test], names, 10)
    P, y = _MAKERS[name](rng, points, noise)
    train, test = _split(rng, points, test_fraction)
    X = input_features(P, feature_list)
    return Dataset(name, X[train], y[train], X[test], y[test], feature_list, 2,
                   P[train], P[test])
