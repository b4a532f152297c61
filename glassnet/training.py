"""The fit loop, read top to bottom: batching, the step, validation, history, stopping.

``fit(net, X, y, ...)`` trains for ``epochs`` passes over the data in mini-batches drawn in
an order from the network's generator (the same seed gives the same run, bit for bit).
Each step is ``loss = forward/backward(batch)``, ``state = optimizer.update(grads, ...)``,
``params += grads``.  After each epoch the loop records the mean batch loss (as
MLPClassifier's ``loss_curve_``), any metrics on the training and validation data and the
learning rate in a :class:`History`, then lets the callbacks look (and stop).

What can go wrong is handled here, so the user's work is never lost:

* **Divergence** - when the loss or a weight becomes NaN or infinite, or, still finite,
  explodes (a batch loss :data:`LOSS_GROWTH_LIMIT` times the run's first, weights
  :data:`WEIGHT_GROWTH_LIMIT` times their starting size), training stops, the weights from
  the start of that epoch (the last sane ones) are put back, and a
  :class:`DivergenceError` says where it happened and what to change.
* **Ctrl-C** - stops cleanly after the current batch, keeps the trained weights and
  returns the History with ``history.interrupted = True`` (a second Ctrl-C aborts at once).
* **A killed process** - with ``checkpoint=PATH`` the run can be resumed and ends
  bit-identical to one never interrupted (see :mod:`glassnet.checkpoint`).

>>> import numpy as np, glassnet
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(200, 4)); y = (X[:, 0] + X[:, 1] > 0).astype(int)
>>> net = glassnet.Network([4, 8, 2], seed=0)
>>> history = net.fit(X, y, epochs=20, optimizer="adam", learning_rate=0.01,
...                   validation_split=0.2, metrics=["accuracy"])
>>> history.val_accuracy[-1] > 0.9
True
"""
from __future__ import annotations

import contextlib
import math
import os
import signal
import sys
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import checkpoint as _ckpt
from . import metrics as _metrics
from . import optimizers as _opt
from ._validation import GlassnetError, check_bool, check_float, check_int
from .callbacks import Callback, EarlyStopping, TrainingContext, overrides


class DivergenceError(GlassnetError):
    """Training stopped because the loss or the weights became NaN or infinite.

    Attributes: ``epoch`` and ``batch`` (0-based) where it was detected, ``history`` (the
    epochs finished before), ``learning_rate``, ``value`` (the offending loss) and
    ``diagnosis`` (glassnet.doctor's report, when the doctor could run).  The network holds
    the finite weights it had at the start of that epoch.
    """

    def __init__(self, message: str, *, epoch: int, batch: int, history, learning_rate=None,
                 value=None, diagnosis=None):
        super().__init__(message)
        self.epoch = epoch
        self.batch = batch
        self.history = history
        self.learning_rate = learning_rate
        self.value = value
        self.diagnosis = diagnosis

    def __reduce__(self):
        # the default pickle calls DivergenceError(message) without the keyword-only fields
        # and fails, e.g. when joblib brings the error back from a worker process
        return (_rebuild_divergence, (str(self), dict(self.__dict__)))


def _rebuild_divergence(message: str, fields: dict) -> DivergenceError:
    error = DivergenceError.__new__(DivergenceError)
    GlassnetError.__init__(error, message)
    error.__dict__.update(fields)
    return error


class History:
    """Every recorded quantity per epoch: ``history["val_loss"]`` or ``history.val_loss``.

    ``epochs`` holds the epoch indices (0-based); ``interrupted`` is True when Ctrl-C
    stopped the run (``stopped_at`` = (epoch, batch) of the last batch trained);
    ``stopped_early`` and ``best_epoch`` come from early stopping.
    """

    def __init__(self):
        self.history: dict[str, list] = {"loss": []}
        self.epochs: list[int] = []
        self.interrupted = False
        self.stopped_at: tuple | None = None
        self.stopped_early = False
        self.best_epoch: int | None = None

    def record(self, epoch: int, **values) -> None:
        self.epochs.append(epoch)
        for key, value in values.items():
            self.history.setdefault(key, []).append(float(value))

    def _key(self, key):
        if key in self.history:
            return key
        prefix, base = ("val_", key[4:]) if key.startswith("val_") else ("", key)
        alias = _metrics.ALIASES.get(base)
        return prefix + alias if alias and prefix + alias in self.history else key

    def __getitem__(self, key):
        if not isinstance(key, str) or self._key(key) not in self.history:
            raise KeyError(f"{key!r} was not recorded; this history has {sorted(self.history)}.")
        return self.history[self._key(key)]

    def __getattr__(self, name):
        if name.startswith("_") or "history" not in self.__dict__:
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"History has no {name!r}; recorded: "
                                 f"{sorted(self.history)}.") from None

    def __contains__(self, key):
        return isinstance(key, str) and self._key(key) in self.history

    def __len__(self):
        """The number of epochs recorded."""
        return len(self.epochs)

    def __iter__(self):
        """The recorded names, as a dict's keys: ``dict(history)`` and ``for key in history``."""
        return iter(self.history)

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self.history))

    def keys(self):
        return self.history.keys()

    def items(self):
        return self.history.items()

    @property
    def loss(self) -> list:
        return self.history["loss"]

    def to_dict(self) -> dict:
        return {"epochs": list(self.epochs), **{k: list(v) for k, v in self.history.items()}}

    def _state(self) -> dict:
        return {"history": {k: list(v) for k, v in self.history.items()},
                "epochs": list(self.epochs), "interrupted": self.interrupted,
                "stopped_at": self.stopped_at, "stopped_early": self.stopped_early,
                "best_epoch": self.best_epoch}

    @classmethod
    def _from_state(cls, state: dict) -> "History":
        h = cls()
        h.history = {k: [float(x) for x in v] for k, v in state["history"].items()}
        h.epochs = [int(e) for e in state["epochs"]]
        h.interrupted = bool(state["interrupted"])
        h.stopped_at = tuple(state["stopped_at"]) if state["stopped_at"] else None
        h.stopped_early = bool(state["stopped_early"])
        h.best_epoch = state["best_epoch"]
        return h

    def __eq__(self, other):
        return isinstance(other, History) and self._state() == other._state()

    def __repr__(self):
        last = {k: round(v[-1], 6) for k, v in self.history.items() if v}
        flag = ", interrupted" if self.interrupted else ""
        return f"History({len(self)} epochs{flag}, last={last})"


