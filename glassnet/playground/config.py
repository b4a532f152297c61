"""The playground's settings: one frozen :class:`Config`, validated in one place.

Every control on the page is a field here.  :func:`validate` turns the page's (untrusted)
JSON into a Config or raises :class:`~glassnet.GlassnetError` naming the field, what was
expected and what came; the caps in :data:`LIMITS` keep any message from asking for an
unbounded amount of work or memory.  The page keeps the same fields in its address
(:meth:`Config.to_query` / :func:`from_query`), so a reload restores the run.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from .. import activations as _act
from .. import initializers as _init
from .._validation import GlassnetError
from .datasets import DATASETS, FEATURES

#: field -> (smallest, largest) for the numeric settings
LIMITS = {
    "hidden_layers": (0, 6),    # number of hidden layers
    "units": (1, 8),            # units in each hidden layer
    "points": (20, 2000),       # samples in the data set (train and test together)
    "noise": (0.0, 1.0),
    "test_fraction": (0.1, 0.9),
    "learning_rate": (1e-6, 10.0),
    "batch_size": (1, 2000),
    "l2": (0.0, 1.0),
    "seed": (0, 2**31 - 1),
    "grid": (10, 100),          # heatmap side in cells
    "epochs_per_frame": (1, 50),
    "doctor_every": (1, 1000),  # epochs between two readings of the doctor
}
#: the optimizers the page offers (each glassnet.optimizers name with its default settings)
OPTIMIZERS = ("sgd", "momentum", "adam")
#: hidden activations: every elementwise activation in glassnet.activations
ACTIVATIONS = tuple(n for n in _act.NAMES if n != "softmax")
#: "default" picks the scheme that suits the activation; the rest is the registry, whole
INITS = ("default",) + tuple(_init.NAMES)
#: settings that change how the current network keeps training; every other field builds
#: a new network (a reset)
LIVE = ("learning_rate", "optimizer", "batch_size", "l2", "epochs_per_frame",
        "doctor_every", "grid")


@dataclass(frozen=True)
class Config:
    """Everything that defines a playground run.  The defaults are the page's first view."""

    data: str = "circle"
    points: int = 500
    noise: float = 0.1
    test_fraction: float = 0.5
    features: tuple = ("x1", "x2")
    layers: tuple = (4, 4)
    activation: str = "tanh"
    init: str = "default"
    optimizer: str = "sgd"
    learning_rate: float = 0.03
    batch_size: int = 10
    l2: float = 0.0
    seed: int = 0
    grid: int = 50
    epochs_per_frame: int = 1
    doctor_every: int = 10

    def to_dict(self) -> dict:
        out = dataclasses.asdict(self)
        out["features"] = list(self.features)
        out["layers"] = list(self.layers)
        return out

    def to_query(self) -> str:
        """The address form: ``data=circle&layers=4,4&...`` (lists comma-separated)."""
        parts = []
        for key, value in self.to_dict().items():
            if isinstance(value, list):
                value = ",".join(str(v) for v in value)
            parts.append(f"{key}={value}")
        return "&".join(parts)

    def replace(self, changes: dict) -> "Config":
        """A validated copy with ``changes`` (untrusted JSON values) applied."""
        return validate({**self.to_dict(), **changes})


FIELDS = tuple(f.name for f in dataclasses.fields(Config))


def _int(name, value) -> int:
    lo, hi = LIMITS[name]
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise GlassnetError(f"{name} must be a whole number from {lo} to {hi}; "
                                f"got {value!r}.")
    if not lo <= value <= hi:
        raise GlassnetError(f"{name} must be from {lo} to {hi}; got {value}.")
    return int(value)


def _float(name, value) -> float:
    lo, hi = LIMITS[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise GlassnetError(f"{name} must be a number from {lo} to {hi}; got {value!r}.")
    if not lo <= value <= hi:
        raise GlassnetError(f"{name} must be from {lo} to {hi}; got {value}.")
    return float(value)


def _choice(name, value, choices) -> str:
    if not isinstance(value, str) or value not in choices:
        raise GlassnetError(f"{name} must be one of {list(choices)}; got {value!r}.")
    return value


def validate(values) -> Config:
    """A :class:`Config` from the page's JSON object, or a GlassnetError naming the field."""
    if not isinstance(values, dict):
        raise GlassnetError(f"config must be an object of settings; got {type(values).__name__}.")
    unknown = sorted(str(k) for k in values if k not in FIELDS)
    if unknown:
        raise GlassnetError(f"unknown setting {unknown[0]!r}; the settings are {list(FIELDS)}.")
    v = {**Config().to_dict(), **values}
    layers = v["layers"]
    lo, hi = LIMITS["hidden_layers"]
    if not isinstance(layers, (list, tuple)) or not lo <= len(layers) <= hi:
        raise GlassnetError(f"layers must be a list of {lo} to {hi} hidden-layer sizes; "
                            f"got {layers!r}."[:300])
    layers = tuple(_int("units", u) for u in layers)
    feats = v["features"]
    if not isinstance(feats, (list, tuple)) or not 1 <= len(feats) <= len(FEATURES):
        raise GlassnetError(f"features must be a list of 1 to {len(FEATURES)} of "
                            f"{list(FEATURES)}; got {feats!r}."[:300])
    feats = tuple(_choice("features", f, FEATURES) for f in feats)
    if len(set(feats)) != len(feats):
        raise GlassnetError(f"features lists a feature twice: {list(feats)}.")
    cfg = Config(
        data=_choice("data", v["data"], DATASETS),
        points=_int("points", v["points"]),
        noise=_float("noise", v["noise"]),
        test_fraction=_float("test_fraction", v["test_fraction"]),
        features=tuple(f for f in FEATURES if f in feats),     # a fixed order
        layers=layers,
        activation=_choice("activation", v["activation"], ACTIVATIONS),
        init=_choice("init", v["init"], INITS),
        optimizer=_choice("optimizer", v["optimizer"], OPTIMIZERS),
        learning_rate=_float("learning_rate", v["learning_rate"]),
        batch_size=_int("batch_size", v["batch_size"]),
        l2=_float("l2", v["l2"]),
        seed=_int("seed", v["seed"]),
        grid=_int("grid", v["grid"]),
        epochs_per_frame=_int("epochs_per_frame", v["epochs_per_frame"]),
        doctor_every=_int("doctor_every", v["doctor_every"]),
    )
    return cfg


def from_query(params) -> Config:
    """A Config from address parameters (strings); missing ones keep their defaults."""
    values = {}
    defaults = Config().to_dict()
    for key, text in dict(params).items():
        if key not in defaults:
            continue
        default = defaults[key]
        if isinstance(default, list):
            items = [s for s in str(text).split(",") if s]
            values[key] = [_number(s) for s in items] if key == "layers" else items
        elif isinstance(default, (int, float)):
            values[key] = _number(text)
        else:
            values[key] = text
    return validate(values)


def _number(text: str):
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text            # validate() names the field and the bad value
