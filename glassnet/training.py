"""The fit loop, read top to bottom: batching, the step, validation, history, stopping.

``fit(net, X, y, ...)`` trains for ``epochs`` passes over the data in mini-batches drawn in
an order from the network's generator (the same seed gives the same run, bit for bit).
Each step is ``net.train_step``: ``loss = forward/backward(batch)``, ``state =
optimizer.update(grads, ...)``, ``params += grads``.  After each epoch the loop records the
mean batch loss (as MLPClassifier's ``loss_curve_``), any metrics on the training and
validation data and the learning rate in a :class:`History`, then lets the callbacks look
(and stop).

Every setting of a run is a field of the frozen :class:`FitSettings`, whose defaults
(:data:`DEFAULTS`) ``fit``, ``partial_fit``, the estimators and the command line share;
:func:`train` runs one.  The loop is a few named steps, in the order they run:
``_prepare`` (every check, before any weight moves), ``_run_epoch`` = ``_run_batches`` +
``_end_epoch``, and ``_end_run``; a :class:`Position` says where the run stands, and
``_write_checkpoint`` is the one place that saves it.

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
from dataclasses import dataclass, field, fields, replace
from typing import Any, Callable

import numpy as np

from . import _mapped
from . import checkpoint as _ckpt
from . import metrics as _metrics
from . import optimizers as _opt
from . import progress as _progress
from . import sources as _sources
from ._validation import (GlassnetError, UnscaledInputWarning, check_bool, check_float, check_int,
                          input_scale_message, warn)
from .callbacks import Callback, EarlyStopping, TrainingContext, overrides
from .history import DivergenceError, History, _rebuild_divergence  # noqa: F401 (re-exported)
from .history import (LOSS_FLOOR, LOSS_GROWTH_LIMIT, NO_LIMIT,  # noqa: F401 (re-exported)
                      WEIGHT_FLOOR, WEIGHT_GROWTH_LIMIT, _explosion, _largest, _loss_limit,
                      _weight_limit)
from .network import Network


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


# --- the settings -------------------------------------------------------------------------------

@dataclass(frozen=True)
class FitSettings:
    """Every setting of a training run, with the defaults all callers share.

    :func:`fit` builds one from its keyword arguments (described there); ``partial_fit``,
    ``glassnet.sklearn``'s estimators and the command line start from :data:`DEFAULTS`
    and change what they need with :func:`dataclasses.replace`, then call :func:`train`.

    >>> from dataclasses import replace
    >>> replace(DEFAULTS, epochs=50, optimizer="adam").batch_size
    32
    """

    epochs: int = 10
    batch_size: int = 32
    optimizer: Any = "sgd"
    learning_rate: Any = None
    alpha: float = 0.0
    shuffle: bool = True
    sample_weight: Any = field(default=None, repr=False, compare=False)
    validation_data: Any = field(default=None, repr=False, compare=False)
    validation_split: float = 0.0
    metrics: Any = None
    callbacks: Any = None
    early_stopping: bool = False
    patience: int = 10
    min_delta: float = 0.0
    monitor: str = "auto"
    restore_best: bool = True
    checkpoint: Any = None
    checkpoint_every: int = 1
    resume: Any = "auto"
    verbose: int = 0
    #: continue the optimizer (and its state) kept on the network when it is the same one
    #: (partial_fit); otherwise the optimizer starts afresh
    continue_optimizer: bool = False
    #: ``explain(net, X, Y, optimizer, batch_size) -> (diagnosis, text)``, called when
    #: training diverges; its text is added to the DivergenceError.  Network.fit and the
    #: estimators pass :func:`glassnet.doctor.explain_divergence`; the loop never imports
    #: the doctor itself.
    explain_divergence: Callable | None = field(default=None, repr=False, compare=False)


#: the defaults every caller starts from
DEFAULTS = FitSettings()
_D = DEFAULTS

#: the settings a user passes to fit (the rest are set by the entry points)
FIT_ARGUMENTS = tuple(f.name for f in fields(FitSettings)
                      if f.name not in ("continue_optimizer", "explain_divergence"))


def make_settings(caller: str = "fit", base: FitSettings = DEFAULTS, **changes) -> FitSettings:
    """``base`` with ``changes``; an unknown name is a TypeError naming ``caller``, as for a
    function's keyword argument."""
    known = {f.name for f in fields(FitSettings)}
    for name in changes:
        if name not in known:
            raise TypeError(f"{caller}() got an unexpected keyword argument {name!r}")
    return replace(base, **changes)


