"""Callbacks: hooks into the fit loop, able to stop training.

A callback overrides any of the ``on_*`` methods.  Each receives the
:class:`TrainingContext` (the network, the data, the optimizer and its state, the history,
and ``ctx.stop``, which a callback sets to True to end training after the current batch)
and a ``logs`` dict:

====================  =========================================================================
hook                  logs
====================  =========================================================================
on_train_begin        ``{}``
on_epoch_begin        ``{}``
on_batch_begin        ``{"batch": b}``
on_batch_end          ``{"batch": b, "loss": batch loss}``
on_epoch_end          the epoch's record: ``loss``, every metric, ``val_*``, ``learning_rate``
on_train_end          ``{}``
====================  =========================================================================

The loop calls the batch hooks only of callbacks that override them, so a callback that
watches epochs costs nothing per batch.  A callback whose state matters for resuming
(early stopping's best value, say) implements ``get_state() -> dict`` and
``set_state(dict)``; checkpoints store it (numbers, strings and NumPy arrays only).

>>> class PrintEvery(Callback):
...     def on_epoch_end(self, ctx, logs):
...         if ctx.epoch % 10 == 0:
...             print(ctx.epoch, round(logs["loss"], 3))
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ._validation import GlassnetError, check_float, check_int
from .metrics import ALIASES, METRICS
from .optimizers import current_learning_rate, scale_learning_rate


@dataclass
class TrainingContext:
    net: Any                 # the Network being trained
    X: Any                   # training inputs, validated (n, n_features)
    Y: Any                   # encoded targets (n, n_outputs)
    optimizer: Any           # the Optimizer
    state: Any = None        # the optimizer's current state
    history: Any = None      # the History being filled
    epoch: int = 0           # current epoch (0-based)
    batch: int = 0           # current batch within the epoch (0-based)
    step: int = 0            # optimizer steps taken so far
    epochs: int = 0          # epochs requested
    batch_size: int = 0
    stop: bool = False       # set True to stop after the current batch
    extra: dict = field(default_factory=dict)   # free for callbacks to share values in a run
    n_batches: int = 0       # batches per epoch
    sample_weight: Any = None            # training sample weights (n,) or None
    validation: Any = None               # (X_val, Y_val, sw_val) or None
    interrupted: bool = False            # Ctrl-C (SIGINT) was pressed

    @property
    def learning_rate(self) -> float | None:
        """The learning rate the next step will use."""
        return current_learning_rate(self.optimizer, self.state)


class Callback:
    """Base class: every hook does nothing."""

    def on_train_begin(self, ctx: TrainingContext, logs: dict) -> None: ...

    def on_epoch_begin(self, ctx: TrainingContext, logs: dict) -> None: ...

    def on_batch_begin(self, ctx: TrainingContext, logs: dict) -> None: ...

    def on_batch_end(self, ctx: TrainingContext, logs: dict) -> None: ...

    def on_epoch_end(self, ctx: TrainingContext, logs: dict) -> None: ...

    def on_train_end(self, ctx: TrainingContext, logs: dict) -> None: ...


def overrides(cb: Callback, hook: str) -> bool:
    """True when ``cb`` defines ``hook`` itself (the loop skips the empty base hooks)."""
    return getattr(type(cb), hook, None) is not getattr(Callback, hook)


class LambdaCallback(Callback):
    """A callback from plain functions: ``LambdaCallback(on_epoch_end=lambda ctx, logs: ...)``."""

    _HOOKS = ("on_train_begin", "on_epoch_begin", "on_batch_begin", "on_batch_end",
              "on_epoch_end", "on_train_end")

    def __init__(self, **hooks: Callable):
        unknown = sorted(set(hooks) - set(self._HOOKS))
        if unknown:
            raise GlassnetError(f"LambdaCallback got unknown hooks {unknown}; valid: "
                                f"{list(self._HOOKS)}.")
        # a class per instance, so the loop sees exactly the hooks given
        cls = type("LambdaCallback", (LambdaCallback,),
                   {name: staticmethod(_bound(fn)) for name, fn in hooks.items()})
        self.__class__ = cls


def _bound(fn):
    if not callable(fn):
        raise GlassnetError(f"LambdaCallback hooks must be callables (ctx, logs); got {fn!r}.")
    return lambda ctx, logs: fn(ctx, logs)


def _resolve_mode(monitor: str, mode: str) -> str:
    if mode not in ("auto", "min", "max"):
        raise GlassnetError(f"The 'mode' parameter must be one of ['auto', 'max', 'min']. "
                            f"Got {mode!r} instead.")
    if mode != "auto":
        return mode
    base = monitor[4:] if monitor.startswith("val_") else monitor
    base = ALIASES.get(base, base)
    return "max" if base in METRICS and METRICS[base].greater_is_better else "min"


class _Plateau(Callback):
    """Shared bookkeeping: is the monitored value still improving?

    scikit-learn's MLP rule: an epoch counts as *no improvement* unless it beats the best
    value so far by more than ``min_delta``; the best value is the best seen, even when it
    improved by less than ``min_delta``.
    """

    def __init__(self, monitor: str, patience: int, min_delta: float, mode: str):
        if not isinstance(monitor, str):
            raise GlassnetError(f"monitor must be a name such as 'val_loss'; got {monitor!r}.")
        self.monitor = monitor
        self.patience = check_int("patience", patience, minimum=1)
        self.min_delta = check_float("min_delta", min_delta, minimum=0.0)
        _resolve_mode(monitor, mode)            # checks mode
        self.mode = mode
        self._reset()

    def _reset(self) -> None:
        self.best = math.nan
        self.best_epoch = -1
        self.wait = 0
        self._fresh = True

    def _sign(self) -> float:
        return 1.0 if _resolve_mode(self._monitor(), self.mode) == "max" else -1.0

    def _monitor(self) -> str:
        return getattr(self, "_resolved", self.monitor)

    def _resolve_monitor(self, ctx) -> None:
        if self.monitor == "auto":
            self._resolved = "val_loss" if ctx.validation is not None else "loss"

    def validate_monitor(self, recorded) -> None:
        """Refuse, before training starts, to watch a known quantity the run will not record.

        ``recorded`` is every name the run logs per epoch.  A name the library does not know
        (a key another callback adds to the logs, say) is checked at the first epoch's end.
        """
        if self.monitor == "auto":
            return
        prefix = "val_" if self.monitor.startswith("val_") else ""
        base = self.monitor[len(prefix):]
        base = ALIASES.get(base, base)
        if (base in METRICS or base in ("loss", "learning_rate")) and prefix + base not in recorded:
            needs = []
            if prefix and "val_loss" not in recorded:
                needs.append("validation data (validation_data= or validation_split=)")
            if base in METRICS and base not in recorded:
                needs.append(f"metrics=[{base!r}]")
            need = " and ".join(needs) or "an optimizer with a learning rate"
            raise GlassnetError(f"{type(self).__name__} monitors {self.monitor!r}, which this run "
                                f"does not record (it records {sorted(recorded)}); it needs "
                                f"{need}.")

    def _observe(self, ctx, logs) -> bool:
        """Update best/wait from this epoch; True when this epoch is the new best."""
        name = self._monitor()
        if name not in logs:
            raise GlassnetError(f"{type(self).__name__} monitors {name!r}, which this run does "
                                f"not record; available: {sorted(logs)}.")
        value = float(logs[name])
        sign = self._sign()
        if not math.isfinite(value):
            self.wait += 1
            return False
        best = self.best
        if math.isnan(best):
            self.wait = 0
        elif sign * (value - best) > self.min_delta:
            self.wait = 0
        else:
            self.wait += 1
        if math.isnan(best) or sign * (value - best) > 0:
            self.best = value
            self.best_epoch = ctx.epoch
            return True
        return False

    def get_state(self) -> dict:
        return {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait}

    def set_state(self, state: dict) -> None:
        self.best = float(state["best"])
        self.best_epoch = int(state["best_epoch"])
        self.wait = int(state["wait"])
        self._fresh = False


class EarlyStopping(_Plateau):
    """Stop when ``monitor`` has not improved for ``patience`` epochs; keep the best weights.

    Parameters
    ----------
    monitor : "auto" or a history key
        ``"auto"`` watches ``val_loss`` when there is validation data, else ``loss``.
    patience : int
        Epochs without improvement before stopping.
    min_delta : float
        An epoch improves only when it beats the best value by more than this (``tol``).
    mode : "auto", "min" or "max"
        Auto: "max" for accuracy and R^2, "min" for losses and errors.
    restore_best : bool
        At the end of training, put back the weights of the best epoch.
    """

    def __init__(self, monitor: str = "auto", patience: int = 10, min_delta: float = 0.0,
                 mode: str = "auto", restore_best: bool = True):
        super().__init__(monitor, patience, min_delta, mode)
        self.restore_best = bool(restore_best)
        self.stopped_epoch = -1
        self._best_params = None

    def on_train_begin(self, ctx, logs):
        self._resolve_monitor(ctx)
        _resolve_mode(self._monitor(), self.mode)
        if self._fresh:
            self._reset()
            self.stopped_epoch = -1
            self._best_params = None
        self._fresh = True   # the next run starts afresh unless set_state says otherwise

    def on_epoch_end(self, ctx, logs):
        if self._observe(ctx, logs) and self.restore_best:
            if self._best_params is None:
                self._best_params = np.empty_like(ctx.net.params)
            np.copyto(self._best_params, ctx.net.params)
        if self.wait >= self.patience:
            self.stopped_epoch = ctx.epoch
            ctx.stop = True

    def on_train_end(self, ctx, logs):
        if self.restore_best and self._best_params is not None:
            np.copyto(ctx.net.params, self._best_params)
        ctx.history.best_epoch = self.best_epoch
        if self.stopped_epoch >= 0:
            ctx.history.stopped_early = True

    def get_state(self) -> dict:
        state = super().get_state()
        state["stopped_epoch"] = self.stopped_epoch
        if self._best_params is not None:
            state["best_params"] = self._best_params
        return state

    def set_state(self, state: dict) -> None:
        super().set_state(state)
        self.stopped_epoch = int(state.get("stopped_epoch", -1))
        best = state.get("best_params")
        self._best_params = None if best is None else np.array(best)


class ReduceLROnPlateau(_Plateau):
    """Multiply the learning rate by ``factor`` when ``monitor`` stops improving.

    After ``patience`` epochs without an improvement larger than ``min_delta``, the
    learning-rate scale in the optimizer state is multiplied by ``factor`` and the count
    restarts.  When the rate is already at or below ``min_lr``: stop training if
    ``stop_at_min_lr``, else hold it there.

    MLPClassifier's ``learning_rate="adaptive"`` is ``ReduceLROnPlateau("loss", factor=0.2,
    patience=n_iter_no_change + 1, min_delta=tol, min_lr=1e-6, stop_at_min_lr=True)``:
    scikit-learn divides by 5 once its no-improvement count *exceeds* ``n_iter_no_change``
    (default 10; its docstring's "2 consecutive epochs" predates that parameter) and stops
    once the rate is <= 1e-6.
    """

    def __init__(self, monitor: str = "auto", factor: float = 0.2, patience: int = 10,
                 min_delta: float = 1e-4, min_lr: float = 0.0, mode: str = "auto",
                 stop_at_min_lr: bool = False):
        super().__init__(monitor, patience, min_delta, mode)
        self.factor = check_float("factor", factor, strictly_positive=True)
        if self.factor >= 1.0:
            raise GlassnetError(f"factor must be < 1 (it multiplies the learning rate). "
                                f"Got {self.factor}.")
        self.min_lr = check_float("min_lr", min_lr, minimum=0.0)
        self.stop_at_min_lr = bool(stop_at_min_lr)

    def on_train_begin(self, ctx, logs):
        self._resolve_monitor(ctx)
        _resolve_mode(self._monitor(), self.mode)
        if self._fresh:
            self._reset()
        self._fresh = True

    def on_epoch_end(self, ctx, logs):
        self._observe(ctx, logs)
        if self.wait < self.patience:
            return
        self.wait = 0
        lr = current_learning_rate(ctx.optimizer, ctx.state)
        if lr is None:
            raise GlassnetError("ReduceLROnPlateau needs an optimizer with a learning rate "
                                "(built with scale_by_learning_rate).")
        if lr <= self.min_lr:
            if self.stop_at_min_lr:
                ctx.stop = True
            return
        factor = self.factor
        if not self.stop_at_min_lr and lr * factor < self.min_lr:
            factor = self.min_lr / lr
        scale_learning_rate(ctx.state, factor)
