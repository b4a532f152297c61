"""Optimizers as ``(init, update)`` pairs with explicit state.

``update(grads, state, params) -> state`` rewrites ``grads`` in place into the step to
*add* to the parameters, so the training loop's last line is ``params += grads``.  All
arrays are the network's flat buffers; nothing parameter-sized is allocated per step.
"""
from __future__ import annotations

from typing import Any, Callable, NamedTuple

import numpy as np

from ._validation import GlassnetError, check_float

Array = np.ndarray
Schedule = Callable[[int], float]


class Optimizer(NamedTuple):
    name: str
    init: Callable[[Array], Any]
    update: Callable[[Array, Any, Array], Any]
    config: dict


class ScaleState(NamedTuple):
    step: int


def as_schedule(learning_rate) -> Schedule:
    """A constant becomes ``lambda step: constant``; a callable is used as it is."""
    if callable(learning_rate):
        return learning_rate
    lr = check_float("learning_rate", learning_rate, strictly_positive=True)
    return lambda step: lr


def sgd(learning_rate=0.01) -> Optimizer:
    """Plain gradient descent: ``p <- p - lr(t) * g``."""
    schedule = as_schedule(learning_rate)

    def init(params):
        return ScaleState(0)

    def update(grads, state, params):
        grads *= -schedule(state.step)
        return ScaleState(state.step + 1)

    return Optimizer("sgd", init, update, {"learning_rate": learning_rate})


_REGISTRY = {"sgd": sgd}


def get(spec, learning_rate=None) -> Optimizer:
    """An optimizer from a name (with ``learning_rate``) or an Optimizer object."""
    if isinstance(spec, Optimizer):
        return spec
    if not isinstance(spec, str) or spec not in _REGISTRY:
        raise GlassnetError(f"Unknown optimizer {spec!r}. Valid names: {sorted(_REGISTRY)}.")
    return _REGISTRY[spec]() if learning_rate is None else _REGISTRY[spec](learning_rate)