class TrainingState:
    """What a network keeps between ``partial_fit`` calls: its optimizer and that state.

    It pickles with the network when the optimizer is built from glassnet's factories; an
    optimizer made of custom functions is dropped from the pickle (training then restarts
    its state).
    """

    __slots__ = ("optimizer", "state", "step")

    def __init__(self, optimizer, state, step: int = 0):
        self.optimizer = optimizer
        self.state = state
        self.step = step

    def __reduce__(self):
        if self.optimizer is not None and _opt.is_rebuildable(self.optimizer):
            return (TrainingState, (self.optimizer, self.state, self.step))
        return (TrainingState, (None, None, 0))


# --- the public entry points --------------------------------------------------------------------

def fit(net, X, y, *, epochs: int = 10, batch_size: int = 32, optimizer="sgd",
        learning_rate=None, alpha: float = 0.0, shuffle: bool = True, sample_weight=None,
        validation_data=None, validation_split: float = 0.0, metrics=None, callbacks=None,
        early_stopping: bool = False, patience: int = 10, min_delta: float = 0.0,
        monitor: str = "auto", restore_best: bool = True, checkpoint=None,
        checkpoint_every: int = 1, resume="auto", verbose: int = 0) -> History:
    """Train ``net`` with mini-batch gradient descent; returns a :class:`History`.

    Parameters
    ----------
    X, y : training inputs (n, n_features) and targets (class indices, one-hot rows or values)
    epochs : passes over the training data.
    batch_size : samples per step; every sample is used every epoch (the last batch may be
        smaller).
    optimizer : a name from :data:`glassnet.optimizers.NAMES` ("sgd", "momentum",
        "nesterov", "adam", "adamw", "rmsprop", "adagrad") or an Optimizer object.
    learning_rate : step size or schedule (:mod:`glassnet.schedules`) for a named optimizer;
        None uses the optimizer's default (sgd 0.01, adam 0.001, ...).
    alpha : L2 penalty as MLPClassifier's: ``0.5 * alpha * ||W||^2 / batch_n`` added to each
        batch's loss and ``alpha * W / batch_n`` to its weight gradients (not the biases);
        ``batch_n`` is the batch's sample-weight sum when weights are given.
    shuffle : draw a new sample order every epoch from ``net.rng``.
    sample_weight : (n,) non-negative weights; each batch's loss is their weighted mean.
    validation_data : (X_val, y_val) or (X_val, y_val, sample_weight_val).
    validation_split : fraction of the rows held out for validation instead (drawn from
        ``net.rng``, stratified by class for single-label classifiers).
    metrics : names ("accuracy", "log_loss", "mse", "mae", "r2") or callables
        ``f(Y, output)``, recorded per epoch on the training data (weights at the epoch's end)
        and, with validation data, as ``val_<name>``.
    callbacks : :class:`glassnet.callbacks.Callback` objects.
    early_stopping, patience, min_delta, monitor, restore_best : add an
        :class:`~glassnet.callbacks.EarlyStopping` with these settings.
    checkpoint : path of a checkpoint file, written every ``checkpoint_every`` epochs, at the
        end and on Ctrl-C.
    resume : "auto" resumes from ``checkpoint`` when the file exists; True requires it;
        False starts over (and overwrites it).
    verbose : 0 silent; 1 a live progress bar on a terminal and nothing when stdout is not
        one (a file, a pipe, a CI log); 2 one plain line per epoch anywhere.

    Returns
    -------
    History
        ``history.loss``, ``history.val_loss``, ``history["accuracy"]``, ...; the
        ``interrupted`` flag is set when Ctrl-C stopped the run.

    Raises
    ------
    DivergenceError
        When the loss or the weights become non-finite (the network keeps finite weights).
    """
    run = _prepare(net, X, y, epochs=epochs, batch_size=batch_size, optimizer=optimizer,
                   learning_rate=learning_rate, alpha=alpha, shuffle=shuffle,
                   sample_weight=sample_weight, validation_data=validation_data,
                   validation_split=validation_split, metrics=metrics, callbacks=callbacks,
                   early_stopping=early_stopping, patience=patience, min_delta=min_delta,
                   monitor=monitor, restore_best=restore_best, checkpoint=checkpoint,
                   checkpoint_every=checkpoint_every, resume=resume, verbose=verbose,
                   keep_state=False)
    return _loop(net, run)


