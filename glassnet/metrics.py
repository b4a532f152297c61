"""Metrics: accuracy, log loss, mean squared and absolute error, R^2.

Two faces of each metric:

* plain functions with scikit-learn's meaning and argument order,
  ``accuracy(y_true, y_pred, sample_weight=None)``, usable on any arrays;
* :class:`Metric` entries of a registry, named in ``fit(..., metrics=["accuracy", "r2"])``,
  computed from the network's outputs on a whole data set.  ``fit`` records each one per
  epoch as ``history["accuracy"]`` (training data, weights at the end of the epoch) and
  ``history["val_accuracy"]`` (validation data).

================  ==================================  ==========  ====================
name (aliases)    value                               better      for
================  ==================================  ==========  ====================
accuracy (acc)    fraction of rows predicted right    higher      classifiers, and
                  (the largest output for one-hot                 softmax or sigmoid
                  targets, else each output > 0.5)                outputs (Neuro's)
log_loss          mean cross-entropy of the outputs   lower       classifiers
mse               mean of (output - target)^2         lower       any network
mae               mean of abs(output - target)        lower       any network
r2 (r2_score)     1 - SS_res / SS_tot, averaged       higher      any network
                  over outputs (scikit-learn's)
================  ==================================  ==========  ====================

A callable ``metric(Y, output) -> float`` also works; it receives the encoded targets
(one-hot rows for labels) and the network's output, and is recorded under its
``__name__``.

Each built-in metric is computed chunk by chunk (:data:`CHUNK_ROWS` rows at a time) through
a small accumulator, so scoring a data set holds one chunk's outputs and never one value
per row of the whole set (which, for a memory-mapped table of ten million rows, is more
memory than the table's training needs).  A callable metric sees the whole arrays.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

from ._mapped import FileRows
from ._validation import GlassnetError, as_float_array

Array = np.ndarray


# --- plain functions -------------------------------------------------------------------------

def _weights(sample_weight, n: int):
    if sample_weight is None:
        return None
    sw = as_float_array("sample_weight", sample_weight, np.dtype(np.float64), ndim=(1, 2))
    if sw.ndim == 2 and sw.shape[1] != 1:
        raise GlassnetError(f"sample_weight must be 1-D (one weight per sample); got shape "
                            f"{sw.shape}.")
    sw = sw.reshape(-1)
    if sw.shape[0] != n:
        raise GlassnetError(f"sample_weight has {sw.shape[0]} entries; expected {n}.")
    if np.any(sw < 0) or not sw.sum() > 0:
        raise GlassnetError("sample_weight must be >= 0 with a positive sum.")
    return sw


def _pair(y_true, y_pred):
    """Both as arrays with the same number of rows, at least one."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.ndim == 0 or y_pred.ndim == 0:
        raise GlassnetError("y_true and y_pred must be arrays with one entry per sample; got "
                            "a scalar.")
    if y_true.shape[0] != y_pred.shape[0]:
        raise GlassnetError(f"y_true has {y_true.shape[0]} rows but y_pred has "
                            f"{y_pred.shape[0]}.")
    if y_true.shape[0] == 0:
        raise GlassnetError("y_true and y_pred are empty; expected at least one sample.")
    return y_true, y_pred


def _same_shape(y_true, y_pred):
    """One prediction per target; (n,) and (n, 1) are the same column (never broadcast)."""
    y_true, y_pred = _pair(y_true, y_pred)
    if y_true.ndim == 2 and y_true.shape[1] == 1 and y_pred.ndim == 1:
        y_true = y_true[:, 0]
    elif y_pred.ndim == 2 and y_pred.shape[1] == 1 and y_true.ndim == 1:
        y_pred = y_pred[:, 0]
    if y_true.shape != y_pred.shape:
        raise GlassnetError(f"y_true has shape {y_true.shape} but y_pred has shape "
                            f"{y_pred.shape}; expected one prediction per target.")
    return y_true, y_pred


