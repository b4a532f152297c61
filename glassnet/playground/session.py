"""One page's run: the data, a glassnet Network, its optimizer, and what the page draws.

A :class:`Session` trains with :func:`glassnet.partial_fit` (the library's own loop, one
epoch per call, the optimizer state kept on the network), reads the network with
``Network.trace`` on the heatmap grid, asks :func:`glassnet.doctor.diagnose` what it
sees, and turns all of it into messages for the page.  It holds no server code: the
server (``server.py``) only moves these messages.

Frames are binary: a little-endian uint32 header length, the JSON header (UTF-8, padded
with spaces to a multiple of 4 bytes) and then float32 maps back to back, each
``shape[0] * shape[1]`` values in row-major order as the header's ``maps`` list says.
"""
from __future__ import annotations

import json
import math
import struct
import tempfile
import warnings
from pathlib import Path

import numpy as np

from .. import initializers as _init
from .. import optimizers as _opt
from .._validation import GlassnetError
from ..doctor import diagnose
from ..doctor.report import jsonable
from ..doctor.stats import (BOUNDED, DISTINCT_RTOL, INACTIVE_ROWS, SATURATED_ROWS,
                            SATURATION_SLOPE)
from ..io import save
from ..network import Network
from ..training import DivergenceError, partial_fit
from . import datasets
from .config import ACTIVATIONS, INITS, LIMITS, LIVE, OPTIMIZERS, Config

#: optimizer steps the doctor's probe takes on its copy of the network
DOCTOR_STEPS = 100
#: rows the per-unit marks are measured on (the doctor's own probe size)
MARK_ROWS = 512
#: finding codes whose fix is a better-suited init
_INIT_FIXES = ("no_update", "symmetric_units", "dead_units", "saturated_units",
               "vanishing_signal", "exploding_signal", "initial_loss_off")
#: finding codes whose fix is a smaller learning rate
_LOWER_LR = ("divergence", "learning_rate_too_high", "exploding_signal")

#: what the page's controls offer
OPTIONS = {"datasets": list(datasets.DATASETS), "activations": list(ACTIVATIONS),
           "inits": list(INITS), "optimizers": list(OPTIMIZERS),
           "features": [[k, label] for k, (label, _) in datasets.FEATURES.items()],
           "limits": {k: list(v) for k, v in LIMITS.items()}}


def build_network(cfg: Config, n_inputs: int, n_classes: int) -> Network:
    """The network ``cfg`` describes: sigmoid + binary cross-entropy for two classes,
    softmax + cross-entropy for digits' ten; drawn from ``cfg.seed``."""
    sizes = [n_inputs, *cfg.layers, 1 if n_classes == 2 else n_classes]
    init = None if cfg.init == "default" else cfg.init
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")      # SymmetryWarning: the doctor says it on the page
        return Network(sizes, activation=cfg.activation, init=init, seed=cfg.seed)


def make_data(cfg: Config) -> datasets.Dataset:
    return datasets.make(cfg.data, points=cfg.points, noise=cfg.noise,
                         test_fraction=cfg.test_fraction, features=cfg.features, seed=cfg.seed)


def encode_frame(header: dict, maps) -> bytes:
    """``header`` and float32 ``maps`` in the frame layout the module docstring describes."""
    text = json.dumps(jsonable(header), separators=(",", ":"), allow_nan=False).encode()
    text += b" " * (-len(text) % 4)
    body = b"".join(np.ascontiguousarray(m, dtype="<f4").tobytes() for m in maps)
    return struct.pack("<I", len(text)) + text + body


def decode_frame(data: bytes) -> tuple[dict, np.ndarray]:
    """The inverse of :func:`encode_frame`: the header and all maps as one float32 array."""
    (n,) = struct.unpack_from("<I", data)
    header = json.loads(data[4:4 + n])
    return header, np.frombuffer(data, dtype="<f4", offset=4 + n)