def partial_fit(net, X, y, *, batch_size: int = 32, optimizer=None, learning_rate=None,
                alpha: float = 0.0, shuffle: bool = True, sample_weight=None,
                validation_data=None, metrics=None, callbacks=None,
                verbose: int = 0) -> History:
    """One pass over ``(X, y)``, continuing the optimizer state kept on the network.

    The first call starts the optimizer named by ``optimizer`` (default "sgd"); later calls
    with ``optimizer=None`` or the same optimizer (same name and settings) continue it, its
    moments and step count included, so a stream of ``partial_fit`` calls trains like one
    long run.  A different optimizer starts afresh.  After :func:`fit`, ``partial_fit``
    continues fit's optimizer.  Returns a one-epoch History.
    """
    kept = getattr(net, "_training", None)
    kept = kept.optimizer if kept is not None else None
    if optimizer is None and kept is not None:
        if learning_rate is not None:
            raise GlassnetError(f"partial_fit continues the network's optimizer ({kept!r}), "
                                "which carries its own learning_rate; to change it pass "
                                "optimizer= as well (a fresh optimizer state).")
        optimizer = kept
    elif optimizer is None:
        optimizer = "sgd"
    run = _prepare(net, X, y, epochs=1, batch_size=batch_size, optimizer=optimizer,
                   learning_rate=learning_rate, alpha=alpha, shuffle=shuffle,
                   sample_weight=sample_weight, validation_data=validation_data,
                   validation_split=0.0, metrics=metrics, callbacks=callbacks,
                   early_stopping=False, patience=10, min_delta=0.0, monitor="auto",
                   restore_best=True, checkpoint=None, checkpoint_every=1, resume=False,
                   verbose=verbose, keep_state=True)
    return _loop(net, run)


# --- preparing a run: every check happens here, before any weight moves ------------------------

@dataclass
class _Run:
    """Everything the loop needs, validated."""

    ctx: TrainingContext
    opt: Any
    state: Any
    alpha: float
    batch_size: int
    shuffle: bool
    metrics: list
    callbacks: list
    progress: Any
    batches: "_Batches"
    checkpoint: Any
    checkpoint_every: int
    meta: dict
    val_index: Any
    start_epoch: int = 0
    start_batch: int = 0
    order: Any = None
    total: float = 0.0
    completed: bool = False
    stopping: bool = False