def _numbers(y_true, y_pred):
    """Targets and predictions as finite float64 (n, k) arrays of the same shape."""
    y_true, y_pred = _same_shape(y_true, y_pred)
    f64 = np.dtype(np.float64)
    return (as_float_array("y_true", y_true.reshape(len(y_true), -1), f64),
            as_float_array("y_pred", y_pred.reshape(len(y_pred), -1), f64))


def accuracy(y_true, y_pred, sample_weight=None) -> float:
    """Fraction of samples whose prediction equals the truth (every label, for label rows).

    Labels may be of any type that compares with ``==``.

    >>> accuracy([0, 1, 2, 2], [0, 1, 1, 2])
    0.75
    """
    y_true, y_pred = _same_shape(y_true, y_pred)
    hit = y_true == y_pred
    if hit.ndim > 1:
        hit = hit.reshape(hit.shape[0], -1).all(axis=1)
    return float(np.average(hit, weights=_weights(sample_weight, hit.shape[0])))


def log_loss(y_true, proba, sample_weight=None) -> float:
    """Mean cross-entropy of predicted probabilities, as scikit-learn's ``log_loss``.

    ``y_true`` holds class indices 0..k-1 (or one-hot rows); ``proba`` is (n, k), or (n,)
    with the probability of class 1.  Probabilities are clipped to [eps, 1 - eps].

    >>> round(log_loss([0, 1], [[0.9, 0.1], [0.2, 0.8]]), 6)
    0.164252
    """
    y_true, proba = _pair(y_true, proba)
    proba = as_float_array("proba", proba, np.dtype(np.float64), ndim=(1, 2))
    if proba.ndim == 1:
        proba = np.column_stack([1.0 - proba, proba])
    if y_true.ndim == 2 and y_true.shape[1] == 1 and proba.shape[1] > 1:
        y_true = y_true[:, 0]                       # a column of labels
    if y_true.ndim == 1:
        labels = as_float_array("y_true", y_true, np.dtype(np.float64), ndim=1)
        k = proba.shape[1]
        if np.any(labels != np.round(labels)) or labels.min() < 0 or labels.max() >= k:
            raise GlassnetError(f"y_true must hold class indices 0..{k - 1} (proba has {k} "
                                "columns) or one-hot rows.")
        onehot = np.zeros_like(proba)
        onehot[np.arange(len(labels)), labels.astype(np.int64)] = 1.0
    else:
        onehot = as_float_array("y_true", y_true, np.dtype(np.float64))
        if onehot.shape != proba.shape:
            raise GlassnetError(f"y_true has shape {onehot.shape} but proba has shape "
                                f"{proba.shape}; one-hot rows need one column per class.")
    eps = np.finfo(np.float64).eps
    per = -np.sum(onehot * np.log(np.clip(proba, eps, 1 - eps)), axis=1)
    return float(np.average(per, weights=_weights(sample_weight, per.shape[0])))


def mean_squared_error(y_true, y_pred, sample_weight=None) -> float:
    """Mean of the squared differences, over samples and outputs.

    >>> mean_squared_error([1.0, 2.0], [1.0, 4.0])
    2.0
    """
    t, p = _numbers(y_true, y_pred)
    return _mse_rows(t, p, _weights(sample_weight, t.shape[0]))


def mean_absolute_error(y_true, y_pred, sample_weight=None) -> float:
    """Mean of the absolute differences, over samples and outputs."""
    t, p = _numbers(y_true, y_pred)
    return _mae_rows(t, p, _weights(sample_weight, t.shape[0]))


def r2(y_true, y_pred, sample_weight=None) -> float:
    """Coefficient of determination, averaged over outputs (scikit-learn's ``r2_score``).

    An output whose truth is constant scores 1 if predicted exactly, else 0.

    >>> r2([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    1.0
    """
    t, p = _numbers(y_true, y_pred)
    return _r2_rows(t, p, _weights(sample_weight, t.shape[0]))


# the formulas on checked (n, k) arrays; fit's per-epoch metrics call these directly