class Session:
    """One page's run.  Methods return JSON-ready dicts or frame bytes for the page."""

    def __init__(self, cfg: Config, session_id: str = "local"):
        self.id = session_id
        self.playing = False
        self.frames = 0
        self.version = 0             # bumped by every accepted change of settings
        self.reset(cfg)

    # --- building -------------------------------------------------------------------------------

    def reset(self, cfg: Config | None = None) -> None:
        """A new run: data, network and optimizer built afresh from ``cfg`` and its seed."""
        self.config = cfg = cfg or self.config
        self.data = make_data(cfg)
        self.net = build_network(cfg, self.data.X_train.shape[1], self.data.n_classes)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.net.initialize_on_data(self.data.X_train)       # lsuv; as fit does
        self.optimizer = _opt.get(cfg.optimizer, cfg.learning_rate)
        self.epoch = 0
        #: (first epoch, training settings) for each stretch trained with the same settings:
        #: what the shown Python replays
        self.segments = [(0, _training_settings(cfg))]
        self.diverged = None
        self.history = {"epoch": [], "train_loss": [], "test_loss": [], "train_accuracy": [],
                        "test_accuracy": []}
        self._sent = 0               # history entries already sent to the page
        self._set_grid(cfg.grid)
        self._record()

    def _set_grid(self, size: int) -> None:
        if self.data.P_train is None:
            self.grid_points = self.grid_inputs = None
        else:
            self.grid_points = datasets.grid(size)
            self.grid_inputs = datasets.input_features(self.grid_points, self.config.features)

    def apply(self, changes: dict) -> str:
        """Apply validated-on-the-way ``changes``; "reset" when a new network was built,
        else "live".  Bad values raise GlassnetError and change nothing."""
        new = self.config.replace(changes)
        changed = [k for k in changes if getattr(new, k) != getattr(self.config, k)]
        self.version += 1
        if any(k not in LIVE for k in changed):
            self.reset(new)
            return "reset"
        self.config = new
        if "optimizer" in changed or "learning_rate" in changed:
            # a new optimizer, as partial_fit is given one in the shown Python: its state
            # starts afresh (partial_fit continues it only for the same name and settings)
            self.optimizer = _opt.get(new.optimizer, new.learning_rate)
        settings = _training_settings(new)
        start, last = self.segments[-1]
        if settings != last:
            if start == self.epoch:                  # nothing trained with the last ones
                self.segments[-1] = (start, settings)
            else:
                self.segments.append((self.epoch, settings))
        if "grid" in changed:
            self._set_grid(new.grid)
        return "live"

    # --- training -------------------------------------------------------------------------------

    def train(self, epochs: int | None = None) -> int:
        """Train ``epochs`` (default: epochs_per_frame) epochs; returns how many ran.

        A run that diverges stops: ``self.diverged`` holds the message, play pauses."""
        cfg = self.config
        X, y = self.data.X_train, self.data.y_train
        done = 0
        for _ in range(cfg.epochs_per_frame if epochs is None else epochs):
            if self.diverged:
                break
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    partial_fit(self.net, X, y, batch_size=min(cfg.batch_size, len(y)),
                                optimizer=self.optimizer, alpha=cfg.l2)
            except (DivergenceError, GlassnetError) as exc:
                self.diverged = str(exc).splitlines()[0][:400]
                self.playing = False
                break
            self.epoch += 1
            done += 1
            self._record()
        return done

    def _record(self) -> None:
        d, net, h = self.data, self.net, self.history
        with np.errstate(all="ignore"):
            h["epoch"].append(self.epoch)
            h["train_loss"].append(_finite(net.loss_value(d.X_train, d.y_train)))
            h["test_loss"].append(_finite(net.loss_value(d.X_test, d.y_test)))
            h["train_accuracy"].append(_accuracy(net, d.X_train, d.y_train))
            h["test_accuracy"].append(_accuracy(net, d.X_test, d.y_test))

    def doctor_due(self) -> bool:
        return self.epoch % self.config.doctor_every == 0

    # --- what the page draws --------------------------------------------------------------------

    def setup(self) -> dict:
        """The structure the page lays out once per reset: layers, inputs, points."""
        d, cfg = self.data, self.config
        out = {"type": "setup", "session": self.id, "config": cfg.to_dict(),
               "query": cfg.to_query(), "version": self.version,
               "layer_sizes": list(self.net.layer_sizes),
               "inputs": [datasets.FEATURES[n][0] for n in d.feature_names]
               if d.P_train is not None else [],
               "plane": datasets.PLANE, "digits": d.P_train is None,
               "n_classes": d.n_classes, "code": self.python_code(),
               "history": self.history, "options": OPTIONS}
        self._sent = len(self.history["epoch"])
        if d.P_train is None:                 # digits: the mean training image heads the inputs
            out["input_image"] = np.round(d.X_train.mean(axis=0), 4).tolist()
        else:
            out["train_points"] = np.round(d.P_train, 4).tolist()
            out["train_labels"] = d.y_train.tolist()
            out["test_points"] = np.round(d.P_test, 4).tolist()
            out["test_labels"] = d.y_test.tolist()
            # each input feature over the plane, for the input column's pictures
            out["input_maps"] = [np.round(self.grid_inputs[:, j], 4).tolist()
                                 for j in range(self.grid_inputs.shape[1])]
        return out

    def frame(self) -> bytes:
        """The network as it is now: weights, losses since the last frame, every map."""
        net, d = self.net, self.data
        self.frames += 1
        maps, described = self._maps()
        h = self.history
        new = {k: v[self._sent:] for k, v in h.items()}
        self._sent = len(h["epoch"])
        header = {"type": "frame", "frame": self.frames, "epoch": self.epoch,
                  "version": self.version, "playing": self.playing,
                  "learning_rate": self.config.learning_rate,
                  "train_loss": h["train_loss"][-1], "test_loss": h["test_loss"][-1],
                  "train_accuracy": h["train_accuracy"][-1],
                  "test_accuracy": h["test_accuracy"][-1], "history": new,
                  "weights": [np.round(w, 5).tolist() for w in net.weights],
                  "biases": [np.round(b, 5).tolist() for b in net.biases],
                  "maps": described, "diverged": self.diverged}
        return encode_frame(header, maps)

    def _maps(self):
        """Float32 maps and their descriptions: every hidden unit, then the output."""
        net, d = self.net, self.data
        maps, described = [], []

        def add(values, shape, scale=1.0, shift=0.0, **extra):
            values = np.asarray(values, np.float64)
            with np.errstate(all="ignore"):
                lo, hi = np.nanmin(values), np.nanmax(values)
            maps.append(np.nan_to_num(values, nan=0.0, posinf=3e38, neginf=-3e38))
            described.append({"shape": list(shape), "scale": scale, "shift": shift,
                              "min": _finite(lo), "max": _finite(hi), **extra})

        with np.errstate(all="ignore"):
            if d.P_train is not None:
                g = self.config.grid
                trace = net.trace(self.grid_inputs)
                for l, post in enumerate(trace.post[:-1]):
                    for j in range(post.shape[1]):
                        add(post[:, j], (g, g), layer=l, unit=j)
                p = trace.post[-1][:, 0]                         # P(class 1) on the grid
                add(p, (g, g), scale=0.5, shift=0.5, layer=net.n_layers - 1, unit=0)
            else:
                W0 = net.weights[0]
                scale = float(np.max(np.abs(W0))) or 1.0
                for j in range(W0.shape[1]):                     # the unit's 8x8 weights
                    add(W0[:, j], (8, 8), scale=scale, layer=0, unit=j, kind="weights")
                trace = net.trace(d.X_test)
                for l, post in enumerate(trace.post[:-1]):
                    if l == 0:
                        continue
                    for j in range(post.shape[1]):               # mean output per class
                        means = [post[d.y_test == c, j].mean() if np.any(d.y_test == c)
                                 else 0.0 for c in range(10)]
                        add(means, (1, 10), layer=l, unit=j, kind="class_means")
                pred = trace.post[-1].argmax(axis=1)
                conf = np.zeros((10, 10))
                np.add.at(conf, (d.y_test, pred), 1.0)
                conf /= np.maximum(conf.sum(axis=1, keepdims=True), 1.0)
                add(conf, (10, 10), layer=net.n_layers - 1, unit=0, kind="confusion")
        return maps, described

    def output_map(self) -> np.ndarray | None:
        """P(class 1) over the heatmap grid, as the page draws it (float32)."""
        if self.grid_inputs is None:
            return None
        return self.net.forward(self.grid_inputs)[:, 0].astype(np.float32)

    # --- the doctor -----------------------------------------------------------------------------

    def doctor(self) -> dict:
        """The doctor's reading of the network as it is, with marks and fix buttons."""
        cfg, d = self.config, self.data
        lr = cfg.learning_rate
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            report = diagnose(self.net, d.X_train, d.y_train, optimizer=cfg.optimizer,
                              learning_rate=lr, batch_size=min(cfg.batch_size, len(d.y_train)),
                              steps=DOCTOR_STEPS, seed=cfg.seed)
        findings = []
        for f in report.findings:
            item = f.to_dict()
            item.pop("evidence", None)
            item["actions"] = fix_actions(f.code, cfg)
            findings.append(item)
        return {"type": "doctor", "epoch": self.epoch, "summary": report.summary(),
                "ok": report.ok, "findings": findings,
                "marks": unit_marks(self.net, d.X_train, report.findings)}

    # --- keep and share -------------------------------------------------------------------------

    def python_code(self) -> str:
        """Python that builds the same data and network and trains them as the page does."""
        cfg = self.config
        init = "" if cfg.init == "default" else f", init={cfg.init!r}"
        n_out = 1 if self.data.n_classes == 2 else self.data.n_classes
        sizes = [self.data.X_train.shape[1], *cfg.layers, n_out]
        if self.data.P_train is None:       # digits: no noise, no plane features
            data = (f"data = make({cfg.data!r}, points={cfg.points}, "
                    f"test_fraction={cfg.test_fraction}, seed={cfg.seed})")
        else:
            data = (f"data = make({cfg.data!r}, points={cfg.points}, noise={cfg.noise}, "
                    f"test_fraction={cfg.test_fraction},\n"
                    f"            features={list(cfg.features)}, seed={cfg.seed})")
        lsuv = ("net.initialize_on_data(data.X_train)   # lsuv scales each layer on the data\n"
                if cfg.init == "lsuv" else "")
        n = len(self.data.y_train)
        train = []
        bounds = [start for start, _ in self.segments[1:]] + [self.epoch]
        for (start, st), stop in zip(self.segments, bounds):
            if train:
                what = ", ".join(f"{k}={v}" for k, v in st.items() if previous[k] != v)
                train.append(f"# at epoch {start} the page set {what}\n")
            if not train or st["optimizer"] != previous["optimizer"] \
                    or st["learning_rate"] != previous["learning_rate"]:
                train.append(f"optimizer = glassnet.optimizers.get({st['optimizer']!r}, "
                             f"{st['learning_rate']})\n")
            previous = st
            epochs = (f"range({stop})" if start == 0 else f"range({start}, {stop})")
            note = "   # one partial_fit call is one epoch" if start == 0 else ""
            if self.epoch == 0:
                epochs, note = "range(100)", "   # the page has not trained yet: 100 as an example"
            train.append(
                f"for epoch in {epochs}:{note}\n"
                "    glassnet.partial_fit(net, data.X_train, data.y_train, "
                f"batch_size={min(st['batch_size'], n)},\n"
                f"                         optimizer=optimizer, alpha={st['l2']})\n")
        return (
            "import glassnet\n"
            "from glassnet.playground.datasets import make\n\n"
            f"{data}\n"
            f"net = glassnet.Network({sizes}, activation={cfg.activation!r}{init}, "
            f"seed={cfg.seed})\n"
            f"{lsuv}"
            + "".join(train) +
            "print('test loss', net.loss_value(data.X_test, data.y_test))\n"
            "print(glassnet.doctor.diagnose(net, data.X_train, data.y_train, "
            f"optimizer={cfg.optimizer!r},\n"
            f"                              learning_rate={cfg.learning_rate}, "
            f"batch_size={min(cfg.batch_size, n)}))\n")

    def export(self) -> bytes:
        """The trained network as a glassnet model file (what ``glassnet.load`` reads)."""
        d = self.data
        meta = {"feature_names": list(d.feature_names), "classes": list(range(d.n_classes)),
                "playground": {"config": self.config.to_dict(), "epoch": self.epoch}}
        with tempfile.TemporaryDirectory(prefix="glassnet-playground-") as tmp:
            path = save(self.net, Path(tmp) / "model.glassnet", metadata=meta)
            return path.read_bytes()