def _prepare(net, X, y, *, epochs, batch_size, optimizer, learning_rate, alpha, shuffle,
             sample_weight, validation_data, validation_split, metrics, callbacks,
             early_stopping, patience, min_delta, monitor, restore_best, checkpoint,
             checkpoint_every, resume, verbose, keep_state) -> _Run:
    epochs = check_int("epochs", epochs, minimum=0)
    batch_size = check_int("batch_size", batch_size, minimum=1)
    alpha = check_float("alpha", alpha, minimum=0.0)
    shuffle = check_bool("shuffle", shuffle)
    early_stopping = check_bool("early_stopping", early_stopping)
    validation_split = check_float("validation_split", validation_split, minimum=0.0)
    if validation_split >= 1.0:
        raise GlassnetError(f"validation_split must be in [0, 1). Got {validation_split}.")
    verbose = check_verbose(verbose)
    checkpoint_every = check_int("checkpoint_every", checkpoint_every, minimum=1)
    if resume not in (True, False, "auto") or isinstance(resume, (int, float)) and \
            not isinstance(resume, bool):
        raise GlassnetError(f"resume must be True, False or 'auto'. Got {resume!r}.")
    if checkpoint is not None and not isinstance(checkpoint, (str, bytes)) and \
            not hasattr(checkpoint, "__fspath__"):
        raise GlassnetError(f"checkpoint must be a file path. Got {checkpoint!r}.")
    if resume is True and checkpoint is None:
        raise GlassnetError("resume=True needs checkpoint=PATH (the file to resume from).")

    X, Y, sw = net._check_pair(X, y, sample_weight)
    validation = _check_validation(net, validation_data)
    if validation is not None and validation_split:
        raise GlassnetError("Give validation_data or validation_split, not both.")
    opt = _opt.get(optimizer, learning_rate)
    kept = getattr(net, "_training", None)
    if keep_state and kept is not None and kept.optimizer is not None and (
            kept.optimizer is opt or repr(kept.optimizer) == repr(opt)):   # the same optimizer
        opt, state, step = kept.optimizer, kept.state, kept.step
    else:
        state, step = opt.init(net.params), 0
    metric_list = _metrics.resolve(metrics, net)
    user_callbacks = _callback_list(callbacks)
    for i, cb in enumerate(user_callbacks):
        if not isinstance(cb, Callback):
            raise GlassnetError(f"callbacks[{i}] must be a glassnet.callbacks.Callback; got "
                                f"{type(cb).__name__}.")
    cbs = list(user_callbacks)
    if early_stopping:
        cbs.append(EarlyStopping(monitor=monitor, patience=patience, min_delta=min_delta,
                                 restore_best=check_bool("restore_best", restore_best)))

    recorded = {"loss", *(m.name for m in metric_list)}
    if validation is not None or validation_split:
        recorded |= {"val_" + name for name in recorded}
    if _opt.current_learning_rate(opt, state) is not None:
        recorded.add("learning_rate")
    for cb in cbs:
        if hasattr(cb, "validate_monitor"):
            cb.validate_monitor(recorded)

    history = History()
    ctx = TrainingContext(net, X, Y, opt, state, history, epochs=epochs, batch_size=batch_size,
                          step=step, sample_weight=sw)
    meta = {"layer_sizes": net.layer_sizes, "dtype": net.dtype.name, "loss": net.loss.name,
            "optimizer": _opt.describe(opt), "batch_size": batch_size, "shuffle": shuffle,
            "alpha": alpha, "validation_split": validation_split,
            "data": _ckpt.fingerprint(X, Y, sw) if checkpoint is not None else None,
            "validation": (_ckpt.fingerprint(*validation) if checkpoint is not None and
                           validation is not None else None)}
    run = _Run(ctx, opt, state, alpha, batch_size, shuffle, metric_list, cbs, None, None,
               checkpoint, checkpoint_every, meta, None)

    loaded = None
    if checkpoint is not None and (resume is True or
                                   (resume == "auto" and _exists(checkpoint))):
        loaded = _ckpt.load(checkpoint)
        _check_compatible(loaded, meta, checkpoint)

    rows = None
    if loaded is not None:
        run.val_index = loaded.val_index
    elif validation_split:
        run.val_index = _split(net, Y, validation_split)
    if run.val_index is not None:
        val_index = run.val_index
        keep = np.ones(X.shape[0], bool)
        keep[val_index] = False
        rows = np.flatnonzero(keep)
        validation = (X[val_index], Y[val_index], None if sw is None else sw[val_index])
    ctx.validation = validation
    run.batches = _Batches(X, Y, sw, rows, shuffle, batch_size)
    ctx.n_batches = -(-run.batches.m // batch_size)
    run.progress = _progress(verbose, epochs, ctx.n_batches)
    if loaded is not None:
        try:
            _restore(net, run, loaded, checkpoint)
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, GlassnetError):
                raise
            raise GlassnetError(f"checkpoint {str(checkpoint)!r} is damaged or was edited "
                                f"({type(exc).__name__}: {exc}); delete it or pass "
                                "resume=False to start over.") from None
    return run


def check_verbose(verbose) -> int:
    """0, 1, 2, ... (True is 1 and False 0, as in scikit-learn and Keras)."""
    if isinstance(verbose, (bool, np.bool_)):
        return int(verbose)
    return check_int("verbose", verbose, minimum=0)


def _callback_list(callbacks) -> list:
    if callbacks is None:
        return []
    if isinstance(callbacks, Callback):
        return [callbacks]
    if not isinstance(callbacks, (list, tuple)):
        raise GlassnetError(f"callbacks must be a list of glassnet.callbacks.Callback; got "
                            f"{type(callbacks).__name__}.")
    return list(callbacks)


def _exists(path) -> bool:
    return os.path.exists(os.fspath(path))


def _check_validation(net, validation_data):
    if validation_data is None:
        return None
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
        raise GlassnetError("validation_data must be a tuple (X_val, y_val) or (X_val, y_val, "
                            f"sample_weight_val); got {type(validation_data).__name__}.")
    try:
        return net._check_pair(*validation_data)
    except GlassnetError as exc:
        raise GlassnetError(f"validation_data: {exc}") from None


def _split(net, Y: np.ndarray, fraction: float) -> np.ndarray:
    """Held-out rows drawn from ``net.rng``: stratified by class for single-label classifiers."""
    n = Y.shape[0]
    order = net.rng.permutation(n)
    single_label = net.loss.name == "cross_entropy" or (net.is_classifier and Y.shape[1] == 1)
    if single_label:
        labels = Y.argmax(axis=1) if Y.shape[1] > 1 else (Y[:, 0] > 0.5).astype(np.int64)
        labels = labels[order]
        picked = []
        for c in np.unique(labels):
            rows = order[labels == c]
            picked.append(rows[:int(round(fraction * rows.size))])
        val = np.concatenate(picked)
        if val.size == 0:
            val = order[:1]
    else:
        val = order[:max(1, int(round(fraction * n)))]
    if val.size >= n:
        raise GlassnetError(f"validation_split={fraction} leaves no rows to train on "
                            f"({n} samples).")
    return np.sort(val)


def _progress(verbose: int, epochs: int, n_batches: int):
    from .progress import make
    return make(verbose, epochs, n_batches)