def _mse_rows(t: Array, p: Array, sw) -> float:
    d = np.subtract(t, p, dtype=np.float64)                                                   # (n, k)
    return float(np.average((d * d).mean(axis=1), weights=sw))


def _mae_rows(t: Array, p: Array, sw) -> float:
    d = np.subtract(t, p, dtype=np.float64)                     # (n, k)
    return float(np.average(np.abs(d).mean(axis=1), weights=sw))


def _r2_rows(t: Array, p: Array, sw) -> float:
    t, p = np.asarray(t, np.float64), np.asarray(p, np.float64)
    w = np.ones(t.shape[0]) if sw is None else sw
    ss_res = (w[:, None] * (t - p) ** 2).sum(axis=0)
    mean = (w[:, None] * t).sum(axis=0) / w.sum()
    return _r2_score(ss_res, (w[:, None] * (t - mean) ** 2).sum(axis=0))


def _r2_score(ss_res, ss_tot) -> float:
    """1 - SS_res / SS_tot averaged over outputs; an output whose truth is constant
    (SS_tot 0) scores 1 if predicted exactly, else 0."""
    ss_res, ss_tot = np.asarray(ss_res, np.float64), np.asarray(ss_tot, np.float64)
    ok = ss_tot > 0
    scores = np.where(ok, 1.0 - ss_res / np.where(ok, ss_tot, 1.0),
                      np.where(ss_res == 0, 1.0, 0.0))
    return float(scores.mean())


r2_score = r2


# --- the registry used by fit: metrics from the network's outputs ------------------------------

class Metric(NamedTuple):
    """A metric computed from a network's outputs on a data set.

    ``compute(net, Y, z, a, sw)``: encoded targets Y (n, k), the output layer's
    pre-activation z and activation a (n, k), sample weights or None.  ``needs`` is what the
    network must be: "any", "classifier" (a cross-entropy loss) or "probabilities" (a
    classifier, or a softmax or sigmoid output trained with another loss, as Neuro's).
    ``running(net)``, where set, makes the same metric's accumulator: ``add(Y, z, a, sw)``
    for each chunk, then ``value()`` (equal to ``compute`` on the whole arrays, to rounding).
    """

    name: str
    compute: Callable
    greater_is_better: bool
    needs: str
    running: Callable | None = None


def _known_single_label(net, k: int) -> bool | None:
    """Whether a network with ``k`` outputs predicts one class per row, when that does not
    depend on the targets (None: squared error, where one-hot targets decide)."""
    if k < 2:
        return False
    if net.loss.name == "cross_entropy" or net.output.name == "softmax":
        return True
    return None if net.loss.name == "squared_error" else False


def _one_hot(Y: Array) -> bool:
    return bool(np.all((Y == 0) | (Y == 1)) and np.all(Y.sum(axis=1) == 1))


def _single_label(net, Y: Array) -> bool:
    """One class per row: a softmax or cross-entropy network, or squared error on one-hot
    targets (Neuro's sigmoids); binary cross-entropy on several outputs is multi-label."""
    known = _known_single_label(net, Y.shape[1])
    return _one_hot(Y) if known is None else known


def _labels_from(M: Array, single_label: bool) -> Array:
    """Class indices (one class per row), else 0/1 per output (one sigmoid, or multi-label)."""
    return M.argmax(axis=1) if single_label else (M > 0.5).astype(np.int8)


def _applies(metric: "Metric", net) -> bool:
    if metric.needs == "classifier":
        return net.is_classifier
    if metric.needs == "probabilities":
        return net.is_classifier or net.output.name in ("softmax", "sigmoid")
    return True


def _accuracy(net, Y, z, a, sw):
    single = _single_label(net, Y)
    return accuracy(_labels_from(Y, single), _labels_from(a, single), sw)


def _log_loss(net, Y, z, a, sw):
    return float(np.average(net.loss_per_sample(z, Y), weights=sw))


def _mse(net, Y, z, a, sw):
    return _mse_rows(Y, a, sw)


