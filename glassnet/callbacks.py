"""Callbacks: hooks into the fit loop, able to stop training.

A callback overrides any of the ``on_*`` methods.  Each receives the
:class:`TrainingContext` (the network, the data, the optimizer state, the history, and
``ctx.stop``, which a callback sets to True to end training after the current batch) and a
``logs`` dict (``loss`` after a batch; ``loss`` and every validation metric after an epoch).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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
    extra: dict = field(default_factory=dict)


class Callback:
    """Base class: every hook does nothing."""

    def on_train_begin(self, ctx: TrainingContext, logs: dict) -> None: ...

    def on_epoch_begin(self, ctx: TrainingContext, logs: dict) -> None: ...

    def on_batch_begin(self, ctx: TrainingContext, logs: dict) -> None: ...

    def on_batch_end(self, ctx: TrainingContext, logs: dict) -> None: ...

    def on_epoch_end(self, ctx: TrainingContext, logs: dict) -> None: ...

    def on_train_end(self, ctx: TrainingContext, logs: dict) -> None: ...
