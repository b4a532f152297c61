"""Does the doctor name the true cause?  Constructed faults with a known cause, and healthy
networks, diagnosed by glassnet's doctor and by a re-implementation of AUTOTRAINER's rules.

Every fault below is built so that its cause is known: a zero layer, an init far from
what the activation needs, a learning rate 1000x off, unscaled data, labels fed to a
regression output, a fit run long past its best epoch.  The cases cover every finding
code, every activation family, networks imported from scikit-learn and PyTorch,
classification and regression, and faults present at the start as well as faults that
appear during training (those are read by the ``Monitor`` from a real ``fit``).  The
healthy networks vary in shape, activation, optimizer and task.

The competitor is AUTOTRAINER (Zhang et al., "AUTOTRAINER: An Automatic DNN Training
Problem Detection and Repair System", ICSE 2021), re-implemented from its published rules
and default parameters (its repository's ``utils/monitor.py``): the network is trained
(20 epochs, 20% held out) and after every epoch

* vanishing gradient: ||dW_first|| / ||dW_last|| < beta_1 = 1e-3 and ||dW_first|| <
  beta_2 = 1e-4, on the first batch's gradients;
* exploding gradient: that ratio > beta_3 = 70; or a NaN/inf loss, weight or gradient;
* dying ReLU: at least gamma = 70% of all gradient entries exactly zero;
* oscillating loss (its "unstable"): the training accuracy's local maxima and minima
  differ by at least zeta = 0.03 in at least eta = 20% of the epochs;
* slow convergence: the best training or validation accuracy stays below Theta = 0.7,
  or no epoch improves either by delta = 0.01;

and, as AUTOTRAINER does, a gradient problem is only reported when the run has not
converged (accuracy below Theta, or no progress): dying ReLU first, then exploding, then
vanishing, then slow convergence; otherwise an oscillating loss.  The loss checks start at
30% of the epochs.  Accuracy is R^2 for regression.  Its verdicts map to the doctor's
codes: vanish -> vanishing_signal, explode -> exploding_signal or divergence, relu ->
dead_units, unstable -> learning_rate_too_high, not_converge -> learning_rate_too_low.
AUTOTRAINER has no rule for zero or symmetric layers, saturation, data scaling, labels or
overfitting (its overfitting check is commented out in its code).

Scores: top-1 cause (the first serious finding names the true cause), detection (any
warning or error on a fault), false alarms (any warning or error on a healthy network),
and the median time of one diagnosis (``diagnose``, or ``Monitor.report`` for a run).

    python benchmarks/doctor_cases.py               # the table (markdown) and the scores
    python benchmarks/doctor_cases.py --only 5      # a few cases of each kind, no AUTOTRAINER
    python benchmarks/doctor_cases.py --seed 3      # the glassnet-built networks drawn again
    python benchmarks/doctor_cases.py --json out.json
"""
from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
import warnings
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

import glassnet
from glassnet.callbacks import Callback
from glassnet.doctor import Monitor, diagnose

HEALTHY = "healthy"

# --- the data -------------------------------------------------------------------------------------

_DATA: dict = {}


def _standardize(X):
    std = X.std(axis=0)
    return (X - X.mean(axis=0)) / np.where(std > 0, std, 1.0)


def data(name: str):
    """(X, y) of a named data set; cached.  Rows are shuffled once (seed 0)."""
    if name in _DATA:
        return _DATA[name]
    from sklearn import datasets as skd
    rng = np.random.default_rng(0)
    base, _, variant = name.partition(":")
    if base in ("digits", "breast_cancer", "wine", "iris", "diabetes"):
        X, y = getattr(skd, f"load_{base}")(return_X_y=True)
    elif base == "regression":
        X, y = skd.make_regression(600, 8, n_informative=6, noise=10.0, random_state=0)
    elif base == "classification":
        X, y = skd.make_classification(600, 12, n_informative=6, n_classes=3,
                                       random_state=0)
    elif base == "noisy_digits":                  # 400 digits / 16, 30% of labels random
        X, y = skd.load_digits(return_X_y=True)
        rows = rng.permutation(len(y))[:400]
        X, y = X[rows] / 16.0, y[rows].copy()
        flip = rng.random(len(y)) < 0.3
        y[flip] = rng.integers(0, 10, int(flip.sum()))
    elif base == "small_regression":              # 80 noisy rows, 20 features
        X, y = skd.make_regression(160, 20, n_informative=3, noise=30.0, random_state=1)
    else:
        raise KeyError(name)
    order = rng.permutation(len(y))
    X, y = X[order].astype(np.float64), y[order]
    regression = base in ("diabetes", "regression", "small_regression")
    if variant == "16":
        X = X / 16.0
    elif variant == "x100":
        X = _standardize(X) * 100 + 50
    elif variant != "raw" and base != "noisy_digits":
        X = _standardize(X)
    if regression and variant != "rawy":
        y = (y - y.mean()) / y.std()
    _DATA[name] = (X, y)
    return X, y