# --- the public entry points --------------------------------------------------------------------

def fit(net, X, y, *, epochs: int = _D.epochs, batch_size: int = _D.batch_size,
        optimizer=_D.optimizer, learning_rate=_D.learning_rate, alpha: float = _D.alpha,
        shuffle: bool = _D.shuffle, sample_weight=_D.sample_weight,
        validation_data=_D.validation_data, validation_split: float = _D.validation_split,
        metrics=_D.metrics, callbacks=_D.callbacks, early_stopping: bool = _D.early_stopping,
        patience: int = _D.patience, min_delta: float = _D.min_delta,
        monitor: str = _D.monitor, restore_best: bool = _D.restore_best,
        checkpoint=_D.checkpoint, checkpoint_every: int = _D.checkpoint_every,
        resume=_D.resume, verbose: int = _D.verbose) -> History:
    """Train ``net`` with mini-batch gradient descent; returns a :class:`History`.

    Parameters
    ----------
    X, y : training inputs (n, n_features) and targets (class indices, one-hot rows or values).
        Arrays may be memory-mapped (``np.load(..., mmap_mode="r")``): shuffled batches
        are then read from the file (:class:`glassnet._mapped.FileRows`).  Data in blocks
        trains block by block without being collected: a Dask
        array or DataFrame ``X`` with its ``y``, or a list (or re-iterable) of ``(X, y)``
        chunks with ``y=None`` (the epoch's order is defined in :mod:`glassnet.sources`).
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
    given = {name: value for name, value in locals().items() if name in FIT_ARGUMENTS}
    # Network.fit: the same run, with the doctor explaining a divergence (the hook the
    # network supplies; this module never imports the doctor)
    return Network.fit(net, X, y, **given)


def partial_fit(net, X, y, *, batch_size: int = _D.batch_size, optimizer=None,
                learning_rate=_D.learning_rate, alpha: float = _D.alpha,
                shuffle: bool = _D.shuffle, sample_weight=_D.sample_weight,
                validation_data=_D.validation_data, metrics=_D.metrics,
                callbacks=_D.callbacks, verbose: int = _D.verbose) -> History:
    """One pass over ``(X, y)``, continuing the optimizer state kept on the network.

    The first call starts the optimizer named by ``optimizer`` (default "sgd"); later calls
    with ``optimizer=None`` or the same optimizer (same name and settings) continue it, its
    moments and step count included, so a stream of ``partial_fit`` calls trains like one
    long run.  A different optimizer starts afresh.  After :func:`fit`, ``partial_fit``
    continues fit's optimizer.  Returns a one-epoch History.
    """
    given = {name: value for name, value in locals().items() if name in FIT_ARGUMENTS}
    return Network.partial_fit(net, X, y, **given)      # as fit: with the doctor's hook


def partial_fit_settings(net, *, optimizer=None, learning_rate=None,
                         base: FitSettings = DEFAULTS, **changes) -> FitSettings:
    """The settings of one ``partial_fit`` pass: one epoch, no held-out split, no early
    stopping, no checkpoint, and the network's kept optimizer continued (see
    :func:`partial_fit`); ``changes`` as :func:`make_settings` takes them."""
    kept = net.training_state
    kept = kept.optimizer if kept is not None else None
    if optimizer is None and kept is not None:
        if learning_rate is not None:
            raise GlassnetError(f"partial_fit continues the network's optimizer ({kept!r}), "
                                "which carries its own learning_rate; to change it pass "
                                "optimizer= as well (a fresh optimizer state).")
        optimizer = kept
    elif optimizer is None:
        optimizer = "sgd"
    return make_settings("partial_fit", base, **changes, optimizer=optimizer,
                    learning_rate=learning_rate, epochs=1, validation_split=0.0,
                    early_stopping=False, checkpoint=None, resume=False,
                    continue_optimizer=True)


def train(net, X, y, settings: FitSettings) -> History:
    """Train ``net`` on ``(X, y)`` as ``settings`` say: what :func:`fit` and
    :func:`partial_fit` run.

    The loop, top to bottom: :func:`_prepare` checks everything before any weight moves
    (and loads a checkpoint to resume); then :func:`_run_epoch` for each epoch from the
    run's :class:`Position`, each made of :func:`_run_batches` (the steps) and
    :func:`_end_epoch` (logs, callbacks, checkpoint); :func:`_end_run` finishes.
    """
    run = _prepare(net, X, y, settings)
    if run.position.completed:       # a finished checkpoint: loaded as it is, not trained
        _keep_optimizer(net, run)
        return run.ctx.history
    ctx = run.ctx
    hooks = _Hooks(run.callbacks)
    run.snapshot = np.empty_like(net.params)
    second_ctrl_c = False
    try:
        # non-finite losses and weights are caught explicitly (DivergenceError), so NumPy's
        # overflow warnings on the way there would only be noise
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"), _ctrl_c_stops(ctx):
            _begin_run(net, run, hooks)
            while run.position.epoch < ctx.epochs and not run.position.stopping:
                if not _run_epoch(net, run, hooks):
                    break
    except KeyboardInterrupt:         # a second Ctrl-C: stop at once, keep finite weights
        second_ctrl_c = True
        ctx.interrupted = True
        if not np.isfinite(net.params).all():
            np.copyto(net.params, run.snapshot)
    except BaseException:
        _close(hooks.callbacks)
        raise
    _end_run(net, run, hooks, second_ctrl_c)
    return ctx.history


# --- preparing a run: every check happens here, before any weight moves ------------------------

@dataclass
class Position:
    """Where a run stands: the next batch to train, and what resuming there needs.

    The loop advances it and the checkpoint stores it, so a resumed run continues from
    exactly here (the network's generator state is stored beside it).
    """

    epoch: int = 0               # the epoch in progress, or the next one to start
    batch: int = 0               # the next batch of that epoch (0: the epoch starts afresh)
    step: int = 0                # optimizer steps taken
    total: float = 0.0           # the epoch's batch losses so far, each times its batch size
    order: Any = None            # the epoch's sample order (None: the data's own order)
    completed: bool = False      # the run finished: a checkpoint to load, not to train
    stopping: bool = False       # a callback (early stopping) ended the run


@dataclass
class _Run:
    """Everything the loop needs, validated."""

    ctx: TrainingContext
    opt: Any
    state: Any                   # the optimizer state after the last step
    alpha: float
    batch_size: int
    shuffle: bool
    metrics: list
    callbacks: list              # the user's, early stopping's and the progress display
    progress: Any
    batches: "_Batches"
    checkpoint: Any
    checkpoint_every: int
    meta: dict
    val_index: Any
    explain_divergence: Any
    position: Position = field(default_factory=Position)
    snapshot: Any = None         # the weights at the start of the epoch (finite ones)
    loss_limit: float = NO_LIMIT     # divergence past these, though finite (LOSS_GROWTH_LIMIT)
    weight_limit: float = NO_LIMIT
    loss_baseline: bool = False      # the first batch has set loss_limit
    bounds: list = field(default_factory=list)    # (start, stop) rows of each batch


def _prepare(net, X, y, s: FitSettings) -> _Run:
    epochs = check_int("epochs", s.epochs, minimum=0)
    batch_size = check_int("batch_size", s.batch_size, minimum=1)
    alpha = check_float("alpha", s.alpha, minimum=0.0)
    shuffle = check_bool("shuffle", s.shuffle)
    early_stopping = check_bool("early_stopping", s.early_stopping)
    validation_split = check_float("validation_split", s.validation_split, minimum=0.0)
    if validation_split >= 1.0:
        raise GlassnetError(f"validation_split must be in [0, 1). Got {validation_split}.")
    verbose = check_verbose(s.verbose)
    checkpoint_every = check_int("checkpoint_every", s.checkpoint_every, minimum=1)
    resume, checkpoint = s.resume, s.checkpoint
    if resume not in (True, False, "auto") or isinstance(resume, (int, float)) and \
            not isinstance(resume, bool):
        raise GlassnetError(f"resume must be True, False or 'auto'. Got {resume!r}.")
    if checkpoint is not None and not isinstance(checkpoint, (str, bytes)) and \
            not hasattr(checkpoint, "__fspath__"):
        raise GlassnetError(f"checkpoint must be a file path. Got {checkpoint!r}.")
    if resume is True and checkpoint is None:
        raise GlassnetError("resume=True needs checkpoint=PATH (the file to resume from).")

    names = getattr(X, "columns", None)             # a DataFrame's column names
    chunked = _sources.as_chunked(X, y, s.sample_weight)
    if chunked is not None:
        # block-wise data (Dask, a list or iterable of chunks): read block by block, never
        # collected; ctx.X and ctx.Y show callbacks its first block
        if validation_split:
            raise GlassnetError("validation_split needs the whole data in memory; with "
                                "chunked data pass validation_data=(X_val, y_val) instead.")
        if checkpoint is not None:
            raise GlassnetError("checkpoint= is not supported with chunked data (a Dask "
                                "array or chunks); train with in-memory arrays to checkpoint.")
        chunked = _sources.ChunkBatches(chunked, _sources.block_checker(net), shuffle,
                                        batch_size)
        X, Y, sw = chunked.X, chunked.Y, chunked.sw
    else:
        X, Y, sw = net.check_data(X, y, s.sample_weight)
    validation = _check_validation(net, s.validation_data)
    if validation is not None and validation_split:
        raise GlassnetError("Give validation_data or validation_split, not both.")
    opt = _opt.get(s.optimizer, s.learning_rate)
    kept = net.training_state
    if s.continue_optimizer and kept is not None and kept.optimizer is not None and (
            kept.optimizer is opt or repr(kept.optimizer) == repr(opt)):   # the same optimizer
        opt, state, step = kept.optimizer, kept.state, kept.step
    else:
        state, step = opt.init(net.params), 0
    if not s.continue_optimizer or kept is None:   # fit, or the first partial_fit of a stream
        message = input_scale_message(X, None if names is None else list(names))
        if message:
            warn(message, UnscaledInputWarning)
    metric_list = _metrics.resolve(s.metrics, net)
    user_callbacks = _callback_list(s.callbacks)
    for i, cb in enumerate(user_callbacks):
        if not isinstance(cb, Callback):
            raise GlassnetError(f"callbacks[{i}] must be a glassnet.callbacks.Callback; got "
                                f"{type(cb).__name__}.")
    cbs = list(user_callbacks)
    if early_stopping:
        cbs.append(EarlyStopping(monitor=s.monitor, patience=s.patience,
                                 min_delta=s.min_delta,
                                 restore_best=check_bool("restore_best", s.restore_best)))

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
               checkpoint, checkpoint_every, meta, None, s.explain_divergence,
               position=Position(step=step))

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
        validation = (_mapped.take(X, val_index), Y[val_index],
                      None if sw is None else sw[val_index])
    ctx.validation = validation
    run.batches = chunked if chunked is not None else \
        _Batches(X, Y, sw, rows, shuffle, batch_size)
    ctx.n_batches = -(-run.batches.m // batch_size)
    run.bounds = [(start, min(start + batch_size, run.batches.m))
                  for start in range(0, run.batches.m, batch_size)]
    run.progress = _progress.make(verbose, epochs, ctx.n_batches)
    if run.progress is not None:
        run.callbacks = run.callbacks + [run.progress]
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
        return net.check_data(*validation_data)
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
        # a read-only memory map: shuffled rows are read from its file (_mapped.FileRows)
        self.file = _mapped.FileRows.of(X) if shuffle or rows is not None else None

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
        x = self.X.take(rows, axis=0, out=bx, mode="clip") if self.file is None else \
            self.file.take(rows, bx)
        y = self.Y.take(rows, axis=0, out=by, mode="clip")
        return x, y, None if bw is None else self.sw.take(rows, out=bw, mode="clip")

    def training_scores(self, net, metrics) -> dict:
        """The epoch's ``metrics`` on every training row (the data, or its kept rows),
        chunk by chunk: nothing the size of the data is made."""
        return _metrics.scores(net, self.X, self.Y, self.sw, metrics, loss=False,
                               rows=self.rows)


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


class _Hooks:
    """The callbacks' hooks the loop calls, each list holding only the overridden ones (an
    empty hook costs nothing per batch)."""

    def __init__(self, callbacks):
        self.callbacks = callbacks
        self.epoch_begin = _hooks(callbacks, "on_epoch_begin")
        self.batch_begin = _hooks(callbacks, "on_batch_begin")
        self.batch_end = _hooks(callbacks, "on_batch_end")
        self.epoch_end = _hooks(callbacks, "on_epoch_end")


def _begin_run(net, run: _Run, hooks: _Hooks) -> None:
    """Tell the callbacks; finish a data-dependent init (lsuv) when starting afresh."""
    ctx, pos = run.ctx, run.position
    ctx.epoch, ctx.batch = pos.epoch, pos.batch
    for cb in hooks.callbacks:
        cb.on_train_begin(ctx, {})
    if pos.epoch == 0 and pos.batch == 0:
        # with the init's own settings (lsuv's margin, max_passes); nothing for other inits
        X = run.batches.X
        net.initialize_on_data(X[:min(X.shape[0], max(run.batch_size, 256))])
    run.weight_limit = _weight_limit(net.params)     # the loss limit: from the first batch
    if net._kernels is not None:       # the Numba backend: compile or load, said once
        seconds = net._kernels.prepare()
        if seconds and run.progress is not None and hasattr(run.progress, "note"):
            run.progress.note(f"backend numba: {net.dtype.name} kernels compiled (or loaded "
                              f"from Numba's disk cache) in {seconds:.2f} s, once per process.")


def _run_epoch(net, run: _Run, hooks: _Hooks) -> bool:
    """Train the epoch at the run's position; False when the run stops here."""
    ctx, pos = run.ctx, run.position
    ctx.epoch = pos.epoch
    for hook in hooks.epoch_begin:
        hook(ctx, {})
    if pos.batch == 0:
        pos.order = run.batches.draw(net.rng)
        pos.total = 0.0
    np.copyto(run.snapshot, net.params)          # the last known finite weights
    if not _run_batches(net, run, hooks):
        return False                             # stopped mid-epoch: position is its next batch
    return _end_epoch(net, run, hooks)