class _Batches:
    """The training rows batch by batch, in the epoch's order; the data is never copied.

    With shuffling (or held-out validation rows) each batch's rows are gathered from the
    data into one preallocated batch-sized buffer; otherwise batches are views of the data.
    Training therefore holds one batch more than the data, as scikit-learn and PyTorch do,
    and the batch it steps on is already in cache (the same speed as gathering the whole
    epoch at once, measured in benchmarks/bench_speed.py, for none of the memory).
    """

    def __init__(self, X, Y, sw, rows, shuffle: bool, batch_size: int):
        self.X, self.Y, self.sw, self.rows, self.shuffle = X, Y, sw, rows, shuffle
        self.m = X.shape[0] if rows is None else rows.size
        k = min(self.m, batch_size)
        self.bx = np.empty((k,) + X.shape[1:], X.dtype)
        self.by = np.empty((k,) + Y.shape[1:], Y.dtype)
        self.bw = None if sw is None else np.empty(k, sw.dtype)

    def draw(self, rng) -> np.ndarray | None:
        return rng.permutation(self.m) if self.shuffle else None

    def arrange(self, order) -> np.ndarray | None:
        """The epoch's rows of the data, in order; None: all rows in the data's order."""
        if order is None:
            return self.rows
        return order if self.rows is None else self.rows[order]

    def batch(self, index, start: int, stop: int):
        """Rows ``start:stop`` of the epoch: (x, y, sample weights or None)."""
        if index is None:
            return self.X[start:stop], self.Y[start:stop], \
                None if self.sw is None else self.sw[start:stop]
        rows, k = index[start:stop], stop - start
        bx, by, bw = (self.bx, self.by, self.bw) if k == self.bx.shape[0] else \
            (self.bx[:k], self.by[:k], None if self.bw is None else self.bw[:k])
        # the ndarray.take method (np.take's wrapper costs more than the gather of a small
        # batch); mode="clip" because the default "raise" buffers ``out`` through a temporary
        x = self.X.take(rows, axis=0, out=bx, mode="clip")
        y = self.Y.take(rows, axis=0, out=by, mode="clip")
        return x, y, None if bw is None else self.sw.take(rows, out=bw, mode="clip")

    def training_rows(self):
        """Every training row (for the epoch's metrics): the data, or its kept rows."""
        if self.rows is None:
            return self.X, self.Y, self.sw
        return self.X[self.rows], self.Y[self.rows], \
            None if self.sw is None else self.sw[self.rows]


# --- resuming ---------------------------------------------------------------------------------

def _check_compatible(loaded, meta: dict, path) -> None:
    old = loaded.meta
    where = repr(str(path))
    for key in ("data", "validation"):
        if not _ckpt.same_data(old.get(key), meta.get(key)):
            what = "training data" if key == "data" else "validation_data"
            raise GlassnetError(
                f"checkpoint {where} was written by a different run: its {what} holds other "
                "values (the SHA-256 fingerprints differ, whatever the shapes and sums), so "
                "resuming would mix two runs. Pass the data it was trained on, resume=False "
                "to start over (the file will be overwritten), or another checkpoint path.")
    for key, what in (("layer_sizes", "network layer sizes"), ("dtype", "dtype"),
                      ("loss", "loss"), ("optimizer", "optimizer"),
                      ("batch_size", "batch_size"), ("shuffle", "shuffle"), ("alpha", "alpha"),
                      ("validation_split", "validation_split")):
        if old.get(key) != meta.get(key):
            raise GlassnetError(
                f"checkpoint {where} was written by a different run: its {what} is "
                f"{old.get(key)!r}, this call's is {meta.get(key)!r}. Pass resume=False to "
                "start over (the file will be overwritten) or use another checkpoint path.")


def _stateful(callbacks) -> list:
    return [cb for cb in callbacks if hasattr(cb, "get_state") and hasattr(cb, "set_state")]


def _restore(net, run: _Run, loaded, path) -> None:
    """Put the checkpoint's state into the network, the optimizer, the history, the callbacks."""
    meta = loaded.meta
    if loaded.params.shape != net.params.shape:
        raise GlassnetError(f"checkpoint {str(path)!r} holds {loaded.params.size} parameters; "
                            f"this network has {net.params.size}.")
    stateful = _stateful(run.callbacks)
    saved = [s for s in loaded.callbacks if s is not None]
    if len(saved) != len(stateful) or any(s["class"] != type(cb).__name__
                                          for s, cb in zip(saved, stateful)):
        raise GlassnetError(f"checkpoint {str(path)!r} holds the state of callbacks "
                            f"{[s['class'] for s in saved]} but this run has "
                            f"{[type(cb).__name__ for cb in stateful]}. Pass the same callbacks "
                            "(and early_stopping settings), or resume=False to start over.")
    state = _opt.load_state_leaves(run.opt.init(net.params), loaded.opt_leaves)
    type(net.rng.bit_generator)().state = meta["rng_state"]      # readable? (raises if not)
    history = History._from_state(meta["history"])
    position = meta["position"]
    _check_epochs(position, run.ctx.epochs, path)
    # every check passed: from here on the network changes
    net.params[...] = loaded.params
    net.rng.bit_generator.state = meta["rng_state"]
    net._needs_data_init = False
    run.state = run.ctx.state = state
    run.ctx.history = history
    history.interrupted, history.stopped_at = False, None
    run.start_epoch, run.start_batch = int(position["epoch"]), int(position["batch"])
    run.ctx.step = int(position["step"])
    run.total = float(position["total"])
    run.order = loaded.order
    run.completed = bool(position["completed"])
    run.stopping = bool(position.get("stopping", False))
    for cb, cb_state in zip(stateful, saved):
        cb.set_state(cb_state)
    if run.progress is not None and hasattr(run.progress, "note"):
        where = "finished run" if run.completed else \
            f"epoch {run.start_epoch + 1}, batch {run.start_batch + 1}"
        run.progress.note(f"Resuming from checkpoint {str(path)!r} ({where}).")