# --- the cases ------------------------------------------------------------------------------------

@dataclass
class Case:
    name: str
    cause: str                          # a doctor code, or "healthy"
    build: Callable                     # () -> (net, X, y)
    data: str
    optimizer: str = "sgd"
    learning_rate: float | None = None
    run: str = "diagnose"               # "diagnose": the probe; "fit": Monitor on a real fit
    epochs: int = 20                    # for "fit" runs
    steps: int = 100                    # diagnose's probe steps
    fit_kwargs: dict = field(default_factory=dict)
    family: str = ""                    # activation family, for the table
    origin: str = "glassnet"            # glassnet, sklearn or torch
    when: str = "init"                  # init or training


#: the seed of every glassnet-built network (``--seed``): the verdicts should not depend on it
SEED = [0]


def net(sizes, activation="relu", **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return glassnet.Network(sizes, activation=activation, seed=SEED[0], **kw)


def _edit(n, fn):
    fn(n)
    return n


def _sk(kind, hidden, activation, X, y, edit=None, **kw):
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    cls = MLPClassifier if kind == "classifier" else MLPRegressor
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlp = cls(hidden_layer_sizes=hidden, activation=activation, random_state=0,
                  **kw).fit(X, y)
    if edit:
        edit(mlp)
    return glassnet.from_sklearn(mlp)


def _torch(layers, output=None, edit=None):
    import torch
    torch.manual_seed(0)
    model = torch.nn.Sequential(*layers)
    if edit:
        with torch.no_grad():
            edit(model)
    return glassnet.from_torch(model, output=output)


def _torch_layers(sizes, act):
    import torch
    out = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        out.append(torch.nn.Linear(a, b))
        if i < len(sizes) - 2:
            out.append(act())
    return out


def cases() -> list:
    import torch.nn as tnn

    def d(name):
        return lambda: data(name)

    C = []

    def add(name, cause, build, dataset, **kw):
        C.append(Case(name, cause, build, dataset, **kw))

    # no_update: zero layers, from the start
    add("zero init, tanh, digits", "no_update",
        lambda: net([64, 32, 32, 10], "tanh", init="zeros"), "digits", family="tanh")
    add("zero init, relu, cancer", "no_update",
        lambda: net([30, 16, 16, 2], "relu", init="zeros"), "breast_cancer", family="relu")
    add("zero middle layer, relu, wine", "no_update",
        lambda: _edit(net([13, 32, 32, 32, 3], "relu"),
                      lambda n: n.weights[1].__setitem__(..., 0.0)), "wine", family="relu")
    add("torch model, zeroed 2nd layer, relu", "no_update",
        lambda: _torch(_torch_layers([64, 32, 32, 10], tnn.ReLU), "softmax",
                       lambda m: (m[2].weight.zero_(), m[2].bias.zero_())),
        "digits", family="relu", origin="torch")
    add("zero init, gelu, regression", "no_update",
        lambda: net([8, 16, 16, 1], "gelu", init="zeros", output="identity"), "regression",
        family="gelu")
    # symmetric_units
    add("constant 0.01 init, sigmoid, digits", "symmetric_units",
        lambda: net([64, 24, 16, 10], "sigmoid", init=("constant", {"value": 0.01})),
        "digits", family="sigmoid")
    add("zero init, sigmoid, iris", "symmetric_units",
        lambda: net([4, 16, 16, 3], "sigmoid", init="zeros"), "iris", family="sigmoid")
    add("sklearn MLP, coefs zeroed, logistic", "symmetric_units",
        lambda: _sk("classifier", (32, 16), "logistic", *data("digits"),
                    edit=lambda m: [c.__setitem__(..., 0.0) for c in m.coefs_], max_iter=5),
        "digits", family="sigmoid", origin="sklearn")
    add("sklearn MLP, coefs zeroed, relu", "symmetric_units",
        lambda: _sk("classifier", (32, 16), "relu", *data("wine"),
                    edit=lambda m: [c.__setitem__(..., 0.0) for c in m.coefs_], max_iter=5),
        "wine", family="relu", origin="sklearn")
    add("constant 0.1 init, elu, classification", "symmetric_units",
        lambda: net([12, 32, 16, 3], "elu", init=("constant", {"value": 0.1})),
        "classification", family="elu")
    # dead_units
    add("relu biases -5, digits", "dead_units",
        lambda: _edit(net([64, 32, 32, 10], "relu"),
                      lambda n: n.biases[0].__setitem__(..., -5.0)), "digits", family="relu")
    add("relu biases -4, wine", "dead_units",
        lambda: _edit(net([13, 64, 3], "relu"),
                      lambda n: n.biases[0].__setitem__(..., -4.0)), "wine", family="relu")
    add("sklearn MLP, intercepts -20, relu", "dead_units",
        lambda: _sk("classifier", (32,), "relu", *data("breast_cancer"),
                    edit=lambda m: m.intercepts_[0].__setitem__(..., -20.0), max_iter=20),
        "breast_cancer", family="relu", origin="sklearn")
    # saturated_units
    add("tanh normal(0, 1) init, digits", "saturated_units",
        lambda: net([64, 64, 10], "tanh", init=("normal", {"std": 1.0})), "digits",
        family="tanh")
    add("sigmoid biases +8, cancer", "saturated_units",
        lambda: _edit(net([30, 32, 2], "sigmoid"),
                      lambda n: n.biases[0].__setitem__(..., 8.0)), "breast_cancer",
        family="sigmoid")
    add("torch tanh, weights x10", "saturated_units",
        lambda: _torch(_torch_layers([13, 32, 3], tnn.Tanh), "softmax",
                       lambda m: m[0].weight.mul_(10)), "wine", family="tanh", origin="torch")
    # vanishing_signal
    add("deep tanh, torch_linear init, digits", "vanishing_signal",
        lambda: net([64] + [64] * 10 + [10], "tanh", init="torch_linear"), "digits",
        family="tanh")
    add("deep sigmoid, normal(0, 0.05), digits", "vanishing_signal",
        lambda: net([64] + [32] * 16 + [10], "sigmoid", init=("normal", {"std": 0.05})),
        "digits", family="sigmoid")
    add("deep relu, xavier init, 30 layers", "vanishing_signal",
        lambda: net([64] + [64] * 30 + [10], "relu", init="xavier_uniform"), "digits",
        family="relu")
    add("deep softplus, normal(0, 0.02)", "vanishing_signal",
        lambda: net([13] + [32] * 8 + [3], "softplus", init=("normal", {"std": 0.02})),
        "wine", family="softplus")
    add("deep identity, gain 0.5, regression", "vanishing_signal",
        lambda: net([8] + [32] * 8 + [1], "identity", output="identity",
                    init=("normal", {"std": 0.5 / math.sqrt(32)})), "regression",
        family="identity")
    add("deep silu, normal(0, 0.05)", "vanishing_signal",
        lambda: net([30] + [32] * 8 + [2], "silu", init=("normal", {"std": 0.05})),
        "breast_cancer", family="silu")
    # exploding_signal
    add("deep relu, normal(0, 1), digits", "exploding_signal",
        lambda: net([64] + [64] * 5 + [10], "relu", init=("normal", {"std": 1.0})), "digits",
        family="relu")
    add("deep leaky_relu, normal(0, 0.5)", "exploding_signal",
        lambda: net([12] + [64] * 6 + [3], "leaky_relu", init=("normal", {"std": 0.5})),
        "classification", family="relu")
    add("deep selu, normal(0, 0.4)", "exploding_signal",
        lambda: net([13] + [64] * 6 + [3], "selu", init=("normal", {"std": 0.4})), "wine",
        family="selu")
    add("deep identity, gain 2, regression", "exploding_signal",
        lambda: net([8] + [32] * 8 + [1], "identity", output="identity",
                    init=("normal", {"std": 2.0 / math.sqrt(32)})), "regression",
        family="identity")
    # divergence (during training)
    add("lr 50, one-hot targets, identity output", "divergence",
        lambda: net([64, 32, 10], "relu", output="identity"), "digits:onehot",
        learning_rate=50, family="relu", when="training")
    add("sgd lr 10, regression, fit", "divergence",
        lambda: net([8, 32, 32, 1], "relu", output="identity"), "regression",
        learning_rate=10.0, run="fit", family="relu", when="training")
    add("momentum lr 3, elu, regression", "divergence",
        lambda: net([8, 32, 32, 1], "elu", output="identity"), "regression",
        optimizer="momentum", learning_rate=3.0, family="elu", when="training")
    # learning_rate_too_high
    add("sgd lr 2, tanh, digits", "learning_rate_too_high",
        lambda: net([64, 32, 10], "tanh"), "digits", learning_rate=2.0, family="tanh",
        when="training")
    add("adam lr 0.5, relu, cancer", "learning_rate_too_high",
        lambda: net([30, 64, 64, 2], "relu"), "breast_cancer", optimizer="adam",
        learning_rate=0.5, family="relu", when="training")
    add("rmsprop lr 0.3, gelu, fit", "learning_rate_too_high",
        lambda: net([64, 64, 10], "gelu"), "digits", optimizer="rmsprop", learning_rate=0.3,
        run="fit", epochs=5, family="gelu", when="training")
    # learning_rate_too_low
    add("sgd lr 1e-6, relu, digits", "learning_rate_too_low",
        lambda: net([64, 32, 10], "relu"), "digits", learning_rate=1e-6, family="relu",
        when="training")
    add("adam lr 1e-7, tanh, wine", "learning_rate_too_low",
        lambda: net([13, 32, 3], "tanh"), "wine", optimizer="adam", learning_rate=1e-7,
        family="tanh", when="training")
    add("sgd lr 1e-7, selu, regression", "learning_rate_too_low",
        lambda: net([8, 32, 1], "selu", output="identity"), "regression", learning_rate=1e-7,
        family="selu", when="training")
    # initial_loss_off
    add("output weights x20, relu, digits", "initial_loss_off",
        lambda: _edit(net([64, 32, 10], "relu"),
                      lambda n: n.weights[1].__imul__(20)), "digits", steps=0, family="relu")
    add("output weights x20, regression", "initial_loss_off",
        lambda: _edit(net([8, 16, 1], "relu", output="identity"),
                      lambda n: n.weights[1].__imul__(20)), "regression", steps=0,
        family="relu")
    add("output bias 10, sigmoid output", "initial_loss_off",
        lambda: _edit(net([30, 16, 1], "tanh"),
                      lambda n: n.biases[1].__setitem__(..., 10.0)), "breast_cancer",
        steps=0, family="tanh")
    # unscaled_inputs
    add("raw features, relu, cancer", "unscaled_inputs",
        lambda: net([30, 32, 32, 2], "relu"), "breast_cancer:raw", family="relu")
    add("raw features, tanh, wine, adam", "unscaled_inputs",
        lambda: net([13, 32, 3], "tanh"), "wine:raw", optimizer="adam", family="tanh")
    add("features x100 + 50, sigmoid, digits", "unscaled_inputs",
        lambda: net([64, 32, 10], "sigmoid"), "digits:x100", family="sigmoid")
    add("raw pixels 0..16, relu, lr 0.05", "unscaled_inputs",
        lambda: net([64, 32, 10], "relu"), "digits:raw", learning_rate=0.05, family="relu")
    add("features x100 + 50, regression", "unscaled_inputs",
        lambda: net([8, 32, 1], "tanh", output="identity"), "regression:x100", optimizer="adam",
        family="tanh")
    # unscaled_targets
    add("diabetes raw targets, adam", "unscaled_targets",
        lambda: net([10, 32, 1], "relu", output="identity"), "diabetes:rawy", optimizer="adam",
        family="relu")
    add("diabetes raw targets, sgd", "unscaled_targets",
        lambda: net([10, 16, 1], "tanh", output="identity"), "diabetes:rawy", family="tanh")
    add("targets x100 + 1000, elu, fit", "unscaled_targets",
        lambda: net([8, 32, 1], "elu", output="identity"), "regression:big", optimizer="adam",
        run="fit", epochs=10, family="elu", when="training")
    # labels_as_targets
    add("digit labels into identity output", "labels_as_targets",
        lambda: net([64, 32, 1], "relu", output="identity"), "digits:labels", optimizer="adam",
        family="relu")
    add("wine labels into identity output", "labels_as_targets",
        lambda: net([13, 16, 1], "tanh", output="identity"), "wine:labels", family="tanh")
    add("sklearn MLPRegressor on iris labels", "labels_as_targets",
        lambda: _sk("regressor", (16,), "relu", *data("iris"), max_iter=50),
        "iris:labels", family="relu", origin="sklearn")
    # overfitting (a real fit, read by the Monitor)
    add("noisy digits, 128 relu units, adam", "overfitting",
        lambda: net([64, 128, 10], "relu"), "noisy_digits", optimizer="adam",
        learning_rate=0.01, run="fit", epochs=30, family="relu", when="training")
    add("80 noisy rows, 256 tanh units, regression", "overfitting",
        lambda: net([20, 256, 1], "tanh", output="identity"), "small_regression:std",
        optimizer="adam", learning_rate=0.01, run="fit", epochs=60, family="tanh",
        when="training")
    add("noisy digits, 2x128 gelu units, adam", "overfitting",
        lambda: net([64, 128, 128, 10], "gelu"), "noisy_digits", optimizer="adam",
        learning_rate=0.005, run="fit", epochs=30, family="gelu", when="training")

    # healthy networks
    for name, build, ds, kw in (
            ("relu he, digits, sgd", lambda: net([64, 32, 10], "relu", init="he_normal"),
             "digits", {}),
            ("deep relu, digits / 16, adam", lambda: net([64, 64, 64, 32, 10], "relu"),
             "digits:16", {"optimizer": "adam"}),
            ("tanh xavier, cancer, adam", lambda: net([30, 32, 2], "tanh"), "breast_cancer",
             {"optimizer": "adam"}),
            ("sigmoid, iris, adam", lambda: net([4, 16, 3], "sigmoid"), "iris",
             {"optimizer": "adam", "family": "sigmoid"}),
            ("elu, wine, momentum", lambda: net([13, 32, 32, 3], "elu"), "wine",
             {"optimizer": "momentum", "family": "elu"}),
            ("gelu, classification, adam", lambda: net([12, 64, 3], "gelu"), "classification",
             {"optimizer": "adam", "family": "gelu"}),
            ("silu, digits, rmsprop", lambda: net([64, 64, 10], "silu"), "digits",
             {"optimizer": "rmsprop", "learning_rate": 1e-3, "family": "silu"}),
            ("softplus, cancer, sgd", lambda: net([30, 32, 2], "softplus"), "breast_cancer",
             {"family": "softplus"}),
            ("selu lecun, wine, adam", lambda: net([13, 64, 64, 3], "selu"), "wine",
             {"optimizer": "adam", "family": "selu"}),
            ("leaky_relu, digits, nesterov", lambda: net([64, 48, 10], "leaky_relu"),
             "digits", {"optimizer": "nesterov", "family": "relu"}),
            ("identity (linear), regression, sgd",
             lambda: net([8, 16, 1], "identity", output="identity"), "regression",
             {"family": "identity"}),
            ("relu regression, diabetes std, adam",
             lambda: net([10, 32, 16, 1], "relu", output="identity"), "diabetes:std",
             {"optimizer": "adam"}),
            ("tanh regression, generated, adamw",
             lambda: net([8, 32, 1], "tanh", output="identity"), "regression",
             {"optimizer": "adamw", "family": "tanh"}),
            ("sklearn MLPClassifier, trained, digits",
             lambda: _sk("classifier", (64,), "relu", *data("digits"), max_iter=50), "digits",
             {"origin": "sklearn", "optimizer": "adam"}),
            ("sklearn MLPRegressor, trained, regression",
             lambda: _sk("regressor", (32,), "tanh", *data("regression"), max_iter=200),
             "regression", {"origin": "sklearn", "optimizer": "adam", "family": "tanh"}),
            ("torch tanh, default init, wine",
             lambda: _torch(_torch_layers([13, 32, 3], tnn.Tanh), "softmax"), "wine",
             {"origin": "torch", "family": "tanh"}),
            ("torch relu, default init, digits, adam",
             lambda: _torch(_torch_layers([64, 64, 10], tnn.ReLU), "softmax"), "digits",
             {"origin": "torch", "optimizer": "adam"}),
            ("relu, digits, fit with early stopping",
             lambda: net([64, 64, 10], "relu"), "digits",
             {"optimizer": "adam", "run": "fit", "epochs": 15,
              "fit_kwargs": {"early_stopping": True, "patience": 3}}),
            ("tanh regression, fit with validation",
             lambda: net([8, 32, 1], "tanh", output="identity"), "regression",
             {"optimizer": "adam", "run": "fit", "epochs": 10, "family": "tanh"}),
    ):
        kw.setdefault("family", "relu")
        add(name, HEALTHY, build, ds, **kw)
    return C


def case_data(case: Case):
    """(X, y) for a case: a named data set, with the case's variant of the targets."""
    base, _, variant = case.data.partition(":")
    if variant == "onehot":
        X, y = data(base)
        return X, np.eye(10)[y]
    if variant == "labels":
        X, y = data(base)
        return X, y.astype(np.float64)
    if variant == "big":
        X, y = data(base)
        return X, y * 100 + 1000
    return data(case.data)


# --- running the doctor ---------------------------------------------------------------------------

def _kw(case: Case) -> dict:
    return {"optimizer": case.optimizer, "learning_rate": case.learning_rate}


def run_doctor(case: Case) -> dict:
    X, y = case_data(case)
    network = case.build()
    if case.run == "fit":
        Xt, yt, Xv, yv = _split(X, y)
        monitor = Monitor()
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            try:
                network.fit(Xt, yt, epochs=case.epochs, validation_data=(Xv, yv),
                            callbacks=[monitor], **_kw(case), **case.fit_kwargs)
            except glassnet.DivergenceError:
                pass
        start = time.perf_counter()
        report = monitor.report()
    else:
        start = time.perf_counter()
        report = diagnose(network, X, y, steps=case.steps, **_kw(case))
    seconds = time.perf_counter() - start
    serious = [f for f in report.findings if f.severity != "info"]
    return {"verdict": serious[0].code if serious else HEALTHY,
            "codes": [f.code for f in serious], "seconds": seconds}


def _split(X, y, fraction=0.2):
    n = len(X)
    cut = n - max(1, int(round(fraction * n)))
    return X[:cut], y[:cut], X[cut:], y[cut:]


# --- AUTOTRAINER ----------------------------------------------------------------------------------

#: AUTOTRAINER's default parameters (its paper and repository)
AT = {"beta_1": 1e-3, "beta_2": 1e-4, "beta_3": 70.0, "gamma": 0.7, "zeta": 0.03,
      "eta": 0.2, "delta": 0.01, "Theta": 0.7, "judgment_point": 0.3, "epsilon": 1e-2}
#: AUTOTRAINER's problems and the doctor codes each one names
AT_CODES = {"vanish": {"vanishing_signal"}, "explode": {"exploding_signal", "divergence"},
            "relu": {"dead_units"}, "unstable": {"learning_rate_too_high"},
            "not_converge": {"learning_rate_too_low"}}


class _AutoTrainerProbe(Callback):
    """Collects what AUTOTRAINER reads, every epoch: accuracy and loss on the training
    and validation data, and the gradients of the first batch."""

    def __init__(self, X, y, Xv, yv, batch_size, epochs):
        self.data, self.batch = (X, y, Xv, yv), (X[:batch_size], y[:batch_size])
        self.epochs = epochs
        self.history = {"loss": [], "acc": [], "val_loss": [], "val_acc": []}
        self.issues: list = []
        self.features = {"died_relu": 0, "vanish_gradient": 0, "explode_gradient": 0,
                         "nan": False}

    def on_epoch_end(self, ctx, logs):
        net = ctx.net
        X, y, Xv, yv = self.data
        for prefix, (A, b) in (("", (X, y)), ("val_", (Xv, yv))):
            try:
                loss = float(net.loss_value(A, b))
            except glassnet.GlassnetError:          # the loss overflows: NaN, as Keras has it
                loss = math.nan
            self.history[prefix + "loss"].append(loss)
            self.history[prefix + "acc"].append(_accuracy(net, A, b))
        try:
            grads = net.backward(*self.batch)
            flat = [g for pair in zip(grads.weights, grads.biases) for g in pair]
        except glassnet.GlassnetError:
            flat = None
        self.determine(flat)
        if self.issues:
            ctx.stop = True                       # AUTOTRAINER would now repair

    def determine(self, grads):
        f, p, h = self.features, AT, self.history
        if grads is None or not all(np.all(np.isfinite(g)) for g in grads) or \
                any(not math.isfinite(x) for x in h["loss"] + h["val_loss"]):
            f["nan"] = True
        else:
            kernels = [np.linalg.norm(g) for g in grads[0::2]]
            rate = kernels[0] / kernels[-1] if kernels[-1] > 0 else math.inf
            zeros = sum(int(np.sum(g == 0)) for g in grads) / sum(g.size for g in grads)
            if rate < p["beta_1"] and kernels[0] < p["beta_2"]:
                f["vanish_gradient"] += 1
            if rate > p["beta_3"]:
                f["explode_gradient"] += 1
            if zeros >= p["gamma"]:
                f["died_relu"] += 1
        issues = []
        if f["nan"]:
            issues.append("explode")
        elif len(h["loss"]) >= p["judgment_point"] * self.epochs:
            acc, val = h["acc"], h["val_acc"]
            not_converge = max(val) < p["Theta"] or max(acc) < p["Theta"]
            slow = _max_rise(val) < p["delta"] and _max_rise(acc) < p["delta"]
            if not_converge or slow:
                if f["died_relu"]:
                    issues.append("relu")
                elif f["explode_gradient"]:
                    issues.append("explode")
                elif f["vanish_gradient"]:
                    issues.append("vanish")
                elif slow:
                    issues.append("not_converge")
            elif _oscillates(acc, p["zeta"], p["eta"]):
                issues.append("unstable")
        self.issues = issues


def _accuracy(net, X, y) -> float:
    try:
        return _accuracy_of(net, X, y)
    except glassnet.GlassnetError:                  # the output overflows
        return 0.0


def _accuracy_of(net, X, y) -> float:
    with np.errstate(all="ignore"):
        if net.is_classifier:
            pred = net.predict(X)
            truth = np.argmax(y, axis=1) if np.ndim(y) == 2 else y
            return float(np.mean(pred == truth))
        pred = net.predict(X).reshape(np.shape(y))
        var = float(np.var(y))
        value = 1 - float(np.mean((pred - y) ** 2)) / var if var > 0 else 0.0
        return value if math.isfinite(value) else -math.inf


def _max_rise(values) -> float:
    return max([b - a for a, b in zip(values, values[1:])] + [0.0])


def _oscillates(acc, threshold, rate) -> bool:
    """AUTOTRAINER's ol_judge: local maxima and minima at least ``threshold`` apart in at
    least ``rate`` of the epochs."""
    maxima = [acc[i] for i in range(1, len(acc) - 1) if acc[i] >= acc[i - 1] and acc[i] >= acc[i + 1]]
    minima = [acc[i] for i in range(1, len(acc) - 1) if acc[i] <= acc[i - 1] and acc[i] <= acc[i + 1]]
    count = sum(1 for a, b in zip(maxima, minima) if a - b >= threshold)
    return count >= rate * len(acc)


def run_autotrainer(case: Case, epochs: int = 20) -> dict:
    X, y = case_data(case)
    network = case.build()
    Xt, yt, Xv, yv = _split(X, y)
    yt_enc, yv_enc = network.encode_targets(yt), network.encode_targets(yv)
    probe = _AutoTrainerProbe(Xt, yt_enc, Xv, yv_enc, 32, epochs)
    start = time.perf_counter()
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            network.fit(Xt, yt_enc, epochs=epochs, callbacks=[probe], **_kw(case))
        except glassnet.DivergenceError:
            probe.features["nan"] = True
            probe.determine(None)
    return {"verdict": probe.issues[0] if probe.issues else HEALTHY, "issues": probe.issues,
            "seconds": time.perf_counter() - start}


# --- the table ------------------------------------------------------------------------------------

def score(rows: list, tool: str) -> dict:
    faults = [r for r in rows if r["cause"] != HEALTHY and tool in r]
    healthy = [r for r in rows if r["cause"] == HEALTHY and tool in r]

    def right(r):
        v = r[tool]["verdict"]
        if tool == "autotrainer":
            return r["cause"] in AT_CODES.get(v, ())
        return v == r["cause"]
    out = {"faults": len(faults), "healthy": len(healthy),
           "top1": sum(right(r) for r in faults),
           "detected": sum(r[tool]["verdict"] != HEALTHY for r in faults),
           "false_alarms": sum(r[tool]["verdict"] != HEALTHY for r in healthy)}
    if tool == "doctor":
        out["median_seconds"] = statistics.median(r[tool]["seconds"] for r in rows if tool in r)
    return out


def markdown(rows: list, scores: dict) -> str:
    lines = ["| scenario | from | when | true cause | glassnet doctor | AUTOTRAINER |",
             "| --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        doc = r["doctor"]["verdict"]
        mark = "" if doc == r["cause"] else " **(miss)**"
        at = r.get("autotrainer", {}).get("verdict", "-")
        when = "-" if r["cause"] == HEALTHY else r["when"]
        lines.append(f"| {r['name']} | {r['origin']} | {when} | {r['cause']} | "
                     f"{doc}{mark} | {at} |")
    lines.append("")
    lines.append("| tool | top-1 cause | detected | false alarms | median diagnose time |")
    lines.append("| --- | --- | --- | --- | --- |")
    for tool, label in (("doctor", "glassnet doctor"), ("autotrainer", "AUTOTRAINER (re-implemented)")):
        s = scores.get(tool)
        if not s:
            continue
        t = f"{1000 * s['median_seconds']:.0f} ms" if "median_seconds" in s else \
            "- (its rules read a 20-epoch run)"
        lines.append(f"| {label} | {s['top1']} / {s['faults']} | {s['detected']} / "
                     f"{s['faults']} | {s['false_alarms']} / {s['healthy']} | {t} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", type=int, default=None, metavar="N",
                        help="only the first N cases of each true cause, no AUTOTRAINER")
    parser.add_argument("--no-autotrainer", action="store_true")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the glassnet-built networks (default 0)")
    parser.add_argument("--json", default=None, metavar="PATH")
    args = parser.parse_args(argv)
    SEED[0] = args.seed
    try:
        from threadpoolctl import threadpool_info
        kernels = sorted({i.get("internal_api", "?") + ":" + str(i.get("architecture"))
                          for i in threadpool_info()})
        print(f"BLAS: {', '.join(kernels)}", file=sys.stderr)
    except ImportError:
        pass
    chosen, per_cause = [], {}
    for case in cases():
        per_cause[case.cause] = per_cause.get(case.cause, 0) + 1
        if args.only is None or per_cause[case.cause] <= args.only:
            chosen.append(case)
    rows = []
    for case in chosen:
        row = {"name": case.name, "cause": case.cause, "origin": case.origin,
               "when": case.when, "family": case.family, "doctor": run_doctor(case)}
        if not (args.no_autotrainer or args.only is not None):
            row["autotrainer"] = run_autotrainer(case)
        rows.append(row)
        print(f"{case.name:45s} {case.cause:24s} {row['doctor']['verdict']:24s} "
              f"{row.get('autotrainer', {}).get('verdict', '-')}", file=sys.stderr)
    scores = {"doctor": score(rows, "doctor")}
    if rows and "autotrainer" in rows[0]:
        scores["autotrainer"] = score(rows, "autotrainer")
    print(markdown(rows, scores))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"rows": rows, "scores": scores}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