def _mae(net, Y, z, a, sw):
    return _mae_rows(Y, a, sw)


def _r2(net, Y, z, a, sw):
    return _r2_rows(Y, a, sw)


# --- the same metrics chunk by chunk ---------------------------------------------------------

#: rows scored at a time by evaluate, fit's epoch metrics and ``glassnet train``'s final table
CHUNK_ROWS = 8192


class Mean:
    """A weighted mean of per-row values, summed in float64 one chunk at a time."""

    def __init__(self):
        self.total, self.weight = 0.0, 0.0

    def add(self, values: Array, sw=None) -> None:
        """Add one chunk's values (rows,), with weights (rows,) or None (each 1)."""
        values = np.asarray(values, np.float64)
        if sw is None:
            self.total += float(values.sum())
            self.weight += values.shape[0]
        else:
            w = np.asarray(sw, np.float64)
            self.total += float(values @ w)
            self.weight += float(w.sum())

    def value(self) -> float:
        return self.total / self.weight if self.weight else float("nan")     # no rows: NaN


class R2Sums:
    """R^2 per output from chunks: the weighted sum of squared residuals, and the targets'
    weighted mean and sum of squared deviations ``M2`` merged chunk by chunk with Chan,
    Golub and LeVeque's update::

        delta = mean_b - mean;  W = W_a + W_b
        mean += delta * W_b / W;  M2 += M2_b + delta**2 * W_a * W_b / W

    on the targets minus the first row's (``M2`` does not change under a shift, and the
    shifted means are small: a target near 1e9 with unit spread keeps its R^2 to 1e-12,
    where the running mean of the raw values loses 1e-9 in rounding).
    """

    def __init__(self):
        self.weight, self.mean, self.m2, self.ss_res = 0.0, 0.0, 0.0, 0.0
        self.shift = None

    def add(self, t: Array, p: Array, sw=None) -> None:
        """Add one chunk of targets and predictions, both (rows, k)."""
        t, p = np.asarray(t, np.float64), np.asarray(p, np.float64)
        w = np.ones(t.shape[0]) if sw is None else np.asarray(sw, np.float64)
        wb = float(w.sum())
        if not wb > 0:                     # no rows, or weights all zero: nothing to merge
            return
        self.ss_res = self.ss_res + (w[:, None] * (t - p) ** 2).sum(axis=0)      # (k,)
        if self.shift is None:
            self.shift = t[0].copy()
        t = t - self.shift
        mb = (w[:, None] * t).sum(axis=0) / wb
        m2b = (w[:, None] * (t - mb) ** 2).sum(axis=0)
        total = self.weight + wb
        delta = mb - self.mean
        self.mean = self.mean + delta * (wb / total)
        self.m2 = self.m2 + m2b + delta * delta * (self.weight * wb / total)
        self.weight = total

    def value(self) -> float:
        """1 - SS_res / SS_tot averaged over outputs; a constant target scores 1 if
        predicted exactly, else 0 (as :func:`r2`)."""
        return _r2_score(self.ss_res, self.m2)


class _RunningAccuracy:
    """Accuracy from chunks.  When one-hot targets decide whether a row is one class
    (squared error), both readings are counted and the targets' shape picks one at the end."""

    def __init__(self, net):
        self.net, self.known = net, None
        self.single, self.multi, self.one_hot = Mean(), Mean(), True

    def add(self, Y, z, a, sw):
        self.known = known = _known_single_label(self.net, Y.shape[1])
        if known is not False:
            self.single.add(Y.argmax(axis=1) == a.argmax(axis=1), sw)
        if known is not True:
            self.multi.add(((Y > 0.5) == (a > 0.5)).all(axis=1), sw)
            self.one_hot = self.one_hot and _one_hot(Y)

    def value(self):
        single = self.one_hot if self.known is None else self.known
        return (self.single if single else self.multi).value()