def _check_epochs(position: dict, epochs: int, path) -> None:
    """Refuse a checkpoint that ``epochs`` cannot resume: a finished run of another length,
    or a run already past ``epochs``."""
    done, where = int(position["epoch"]), repr(str(path))
    if position["completed"]:
        stopped = bool(position.get("stopping", False))
        if done == epochs or (stopped and done <= epochs):
            return
        raise GlassnetError(
            f"checkpoint {where} holds a finished run of {done} epochs"
            + (" (stopped early)" if stopped else "") + f", but this call asks for "
            f"epochs={epochs}. A finished checkpoint is loaded, not trained further: to go on "
            f"training, call fit with epochs={done} to load it, then fit again without "
            "checkpoint= (or with a new path); or pass resume=False to start over.")
    batch = int(position["batch"])
    if done > epochs or (done == epochs and batch > 0):
        at = f"{done} epochs and {batch} batches" if batch else f"{done} epochs"
        raise GlassnetError(
            f"checkpoint {where} has already trained {at}, more than this call's "
            f"epochs={epochs}. Pass epochs={done + (batch > 0)} or more to resume it, or "
            "resume=False to start over.")


def _write_checkpoint(net, run: _Run, *, epoch: int, batch: int, total: float, order,
                      completed: bool, stopping: bool = False) -> None:
    ctx = run.ctx
    meta = dict(run.meta)
    meta["rng_state"] = _jsonable(net.rng.bit_generator.state)
    meta["history"] = ctx.history._state()
    meta["position"] = {"epoch": epoch, "batch": batch, "step": ctx.step, "total": total,
                        "completed": completed, "stopping": stopping}
    states = []
    for cb in _stateful(run.callbacks):
        state = dict(cb.get_state())
        state["class"] = type(cb).__name__
        states.append(state)
    _ckpt.save(run.checkpoint, meta=meta, params=net.params,
               opt_leaves=_opt.state_leaves(ctx.state),
               order=order if batch else None, val_index=run.val_index, callbacks=states)


