"""Weight initializers: functions of ``(fan_in, fan_out, rng, dtype)``, in one registry.

(A first set; the full catalogue is built out separately.)
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from ._validation import GlassnetError


class SymmetryWarning(UserWarning):
    """An initialization that leaves hidden units identical or unable to move."""


class Initializer:
    """A named initializer: ``init(fan_in, fan_out, rng, dtype, shape=None) -> array``."""

    def __init__(self, name: str, draw: Callable, params: dict | None = None, bias=None,
                 data_dependent: bool = False):
        self.name = name
        self._draw = draw
        self.params = dict(params or {})
        self.bias = bias
        self.data_dependent = data_dependent

    def __call__(self, fan_in, fan_out, rng, dtype=np.float64, shape=None):
        shape = (fan_in, fan_out) if shape is None else tuple(shape)
        return np.asarray(self._draw(fan_in, fan_out, rng, shape), dtype=dtype)

    def __repr__(self):
        extra = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"Initializer({self.name!r}{', ' + extra if extra else ''})"


def zeros():
    return Initializer("zeros", lambda fi, fo, rng, shape: np.zeros(shape))


def constant(value=0.5):
    value = float(value)
    return Initializer("constant", lambda fi, fo, rng, shape: np.full(shape, value), {"value": value})


def normal(mean=0.0, std=1.0):
    mean, std = float(mean), float(std)
    return Initializer("normal", lambda fi, fo, rng, shape: rng.normal(mean, std, shape),
                       {"mean": mean, "std": std})


def xavier_uniform(gain=1.0):
    def draw(fi, fo, rng, shape):
        bound = gain * math.sqrt(6.0 / (fi + fo))
        return rng.uniform(-bound, bound, shape)
    return Initializer("xavier_uniform", draw, {"gain": float(gain)})


def he_normal():
    def draw(fi, fo, rng, shape):
        return rng.normal(0.0, math.sqrt(2.0 / fi), shape)
    return Initializer("he_normal", draw)


def lecun_normal():
    def draw(fi, fo, rng, shape):
        return rng.normal(0.0, math.sqrt(1.0 / fi), shape)
    return Initializer("lecun_normal", draw)


_REGISTRY = {"zeros": zeros, "constant": constant, "normal": normal,
             "xavier_uniform": xavier_uniform, "he_normal": he_normal,
             "lecun_normal": lecun_normal}
_ALIASES = {"glorot_uniform": "xavier_uniform", "kaiming_normal": "he_normal",
            "xavier": "xavier_uniform", "he": "he_normal", "lecun": "lecun_normal"}


def get(name, **params) -> Initializer:
    key = _ALIASES.get(name, name) if isinstance(name, str) else name
    if key not in _REGISTRY:
        raise GlassnetError(f"Unknown init {name!r}. Valid names: {sorted(_REGISTRY)}.")
    return _REGISTRY[key](**params)


def default_for(activation: str) -> str:
    """He for the relu family, LeCun for selu, Xavier for everything else."""
    if activation in ("relu", "leaky_relu", "elu", "gelu", "silu", "softplus"):
        return "he_normal"
    if activation == "selu":
        return "lecun_normal"
    return "xavier_uniform"


def resolve(spec, activation: str) -> Initializer:
    """A name, ``(name, params)``, a dict with ``name``, a callable or None (the default)."""
    if spec is None:
        return get(default_for(activation))
    if isinstance(spec, Initializer):
        return spec
    if isinstance(spec, str):
        return get(spec)
    if isinstance(spec, dict):
        params = dict(spec)
        return get(params.pop("name"), **params)
    if isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[1], dict):
        return get(spec[0], **spec[1])
    if callable(spec):
        return Initializer(getattr(spec, "__name__", "custom"),
                           lambda fi, fo, rng, shape: spec(fi, fo, rng, np.float64) if shape == (fi, fo)
                           else spec(fi, fo, rng, np.float64).reshape(shape))
    raise GlassnetError(f"init must be a name, (name, params), a callable or None; got {spec!r}.")


def symmetry_report(weights, hidden_activations) -> str | None:
    """Describe hidden layers whose incoming weights are all equal, or None when none are."""
    problems = []
    for l, (w, act) in enumerate(zip(weights, hidden_activations)):
        if w.shape[1] > 1 and np.all(w == w.flat[0]):
            problems.append(f"layer {l + 1} ({act}, weights all {w.flat[0]:g})")
    if not problems:
        return None
    return ("Symmetric initialization: the hidden units of " + "; ".join(problems) +
            " start identical and receive identical updates, so they can never differ. "
            "Use a random init such as he_normal or xavier_uniform.")
