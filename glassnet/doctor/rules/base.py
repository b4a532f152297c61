"""What every rule reads: the :class:`Recording` of a run, and the words rules share."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..stats import InputStats, Snapshot, TargetStats
from .thresholds import SUGGESTED_INIT, TINY_GAIN, UNSCALED


@dataclass
class Recording:
    """Everything the rules read about one run (a probe by ``diagnose`` or a real ``fit``).

    ``start`` and ``end`` are :class:`Snapshot` measurements on the same fixed batch,
    before the first step and after the last (``end`` is None when no step was taken).
    ``update_ratios`` holds, for some of the steps, each layer's ||step of W|| / ||W||.
    ``checkpoints`` are (step, loss on the fixed batch); ``batch_losses`` the loss of every
    step's own batch.  Steps are counted from 1.  ``epochs`` is the per-epoch history of a
    real fit when known: ``{"loss": [...], "val_loss": [...], "kept_epoch": k}`` (k, from
    0, is the epoch whose weights the network holds; None: the last).
    """

    source: str
    architecture: dict
    start: Snapshot
    end: Snapshot | None
    weight_change: list                 # per layer ||W_end - W_start||
    weight_start_norm: list             # per layer ||W_start||
    steps: int
    inputs: InputStats
    uninformed_loss: float
    prior_loss: float | None = None
    targets: TargetStats | None = None  # a regressor's targets (None for a classifier)
    update_ratios: list = field(default_factory=list)
    checkpoints: list = field(default_factory=list)
    batch_losses: list = field(default_factory=list)
    nonfinite_step: int | None = None
    optimizer: str = "sgd"
    learning_rate: float | None = None
    unit: str = "step"                  # what a checkpoint counts: "step" or "epoch"
    epochs: dict | None = None

    @property
    def n_layers(self) -> int:
        return len(self.start.layers)

    @property
    def target_mean(self) -> list | None:
        return None if self.targets is None else self.targets.mean.tolist()

    @property
    def target_std(self) -> list | None:
        return None if self.targets is None else self.targets.std.tolist()


def explained(found) -> dict:
    """Layer -> the code of the first earlier finding that accounts for it."""
    out: dict = {}
    for f in found:
        for k in f.explains:
            out.setdefault(k, f.code)
    return out


def has(found, code: str) -> bool:
    return any(f.code == code for f in found)


def suggested_init(activation: str) -> str:
    return SUGGESTED_INIT.get(activation, "xavier_uniform")


def gain(s) -> float:
    """A layer's RMS(W) x sqrt(fan_in): how much it scales a unit-size signal."""
    return s.weight_rms * math.sqrt(s.fan_in)


def tiny_layers(rec: Recording) -> set:
    """0-based layers whose weights start at (nearly) zero: a step's size relative to them
    says nothing about the learning rate."""
    return {l for l, s in enumerate(rec.start.layers) if gain(s) < TINY_GAIN}


def g(x) -> str:
    """A number for a sentence: 3 significant digits."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return str(x)
    return f"{x:.3g}"


def join(items) -> str:
    items = [str(i) for i in items]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def lr_words(rec: Recording) -> str:
    if rec.learning_rate is None:
        return f"the {rec.optimizer} optimizer's step"
    return f"learning rate {g(rec.learning_rate)} ({rec.optimizer})"


def lr_short(rec: Recording) -> str:
    if rec.learning_rate is None:
        return rec.optimizer
    return f"learning rate {g(rec.learning_rate)}"


def init_advice(activations) -> str:
    names = sorted(set(activations))
    parts = [f"init='{suggested_init(a)}' for {a}" for a in names]
    return "Initialize the weights randomly: " + "; ".join(parts) + \
        " (init=None picks these). Zero biases are fine."


def unscaled_columns(rec: Recording) -> list:
    mag = rec.inputs.magnitude
    return [int(j) for j in np.argsort(-mag) if mag[j] > UNSCALED]


def target_size(rec: Recording) -> float:
    """A regressor's largest target size sqrt(mean^2 + std^2) (0 for a classifier)."""
    if rec.targets is None:
        return 0.0
    return float(np.max(rec.targets.magnitude))


def is_classifier(rec: Recording) -> bool:
    return rec.architecture.get("loss") in ("cross_entropy", "binary_cross_entropy")