def _jsonable(value):
    """A generator state as JSON (PCG64's is already; MT19937's holds an array)."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.integer):
        return int(value)
    return value


# --- the loop ---------------------------------------------------------------------------------

@contextlib.contextmanager
def _ctrl_c_stops(ctx: TrainingContext):
    """While training, Ctrl-C asks the loop to stop after the current batch.

    Only in the main thread and only when SIGINT has Python's default handler; the handler
    puts the previous one back at once, so a second Ctrl-C interrupts immediately.
    """
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield
        return
    previous = signal.default_int_handler

    def handler(signum, frame):
        ctx.stop = True
        ctx.interrupted = True
        signal.signal(signal.SIGINT, previous)

    signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _hooks(callbacks, name: str) -> list:
    return [getattr(cb, name) for cb in callbacks if overrides(cb, name)]


def _loop(net, run: _Run) -> History:
    ctx, history = run.ctx, run.ctx.history
    callbacks = run.callbacks + ([run.progress] if run.progress is not None else [])
    params, grads = net.params, net.grads
    # plain SGD's step is -lr * gradient: folded into the backward pass (Optimizer.linear)
    train_batch, update, linear = net._train_batch, run.opt.update, run.opt.linear
    factor = 1.0
    batches, batch_size, alpha = run.batches, run.batch_size, run.alpha
    n, n_batches, epochs = batches.m, ctx.n_batches, ctx.epochs
    rng = net.rng
    if alpha:
        pw, gw = params[:net.n_weights], grads[:net.n_weights]
        l2 = np.empty_like(pw)                                   # (n_weights,) scratch
    batch_begin = _hooks(callbacks, "on_batch_begin")
    batch_end = _hooks(callbacks, "on_batch_end")
    epoch_begin = _hooks(callbacks, "on_epoch_begin")
    epoch_end = _hooks(callbacks, "on_epoch_end")
    snapshot = np.empty_like(params)
    bounds = [(s, min(s + batch_size, n)) for s in range(0, n, batch_size)]
    state, step = run.state, ctx.step
    epoch, batch, total, order = run.start_epoch, run.start_batch, run.total, run.order
    position = None              # (epoch, batch) to resume from, when stopped mid-epoch
    raised = False
    if run.completed:
        _finish(net, run, state, step)
        return history
    ctx.epoch, ctx.batch = epoch, batch
    try:
        # non-finite losses and weights are caught explicitly below (DivergenceError), so
        # NumPy's overflow warnings on the way there would only be noise
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"), _ctrl_c_stops(ctx):
            for cb in callbacks:
                cb.on_train_begin(ctx, {})
            if net._needs_data_init and run.start_epoch == 0 and run.start_batch == 0:
                # with the init's own settings (lsuv's margin, max_passes)
                net.initialize_on_data(batches.X[:min(batches.X.shape[0], max(batch_size, 256))])
            # divergence: NaN, inf, or a finite explosion (see LOSS_GROWTH_LIMIT)
            loss_limit, weight_limit = math.inf, _weight_limit(params)
            epoch_range = range(epoch, epochs) if not run.stopping else range(0)
            for epoch in epoch_range:
                ctx.epoch = epoch
                for hook in epoch_begin:
                    hook(ctx, {})
                if batch == 0:
                    order = batches.draw(rng)
                    total = 0.0
                index = batches.arrange(order)
                np.copyto(snapshot, params)
                finished = True
                for batch in range(batch, n_batches):
                    start, stop = bounds[batch]
                    if batch_begin:
                        ctx.batch, ctx.step = batch, step
                        for hook in batch_begin:
                            hook(ctx, {"batch": batch})
                    xb, yb, wb = batches.batch(index, start, stop)
                    if linear is not None:    # grads come out as the step
                        factor, following = linear(state)
                    loss = train_batch(xb, yb, wb, factor)
                    if alpha:                 # MLPClassifier's L2: alpha * W / batch_n
                        scale = alpha / (stop - start if wb is None else float(wb.sum()))
                        loss += 0.5 * scale * float(np.dot(pw, pw))
                        np.multiply(pw, scale * factor, out=l2)
                        gw += l2
                    if not loss <= loss_limit:          # NaN compares false too
                        _diverged(net, run, snapshot, epoch, batch, _explosion(
                            loss, loss_limit, LOSS_GROWTH_LIMIT, "the loss"), loss)
                    if loss_limit == math.inf:
                        loss_limit = _loss_limit(loss)     # from the run's first batch
                    total += loss * (stop - start)
                    state = update(grads, state, params) if linear is None else following
                    params += grads
                    step += 1
                    if batch_end:
                        ctx.batch, ctx.step, ctx.state = batch, step, state
                        for hook in batch_end:
                            hook(ctx, {"batch": batch, "loss": loss})
                    if ctx.stop:
                        finished = batch == n_batches - 1
                        break
                ctx.batch, ctx.step, ctx.state = batch, step, state
                if not finished:
                    position = (epoch, batch + 1)
                    break
                batch = 0
                biggest = _largest(params)
                if not biggest <= weight_limit:
                    _diverged(net, run, snapshot, epoch, n_batches - 1, _explosion(
                        biggest, weight_limit, WEIGHT_GROWTH_LIMIT, "the largest weight"),
                        biggest)
                logs = _epoch_logs(net, run, total / n)
                history.record(epoch, **logs)
                for hook in epoch_end:
                    hook(ctx, logs)
                stopping = ctx.stop and not ctx.interrupted      # a callback ended the run
                if run.checkpoint is not None and epoch + 1 < epochs and (
                        (epoch + 1) % run.checkpoint_every == 0 or stopping):
                    _write_checkpoint(net, run, epoch=epoch + 1, batch=0, total=0.0,
                                      order=None, completed=False, stopping=stopping)
                if ctx.stop:
                    break
    except KeyboardInterrupt:
        raised = True
        ctx.interrupted = True
        if not np.isfinite(params).all():
            np.copyto(params, snapshot)
    except BaseException:
        _close(callbacks)
        raise
    run.state = ctx.state = state
    if ctx.interrupted:
        history.interrupted = True
        history.stopped_at = (ctx.epoch, ctx.batch)
        if run.checkpoint is not None and not raised:
            _write_checkpoint(net, run, epoch=position[0] if position else ctx.epoch + 1,
                              batch=position[1] if position else 0,
                              total=total if position else 0.0, order=order,
                              completed=False)
        _note(run, f"Interrupted: stopped after batch {ctx.batch + 1} of epoch "
                   f"{ctx.epoch + 1}; the network keeps the weights trained so far"
                   + (f" and the checkpoint {str(run.checkpoint)!r} can resume the run."
                      if run.checkpoint is not None and not raised else "."))
    try:
        for cb in callbacks:
            cb.on_train_end(ctx, {})
    finally:
        _close(callbacks)
    if run.checkpoint is not None and not ctx.interrupted:
        # the epochs actually trained, and whether a callback ended the run early
        _write_checkpoint(net, run, epoch=len(history), batch=0, total=0.0, order=None,
                          completed=True, stopping=ctx.stop or run.stopping)
    _finish(net, run, state, step)
    return history


def _finish(net, run: _Run, state, step: int) -> None:
    net._training = TrainingState(run.opt, state, step)


def _close(callbacks) -> None:
    for cb in callbacks:
        close = getattr(cb, "close", None)
        if close is not None:
            close()


def _note(run: _Run, message: str) -> None:
    if run.progress is not None and hasattr(run.progress, "note"):
        run.progress.note(message)
    else:
        print(message, file=sys.stderr, flush=True)


def _epoch_logs(net, run: _Run, loss: float) -> dict:
    """The epoch's record: loss, training metrics, validation loss and metrics, the rate."""
    logs = {"loss": loss}
    if run.metrics:
        xs, ys, ws = run.batches.training_rows()
        z, a = _metrics.outputs(net, xs)
        for m in run.metrics:
            logs[m.name] = m.compute(net, ys, z, a, ws)
    if run.ctx.validation is not None:
        Xv, Yv, swv = run.ctx.validation
        z, a = _metrics.outputs(net, Xv)
        logs["val_loss"] = float(np.average(net._per_sample_loss(z, Yv), weights=swv))
        for m in run.metrics:
            logs["val_" + m.name] = m.compute(net, Yv, z, a, swv)
    lr = _opt.current_learning_rate(run.opt, run.ctx.state)
    if lr is not None:
        logs["learning_rate"] = lr
    return logs