def _run_batches(net, run: _Run, hooks: _Hooks) -> bool:
    """The epoch's steps from ``position.batch`` on; False when stopped before its end.

    The hot path: everything it touches per batch is bound to a local first.
    """
    ctx, pos, batches = run.ctx, run.position, run.batches
    index = batches.arrange(pos.order)
    train_step, opt, alpha = net.train_step, run.opt, run.alpha
    # the Numba backend's whole step for plain SGD: gathering the batch, the forward and
    # backward pass and the step in one compiled call (None otherwise)
    whole = many = None
    batch_begin, batch_end = hooks.batch_begin, hooks.batch_end
    if net._kernels is not None and opt.linear is not None and not alpha:
        whole = net._kernels.fit_step(batches, opt.linear)
        if whole is not None and not batch_begin and not batch_end:
            # no callback looks at single batches: many steps per compiled call
            many = net._kernels.fit_steps(batches, opt.linear)
    n_batches, bounds = ctx.n_batches, run.bounds
    state, step, total, batch = run.state, pos.step, pos.total, pos.batch
    limit, baseline = run.loss_limit, run.loss_baseline
    if many is not None:
        # the full-size batches go a run of them per call (the last one may be short)
        size = bounds[0][1] - bounds[0][0]
        full = n_batches - (bounds[-1][1] - bounds[-1][0] != size)
    following = batch               # the next batch to train
    try:
        while following < n_batches:
            if many is not None and baseline and following < full:
                # once the run's first batch has set the loss limit: steps until the
                # run, the epoch's full batches or the limit ends (the step past the
                # limit is applied, as `whole` does: restored below)
                losses, state = many(index, following, full, state, limit)
                for loss in losses:
                    total += loss * size
                step += len(losses)
                batch = following + len(losses) - 1
                following = batch + 1
                if not loss <= limit:
                    _diverged(net, run, pos.epoch, batch, loss, _explosion(
                        loss, limit, LOSS_GROWTH_LIMIT, "the loss"))
                if ctx.stop:
                    break
                continue
            batch, following = following, following + 1
            start, stop = bounds[batch]
            if batch_begin:
                ctx.batch, ctx.step = batch, step
                for hook in batch_begin:
                    hook(ctx, {"batch": batch})
            if whole is not None:      # applies the step even past the limit: restored below
                loss, state = whole(index, start, stop, state)
            else:
                xb, yb, wb = batches.batch(index, start, stop)
                loss, state = train_step(xb, yb, wb, opt, state, alpha)
            if not loss <= limit:                      # NaN compares false too
                _diverged(net, run, pos.epoch, batch, loss, _explosion(
                    loss, limit, LOSS_GROWTH_LIMIT, "the loss"))
            if not baseline:                           # the run's first batch sets it
                limit, baseline = _loss_limit(loss), True
                run.loss_limit, run.loss_baseline = limit, baseline
            total += loss * (stop - start)
            step += 1
            if batch_end:
                ctx.batch, ctx.step, ctx.state = batch, step, state
                for hook in batch_end:
                    hook(ctx, {"batch": batch, "loss": loss})
            if ctx.stop:
                break
    finally:                          # also on a second Ctrl-C: the steps taken count
        run.state, pos.step, pos.total = state, step, total
    finished = following >= n_batches
    ctx.batch, ctx.step, ctx.state = batch, step, state
    pos.batch = 0 if finished else following
    return finished