def _training_settings(cfg: Config) -> dict:
    return {"optimizer": cfg.optimizer, "learning_rate": cfg.learning_rate,
            "batch_size": cfg.batch_size, "l2": cfg.l2}


def fix_actions(code: str, cfg: Config) -> list:
    """Buttons for a finding whose fix is a setting: [{"label", "set": {field: value}}]."""
    actions = []
    suited = _init.default_for(cfg.activation)
    if code in _INIT_FIXES and cfg.init not in ("default", suited):
        actions.append({"label": f"use {suited} init", "set": {"init": suited}})
    if code in _LOWER_LR or (code in ("dead_units", "saturated_units")
                             and cfg.init in ("default", suited)):
        lr = float(f"{cfg.learning_rate / 10:.3g}")
        if lr >= 1e-6:
            actions.append({"label": f"lower the learning rate to {lr:g}",
                            "set": {"learning_rate": lr}})
    if code == "dead_units" and cfg.activation == "relu":
        actions.append({"label": "use leaky_relu", "set": {"activation": "leaky_relu"}})
    if code == "learning_rate_too_low" and cfg.learning_rate * 10 <= 10:
        lr = float(f"{cfg.learning_rate * 10:.3g}")
        actions.append({"label": f"raise the learning rate to {lr:g}",
                        "set": {"learning_rate": lr}})
    return actions