# --- divergence ---------------------------------------------------------------------------------

# A learning rate of 1e3 took a classifier's loss to 7e39 and its weights to 3.5e32 in one
# epoch, all finite.  Healthy training never multiplies its loss by a million (the loss of a
# fresh network is the worst a sane run sees, give or take a few), nor its weights by a
# hundred million; the floors keep a run that starts near zero loss (a resumed, well-fitted
# model) or near zero weights from being judged against a tiny baseline.

#: a batch loss above LOSS_GROWTH_LIMIT * max(the run's first batch loss, LOSS_FLOOR) diverged
LOSS_GROWTH_LIMIT = 1e6
LOSS_FLOOR = 1.0
#: a weight above WEIGHT_GROWTH_LIMIT * max(the largest |weight| at the start, WEIGHT_FLOOR)
#: at the end of an epoch diverged
WEIGHT_GROWTH_LIMIT = 1e8
WEIGHT_FLOOR = 1.0


def _largest(params: np.ndarray) -> float:
    """max |params| without a temporary array; NaN when any parameter is NaN."""
    return max(float(params.max()), -float(params.min())) if params.size else 0.0


def _loss_limit(first: float) -> float:
    return LOSS_GROWTH_LIMIT * max(first, LOSS_FLOOR) if math.isfinite(first) else math.inf


def _weight_limit(params: np.ndarray) -> float:
    start = _largest(params)
    return WEIGHT_GROWTH_LIMIT * max(start, WEIGHT_FLOOR) if math.isfinite(start) else math.inf


def _explosion(value: float, limit: float, growth: float, what: str) -> str:
    """'became nan' for a non-finite value; for a finite one, how far past its limit."""
    if not math.isfinite(value):
        return f"{what} became {value}" if "loss" in what else "a weight became non-finite"
    return (f"{what} reached {value:.3g}, more than {growth:.0e} times its starting level "
            f"({limit / growth:.3g}): the run was blowing up, though still finite")


def _diverged(net, run: _Run, snapshot, epoch: int, batch: int, what: str, value: float):
    """Put back the epoch's starting weights and raise a DivergenceError that says why
    (``what``: 'the loss became nan', 'the loss reached 7e+39, more than ...')."""
    np.copyto(net.params, snapshot)
    net._training = None                 # the optimizer's moments saw the bad gradients
    ctx = run.ctx
    lr = _opt.current_learning_rate(run.opt, ctx.state)
    n_done = len(ctx.history)
    lines = [f"Training diverged at epoch {epoch + 1}/{ctx.epochs}, batch {batch + 1}/"
             f"{ctx.n_batches}: {what}.",
             f"The network's weights were restored to those at the start of epoch {epoch + 1} "
             f"(all finite); the history holds the {n_done} finished epoch"
             f"{'' if n_done == 1 else 's'}."]
    if lr is not None:
        lines.append(f"The learning rate was {lr:.4g} ({run.opt.name}); a rate that is too "
                     f"high is the usual cause: try {lr / 10:.4g} (divided by 10).")
    else:
        lines.append("A learning rate that is too high is the usual cause: divide it by 10.")
    biggest = float(np.max(np.abs(ctx.X))) if ctx.X.size else 0.0
    if biggest > 1e3:
        lines.append(f"The inputs X reach |x| = {biggest:.3g}; standardise X (zero mean, unit "
                     "variance per column) before training.")
    diagnosis = _ask_doctor(net, run, lr)
    if diagnosis is not None:
        text = _diagnosis_text(diagnosis)
        if text:
            lines.append("glassnet.doctor: " + text)
    raise DivergenceError("\n".join(lines), epoch=epoch, batch=batch, history=ctx.history,
                          learning_rate=lr, value=value, diagnosis=diagnosis)


def _ask_doctor(net, run: _Run, lr):
    """The doctor's view of the run (a short probe on a copy); None when it cannot run."""
    try:
        from .doctor import diagnose
    except Exception:          # the doctor is optional here: the message stands without it
        return None
    ctx = run.ctx
    rows = slice(0, min(ctx.X.shape[0], 512))
    try:
        with np.errstate(all="ignore"):
            return diagnose(net, ctx.X[rows], ctx.Y[rows], optimizer=run.opt,
                            batch_size=min(run.batch_size, ctx.X.shape[0]), steps=50)
    except Exception:
        return None


def _diagnosis_text(report) -> str:
    """The doctor's verdict in a line or two: its summary and the first fix."""
    try:
        text = report.summary()
        serious = [f for f in report.findings if f.severity != "info"]
        if serious and getattr(serious[0], "fix", ""):
            text += f"\n  fix: {serious[0].fix}"
        return text
    except Exception:
        return ""