class _RunningLoss(Mean):
    """The mean per-row loss (log loss for a classifier), from the logits."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def add(self, Y, z, a, sw):
        Mean.add(self, self.net.loss_per_sample(z, Y), sw)


class _RunningRowMean(Mean):
    """A weighted mean over rows of ``per_row(Y, a)``, each row's mean over outputs."""

    def __init__(self, per_row):
        super().__init__()
        self.per_row = per_row

    def add(self, Y, z, a, sw):
        d = np.subtract(Y, a, dtype=np.float64)                   # (rows, k)
        Mean.add(self, self.per_row(d).mean(axis=1), sw)


class _RunningR2(R2Sums):
    def add(self, Y, z, a, sw):
        R2Sums.add(self, Y, a, sw)


METRICS = {m.name: m for m in (
    Metric("accuracy", _accuracy, True, "probabilities", _RunningAccuracy),
    Metric("log_loss", _log_loss, False, "classifier", _RunningLoss),
    Metric("mse", _mse, False, "any", lambda net: _RunningRowMean(np.square)),
    Metric("mae", _mae, False, "any", lambda net: _RunningRowMean(np.abs)),
    Metric("r2", _r2, True, "any", lambda net: _RunningR2()),
)}
ALIASES = {"acc": "accuracy", "mean_squared_error": "mse", "mean_absolute_error": "mae",
           "r2_score": "r2", "cross_entropy": "log_loss"}
NAMES = tuple(METRICS)


def get(spec, net=None) -> Metric:
    """A :class:`Metric` from a name, alias or ``callable(Y, output)``; checked against ``net``."""
    if isinstance(spec, Metric):
        metric = spec
    elif callable(spec):
        name = getattr(spec, "__name__", None) or type(spec).__name__
        metric = Metric(name, lambda net_, Y, z, a, sw, f=spec: float(f(Y, a)), False, "any")
    else:
        key = ALIASES.get(spec.lower(), spec.lower()) if isinstance(spec, str) else spec
        if key not in METRICS:
            raise GlassnetError(f"Unknown metric {spec!r} in metrics. Valid names: "
                                f"{sorted(METRICS)} (or a callable(Y, output)).")
        metric = METRICS[key]
    if net is not None and not _applies(metric, net):
        what = ("a classifier" if metric.needs == "classifier" else
                "a classifier or a softmax or sigmoid output")
        raise GlassnetError(f"metric {metric.name!r} needs {what}; this network has output "
                            f"{net.output.name!r} and loss {net.loss.name!r} (use 'mse', 'mae' "
                            "or 'r2').")
    return metric


def resolve(specs, net=None) -> list:
    """Metrics from one spec (a name, a callable) or a list of them; None is none."""
    if specs is None:
        return []
    if isinstance(specs, (str, Metric)) or callable(specs):
        specs = [specs]
    elif not isinstance(specs, (list, tuple)):
        raise GlassnetError(f"metrics must be a list of names or callables; got "
                            f"{type(specs).__name__}.")
    return [get(spec, net) for spec in specs]


def outputs(net, X: Array, chunk: int = CHUNK_ROWS):
    """The output layer's pre-activation and activation for validated ``X``, in chunks."""
    zs, As = [], []
    for start in range(0, X.shape[0], chunk):
        t = net.trace(X[start:start + chunk])
        zs.append(t.pre[-1])
        As.append(t.post[-1])
    if len(zs) == 1:
        return zs[0], As[0]
    return np.concatenate(zs), np.concatenate(As)


