"""What a training run leaves behind: its :class:`History`, or a :class:`DivergenceError`.

Both live below the loops that produce them (:mod:`glassnet.training`, :class:`glassnet.Neuro`'s
seed-style ``fit``), so either loop can import them; ``glassnet.training`` re-exports them.
"""
from __future__ import annotations

import math
import sys

import numpy as np

from . import metrics as _metrics
from ._validation import GlassnetError


# --- when a run has diverged ----------------------------------------------------------------
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


#: the limit before the first batch has set one: every finite loss passes, inf and NaN fail
NO_LIMIT = sys.float_info.max


def _loss_limit(first: float) -> float:
    return min(LOSS_GROWTH_LIMIT * max(first, LOSS_FLOOR), NO_LIMIT)


def _weight_limit(params: np.ndarray) -> float:
    start = _largest(params)
    return min(WEIGHT_GROWTH_LIMIT * max(start, WEIGHT_FLOOR), NO_LIMIT) \
        if math.isfinite(start) else NO_LIMIT


def _explosion(value: float, limit: float, growth: float, what: str) -> str:
    """'became nan' for a non-finite value; for a finite one, how far past its limit."""
    if not math.isfinite(value):
        return f"{what} became {value}" if "loss" in what else "a weight became non-finite"
    return (f"{what} reached {value:.3g}, more than {growth:.0e} times its starting level "
            f"({limit / growth:.3g}): the run was blowing up, though still finite")



class DivergenceError(GlassnetError):
    """Training stopped because the loss or the weights became NaN or infinite, or exploded
    past :data:`LOSS_GROWTH_LIMIT` / :data:`WEIGHT_GROWTH_LIMIT` while still finite.

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