def unit_marks(net: Network, X: np.ndarray, findings) -> list:
    """Per hidden layer, the units the findings name: dead, saturated, identical groups.

    The tests are the doctor's own (its constants in ``glassnet.doctor.stats``), applied
    unit by unit on the first MARK_ROWS training rows; a layer is marked only for a code
    the doctor reported for it.
    """
    named = {}
    for f in findings:
        for k in f.layers:
            named.setdefault(k, set()).add(f.code)
    trace = net.trace(X[:MARK_ROWS])
    marks = []
    with np.errstate(all="ignore"):
        for l in range(net.n_layers - 1):
            codes = named.get(l + 1, set())
            act = net.activations[l]
            z, a = trace.pre[l], trace.post[l]
            W, b = net.weights[l], net.biases[l]
            slope = act.df(z)
            zero_cols = ~np.any(W != 0, axis=0)
            passing = np.mean((slope != 0) | (a != 0), axis=0)
            dead = np.flatnonzero((passing <= INACTIVE_ROWS) & ~zero_cols)
            saturated = []
            if act.name in BOUNDED:
                flat = np.mean(slope < SATURATION_SLOPE * BOUNDED[act.name], axis=0)
                saturated = np.flatnonzero(flat >= SATURATED_ROWS)
            marks.append({
                "layer": l + 1,
                "codes": sorted(codes),
                "dead": [int(j) for j in dead] if "dead_units" in codes else [],
                "saturated": ([int(j) for j in saturated]
                              if "saturated_units" in codes else []),
                "identical": (_identical_groups(W, b) if "symmetric_units" in codes else []),
                "frozen": "no_update" in codes,
            })
    return marks


def _identical_groups(W: np.ndarray, b: np.ndarray) -> list:
    """Groups (two or more) of units with the same incoming weights and bias."""
    cols = np.vstack([W, np.reshape(b, (1, -1))]).T                  # (units, fan_in + 1)
    scale = float(np.max(np.abs(cols))) if cols.size else 0.0
    tol = DISTINCT_RTOL * (scale or 1.0)
    groups, seen = [], set()
    for i in range(cols.shape[0]):
        if i in seen:
            continue
        same = [j for j in range(i, cols.shape[0])
                if j not in seen and np.all(np.abs(cols[j] - cols[i]) <= tol)]
        seen.update(same)
        if len(same) > 1:
            groups.append(same)
    return groups


def _finite(value) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _accuracy(net: Network, X, y) -> float | None:
    with np.errstate(all="ignore"):
        out = net.trace(X).post[-1]
    if not np.all(np.isfinite(out)):
        return None
    pred = out.argmax(axis=1) if out.shape[1] > 1 else (out[:, 0] > 0.5).astype(np.int64)
    return float(np.mean(pred == y))