class Scores:
    """The loss and metrics of a data set, accumulated one chunk of rows at a time.

    ``add(X, Y, sw)`` runs the network on validated rows, :data:`CHUNK_ROWS` at a time, and
    feeds each chunk's outputs to every metric's accumulator; ``result()`` is then
    ``{"loss": ..., name: value, ...}`` (the loss with ``loss=True``).  Only a callable
    metric, which sees whole arrays, keeps every row's outputs.  With ``check=True`` an
    output or a loss that overflows the dtype raises the network's overflow error, naming
    rows counted from ``first_row`` (the chunk's place in the whole set).  With
    ``encode=True``, ``Y`` holds targets already checked (class indices or values), encoded
    a chunk at a time (the one-hot rows of a whole set are one value per row and class).
    """

    def __init__(self, net, metrics=(), *, loss: bool = True, check: bool = False,
                 encode: bool = False):
        self.net, self.check, self.encode = net, check, encode
        self.loss = Mean() if loss else None
        self.metrics = list(metrics)
        self.running = [None if m.running is None else m.running(net) for m in self.metrics]
        self.whole = [] if any(r is None for r in self.running) else None   # (Y, z, a, sw)

    def add(self, X: Array, Y: Array, sw=None, first_row: int = 0, rows=None) -> None:
        """Score the rows of ``X``, ``Y``, ``sw`` (all of them, or those listed in ``rows``)."""
        n = X.shape[0] if rows is None else rows.shape[0]
        reader = FileRows.of(X)          # a read-only memory map: X's rows read from its file
        try:
            for start in range(0, n, CHUNK_ROWS):
                stop = min(start + CHUNK_ROWS, n)
                if rows is None:
                    x = X[start:stop] if reader is None else reader.block(start, stop)
                    y, w = Y[start:stop], None if sw is None else sw[start:stop]
                else:
                    pick = rows[start:stop]
                    x = X[pick] if reader is None else reader.take(pick)
                    y, w = Y[pick], None if sw is None else sw[pick]
                self._chunk(x, y, w, first_row + start, X)
        finally:
            if reader is not None:
                reader.close()

    def _chunk(self, x, Y, sw, first_row: int, X) -> None:
        net = self.net
        if self.encode:
            Y = net.encode_targets(Y)
        t = net.trace(x)
        z, a = t.pre[-1], t.post[-1]                            # (rows, k)
        with np.errstate(over="ignore", invalid="ignore"):
            if self.check and not np.all(np.isfinite(a)):
                raise net.overflow_error("output", a, X, first_row)
            if self.loss is not None:
                per = net.loss_per_sample(z, Y)                 # (rows,)
                if self.check and not np.all(np.isfinite(per)):
                    raise net.overflow_error("loss", per, X, first_row)
                self.loss.add(per, sw)
            for r in self.running:
                if r is not None:
                    r.add(Y, z, a, sw)
        if self.whole is not None:
            self.whole.append((Y, z.copy(), a.copy(), sw))

    def result(self) -> dict:
        out = {} if self.loss is None else {"loss": self.loss.value()}
        whole = None
        for m, r in zip(self.metrics, self.running):
            if r is not None:
                with np.errstate(invalid="ignore", divide="ignore"):
                    out[m.name] = float(r.value())
                continue
            if whole is None:          # a callable metric: the whole arrays, once
                Y, z, a, sw = (list(part) for part in zip(*self.whole))
                whole = (np.concatenate(Y), np.concatenate(z), np.concatenate(a),
                         None if sw[0] is None else np.concatenate(sw))
            out[m.name] = m.compute(self.net, *whole)
        return out


def scores(net, X: Array, Y: Array, sw=None, metrics=(), *, loss: bool = True,
           check: bool = False, encode: bool = False, rows=None) -> dict:
    """The loss and ``metrics`` (resolved) on validated ``X``, ``Y``, ``sw``, chunk by chunk
    (:class:`Scores`); ``rows``: only those rows, in that order."""
    s = Scores(net, metrics, loss=loss, check=check, encode=encode)
    s.add(X, Y, sw, rows=rows)
    return s.result()


def evaluate(net, X, y, sample_weight=None, metrics=None) -> dict:
    """The loss and the usual metrics: accuracy for classifiers, MSE and R^2 for regressors.

    ``metrics`` (names or callables) replaces the usual set.  Computed chunk by chunk; an
    output or loss that overflows raises an error naming the rows.
    """
    X, Y, sw = net.check_data(X, y, sample_weight)
    if metrics is None:
        metrics = ["accuracy"] if net.is_classifier else ["mse", "r2"]
    return scores(net, X, Y, sw, resolve(metrics, net), check=True)
