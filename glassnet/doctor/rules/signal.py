"""The signal through the layers: ``vanishing_signal`` and ``exploding_signal``.

Judged at the start of the run (the initialization's signal), on every hidden layer,
whatever other rules found: the forward signal (each unit's std over the batch) and the
back-propagated error (its RMS), layer after layer.
"""
from __future__ import annotations

import math

import numpy as np

from ..report import Finding
from .base import Recording, g, gain, join, suggested_init
from .thresholds import (EXPLODE_ERROR, EXPLODE_FACTOR, EXPLODE_TOTAL, NEEDED_GAIN,
                         VANISH_ERROR, VANISH_FACTOR, VANISH_TOTAL)


def _trend(values: list):
    """(total ratio last/first, geometric mean factor per layer), or None."""
    if len(values) < 2 or not all(math.isfinite(x) and x > 0 for x in values):
        return None
    total = values[-1] / values[0]
    return total, total ** (1.0 / (len(values) - 1))


def _verdict(trend):
    if trend is None:
        return None
    total, factor = trend
    if total < VANISH_TOTAL and factor < VANISH_FACTOR:
        return "vanishing_signal", "error" if total < VANISH_ERROR else "warning"
    if total > EXPLODE_TOTAL and factor > EXPLODE_FACTOR:
        return "exploding_signal", "error" if total > EXPLODE_ERROR else "warning"
    return None


def signal(rec: Recording, found: tuple) -> list:
    hidden = rec.start.hidden
    if len(hidden) < 2:
        return []
    stds = [s.signal_std for s in hidden]
    # the error flows down: from the last hidden layer to the first
    deltas = [s.delta_rms for s in reversed(hidden)]
    forward, backward = _trend(stds), _trend(deltas)
    verdict, direction = _verdict(forward), "forward"
    if verdict is None:
        verdict, direction = _verdict(backward), "backward"
    if verdict is None:
        return []
    code, severity = verdict
    total, factor = forward if direction == "forward" else backward
    verb = "shrinks" if code == "vanishing_signal" else "grows"
    layers = [s.layer for s in hidden]
    gains = [gain(s) for s in hidden[1:]]
    mean_gain = float(np.exp(np.mean(np.log(np.maximum(gains, 1e-300)))))
    acts = sorted({s.activation for s in hidden})
    needed = {a: NEEDED_GAIN.get(a, 1.0) for a in acts}
    need_words = join(f"{a} needs about {g(v)}" for a, v in needed.items())
    size = "small" if code == "vanishing_signal" else "large"
    if direction == "forward":
        message = (f"The signal {verb} by a factor {g(factor)} per layer through hidden "
                   f"layers {layers[0]}-{layers[-1]}: the activations' std (per unit, over "
                   f"the batch) goes from {g(stds[0])} in layer {layers[0]} to {g(stds[-1])} "
                   f"in layer {layers[-1]}, {g(total)} times its size. ")
        if code == "vanishing_signal":
            message += ("The deep layers and the output see almost nothing of the input, so "
                        "there is little to learn from, even where the weight gradients look "
                        "normal. ")
        else:
            message += "The deep layers and the output get huge values that swamp learning. "
    else:
        message = (f"The back-propagated error {verb} by a factor {g(factor)} per layer on its "
                   f"way down from hidden layer {layers[-1]} to layer {layers[0]}: its RMS "
                   f"goes from {g(deltas[0])} to {g(deltas[-1])}, {g(total)} times its size, "
                   + ("so the early layers get gradients too small to move their weights. "
                      if code == "vanishing_signal" else
                      "so the early layers get steps far larger than the late ones. "))
    message += (f"The weights are too {size} for this depth: RMS(W) x sqrt(fan_in) is "
                f"{g(mean_gain)} per layer, where {need_words} to keep the signal's size.")
    fix = ("Use a fan-scaled init matched to the activation: "
           + "; ".join(f"init='{suggested_init(a)}' for {a}" for a in acts)
           + " (init=None picks it); or use fewer layers.")
    return [Finding(
        code, severity, layers, message, fix,
        {"direction": direction, "factor_per_layer": factor, "total_ratio": total,
         "signal_std": stds, "layer_ratios": [b / a for a, b in zip(stds, stds[1:])],
         "gain": gains, "needed_gain": needed,
         "delta_rms": [s.delta_rms for s in hidden]},
        brief=(f"signal {verb} x{g(factor)} per layer over layers {layers[0]}-{layers[-1]}"
               if direction == "forward" else
               f"error {verb} x{g(factor)} per layer on its way down to layer {layers[0]}"),
        explains=layers)]