def _end_epoch(net, run: _Run, hooks: _Hooks) -> bool:
    """Check the weights, record the epoch, let the callbacks look, checkpoint; False when
    the run stops here."""
    ctx, pos = run.ctx, run.position
    epoch = pos.epoch
    biggest = _largest(net.params)
    if not biggest <= run.weight_limit:
        _diverged(net, run, epoch, ctx.n_batches - 1, biggest, _explosion(
            biggest, run.weight_limit, WEIGHT_GROWTH_LIMIT, "the largest weight"))
    logs = _epoch_logs(net, run, pos.total / run.batches.m)
    ctx.history.record(epoch, **logs)
    for hook in hooks.epoch_end:
        hook(ctx, logs)
    pos.epoch, pos.total, pos.order = epoch + 1, 0.0, None
    pos.stopping = ctx.stop and not ctx.interrupted      # a callback ended the run
    if run.checkpoint is not None and pos.epoch < ctx.epochs and (
            pos.epoch % run.checkpoint_every == 0 or pos.stopping):
        _write_checkpoint(net, run, pos)
    return not ctx.stop


def _end_run(net, run: _Run, hooks: _Hooks, second_ctrl_c: bool) -> None:
    """Say where Ctrl-C stopped, tell the callbacks, write the last checkpoint, keep the
    optimizer on the network."""
    ctx, history = run.ctx, run.ctx.history
    ctx.state = run.state
    can_resume = run.checkpoint is not None and not second_ctrl_c
    if ctx.interrupted:
        history.interrupted = True
        history.stopped_at = (ctx.epoch, ctx.batch)
        if can_resume:
            _write_checkpoint(net, run, replace(run.position, stopping=False))
        _note(run, f"Interrupted: stopped after batch {ctx.batch + 1} of epoch "
                   f"{ctx.epoch + 1}; the network keeps the weights trained so far"
                   + (f" and the checkpoint {str(run.checkpoint)!r} can resume the run."
                      if can_resume else "."))
    try:
        for cb in hooks.callbacks:
            cb.on_train_end(ctx, {})
    finally:
        _close(hooks.callbacks)
    if run.checkpoint is not None and not ctx.interrupted:
        # the epochs actually trained, and whether a callback ended the run early
        _write_checkpoint(net, run, Position(
            epoch=len(history), step=ctx.step, completed=True,
            stopping=ctx.stop or run.position.stopping))
    _keep_optimizer(net, run)


def _keep_optimizer(net, run: _Run) -> None:
    """Keep the optimizer and its state on the network, for partial_fit to continue."""
    net.training_state = TrainingState(run.opt, run.state, run.position.step)


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
        logs.update(run.batches.training_scores(net, run.metrics))
    if run.ctx.validation is not None:
        Xv, Yv, swv = run.ctx.validation
        for name, value in _metrics.scores(net, Xv, Yv, swv, run.metrics).items():
            logs["val_" + name] = value
    lr = _opt.current_learning_rate(run.opt, run.ctx.state)
    if lr is not None:
        logs["learning_rate"] = lr
    return logs


# --- checkpoints: written in one place, read in one place --------------------------------------

def _write_checkpoint(net, run: _Run, position: Position) -> None:
    """Save the run at ``position``: weights, optimizer state, generator, history, callbacks."""
    meta = dict(run.meta)
    meta["rng_state"] = _jsonable(net.rng.bit_generator.state)
    meta["history"] = run.ctx.history._state()
    meta["position"] = {"epoch": position.epoch, "batch": position.batch,
                        "step": position.step, "total": position.total if position.batch else 0.0,
                        "completed": position.completed, "stopping": position.stopping}
    states = []
    for cb in _stateful(run.callbacks):
        state = dict(cb.get_state())
        state["class"] = type(cb).__name__
        states.append(state)
    _ckpt.save(run.checkpoint, meta=meta, params=net.params,
               opt_leaves=_opt.state_leaves(run.state),
               order=position.order if position.batch else None, val_index=run.val_index,
               callbacks=states)


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
    saved_position = meta["position"]
    _check_epochs(saved_position, run.ctx.epochs, path)
    # every check passed: from here on the network changes
    net.params[...] = loaded.params
    net.rng.bit_generator.state = meta["rng_state"]
    net.needs_data_init = False
    run.state = run.ctx.state = state
    run.ctx.history = history
    history.interrupted, history.stopped_at = False, None
    run.position = Position(
        epoch=int(saved_position["epoch"]), batch=int(saved_position["batch"]),
        step=int(saved_position["step"]), total=float(saved_position["total"]),
        order=loaded.order, completed=bool(saved_position["completed"]),
        stopping=bool(saved_position.get("stopping", False)))
    run.ctx.step = run.position.step
    for cb, cb_state in zip(stateful, saved):
        cb.set_state(cb_state)
    if run.progress is not None and hasattr(run.progress, "note"):
        pos = run.position
        where = "finished run" if pos.completed else \
            f"epoch {pos.epoch + 1}, batch {pos.batch + 1}"
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


def _jsonable(value):
    """A generator state as JSON (PCG64's is already; MT19937's holds an array)."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.integer):
        return int(value)
    return value


# --- divergence ---------------------------------------------------------------------------------
def _diverged(net, run: _Run, epoch: int, batch: int, value: float, what: str):
    """Put back the epoch's starting weights and raise a DivergenceError that says why
    (``what``: 'the loss became nan', 'the loss reached 7e+39, more than ...')."""
    np.copyto(net.params, run.snapshot)
    net.training_state = None            # the optimizer's moments saw the bad gradients
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
    # block by block: X may be memory-mapped and larger than memory
    biggest = max((float(np.max(np.abs(ctx.X[i:i + 65536])))
                   for i in range(0, ctx.X.shape[0], 65536)), default=0.0)
    if biggest > 1e3:
        lines.append(f"The inputs X reach |x| = {biggest:.3g}; standardise X (zero mean, unit "
                     "variance per column) before training.")
    diagnosis, text = _explain(net, run)
    if text:
        lines.append(text)
    raise DivergenceError("\n".join(lines), epoch=epoch, batch=batch, history=ctx.history,
                          learning_rate=lr, value=value, diagnosis=diagnosis)


def _explain(net, run: _Run):
    """The run's divergence explainer (the doctor, when the caller gave it): (diagnosis,
    text), or (None, "") when there is none or it fails: the message stands without it."""
    if run.explain_divergence is None:
        return None, ""
    ctx = run.ctx
    rows = slice(0, min(ctx.X.shape[0], 512))
    try:
        with np.errstate(all="ignore"):
            return run.explain_divergence(net, ctx.X[rows], ctx.Y[rows], run.opt,
                                          min(run.batch_size, ctx.X.shape[0]))
    except Exception:
        return None, ""
