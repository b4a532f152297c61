"""The doctor names the root cause first: one test per class of wrong or missing verdict
(issue 14), each on a real network and real or generated data.

A consequence (a divergence caused by an exploding init, units that die because the
inputs are unscaled) is named in its root's message and kept in the report as "info" with
``evidence["caused_by"]``; the top finding is the root.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import glassnet
from glassnet.data import Standardizer
from glassnet.doctor import Monitor, diagnose
from glassnet.doctor.rules import thresholds as T


def _standardize(X):
    """Columns to mean 0, std 1 (a constant column only centred): glassnet's own scaling."""
    return Standardizer.fit(X).transform(X)


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits
    X, y = load_digits(return_X_y=True)
    return _standardize(X), X, y


@pytest.fixture(scope="module")
def diabetes():
    from sklearn.datasets import load_diabetes
    X, y = load_diabetes(return_X_y=True)
    return _standardize(X), y


def _top(report):
    serious = [f for f in report.findings if f.severity != "info"]
    return serious[0] if serious else None


def _consequence(report, code, root):
    (finding,) = report.get(code)
    assert finding.severity == "info" and finding.evidence["caused_by"] == root
    return finding


# 1. deep saturating networks: tiny gradients are not "exactly zero"; the signal check runs

@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
def test_deep_saturating_net_with_small_init_is_a_vanishing_signal(digits, activation):
    Xs, _, y = digits
    net = glassnet.Network([64] + [32] * 16 + [10], activation=activation,
                           init=("normal", {"std": 0.05}), seed=0)
    report = diagnose(net, Xs, y, steps=30)
    top = _top(report)
    assert top.code == "vanishing_signal" and top.severity == "error"
    assert top.layers == tuple(range(1, 17))
    factor = top.evidence["factor_per_layer"]
    stds = top.evidence["signal_std"]
    assert factor == pytest.approx((stds[-1] / stds[0]) ** (1 / 15))
    assert factor < T.VANISH_FACTOR and f"{factor:.3g}" in top.message
    # the early layers' gradients are tiny, not zero: nothing may say "exactly zero"
    start = report.layers[0]["start"]
    assert start["grad_norm"] > 0 and not start["grad_zero"]
    assert not any("exactly zero" in f.message for f in report.findings)
    for f in report.get("no_update"):
        assert f.severity == "info" and f.evidence["caused_by"] == "vanishing_signal"


# 2. an init that explodes the forward signal is the root; the divergence its consequence

def test_exploding_init_is_the_root_and_the_divergence_its_consequence(digits):
    Xs, _, y = digits
    net = glassnet.Network([64] + [64] * 5 + [10], activation="relu",
                           init=("normal", {"std": 1.0}), seed=0)
    report = diagnose(net, Xs, y)
    top = _top(report)
    assert top.code == "exploding_signal" and top.severity == "error"
    assert "divergence" in top.evidence["consequences"] and "divergence" in top.message
    assert 4.0 < top.evidence["factor_per_layer"] < 6.5
    assert "he_normal" in top.fix
    _consequence(report, "divergence", "exploding_signal")
    assert report.summary().startswith("exploding_signal: signal grows")


# 3. imported all-zero weights: no_update or symmetric_units, never the learning rate

@pytest.mark.parametrize("activation", ["relu", "logistic"])
@pytest.mark.parametrize("seed", [0, 1])
def test_sklearn_model_with_zero_coefs_is_a_zero_weights_fault(digits, activation, seed):
    from sklearn.neural_network import MLPClassifier
    Xs, _, y = digits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlp = MLPClassifier((32, 16), activation=activation, max_iter=5,
                            random_state=0).fit(Xs, y)
    for coef in mlp.coefs_:
        coef[...] = 0.0                     # the intercepts stay as trained
    report = diagnose(glassnet.from_sklearn(mlp), Xs, y, seed=seed)
    top = _top(report)
    assert top.code in ("no_update", "symmetric_units") and top.severity == "error"
    assert set(top.layers) == {1, 2}
    assert "learning_rate_too_high" not in report and not report.ok
    assert "all-zero weights" in top.message


def test_step_ratios_ignore_layers_whose_weights_start_at_zero(digits):
    # a good network whose output layer starts at zero (a common choice) is healthy:
    # its steps are huge relative to zero, which says nothing about the learning rate
    Xs, _, y = digits
    net = glassnet.Network([64, 32, 10], activation="relu", init="he_normal", seed=0)
    net.weights[1][...] = 0.0
    report = diagnose(net, Xs, y)
    assert report.ok, report.summary()


# 4. one all-zero layer in the middle: each stuck layer with its own reason

def test_a_zero_middle_layer_gives_each_stuck_layer_its_own_reason(digits):
    Xs, _, y = digits
    net = glassnet.Network([64, 32, 32, 32, 10], activation="relu", seed=0)
    net.weights[1][...] = 0.0
    report = diagnose(net, Xs, y, steps=30)
    top = _top(report)
    assert top.code == "no_update" and top.layers == (1, 2, 3)
    assert report.codes == ["no_update"]          # layer 2's copies are this cause too
    assert top.evidence["reasons"] == {"1": "no_error", "2": "no_error", "3": "zero_input",
                                       "4": "zero_input"}
    message = top.message
    assert "every weight above" not in message    # layer 3's weights above are not zero
    assert "no error reaches layer 1 from above: layer 2's weights are all zero" in message
    assert "layer 2 has all-zero weights itself" in message
    assert "layer 3 gets only zeros as input: layer 2's weights are all zero" in message
    assert "The output layer (layer 4) cannot move its weights either" in message and top.evidence["output_weights_frozen"]


# 5. regression targets on a large scale

def test_unscaled_regression_targets_are_named_with_their_mean_and_std(diabetes):
    Xs, y = diabetes
    target = 3 * (y - y.mean()) + 500                 # mean 500, std 231
    net = glassnet.Network([10, 32, 1], activation="relu", output="identity", seed=0)
    report = diagnose(net, Xs, target, optimizer="adam")
    top = _top(report)
    assert top.code == "unscaled_targets"
    assert top.evidence["target_mean"] == [pytest.approx(target.mean())]
    assert top.evidence["target_std"] == [pytest.approx(target.std())]
    assert f"mean {target.mean():.3g}, std {target.std():.3g}" in top.message
    assert "Standardize the targets" in top.fix and "GlassRegressor" in top.fix
    # the claim behind it: adam on the raw targets ends far below R^2 = 0, standardized
    # targets fit, and the doctor then finds nothing
    raw = net.copy()
    raw.fit(Xs, target, epochs=20, optimizer="adam")
    fitted = net.copy()
    ts = (target - target.mean()) / target.std()
    fitted.fit(Xs, ts, epochs=20, optimizer="adam")

    def r2(pred, t):
        return 1 - np.mean((pred.ravel() - t) ** 2) / np.var(t)
    assert r2(raw.predict(Xs), target) < -1 < 0.3 < r2(fitted.predict(Xs), ts)
    assert diagnose(net, Xs, ts, optimizer="adam").ok


def test_a_trained_regressor_on_large_targets_is_not_unscaled(diabetes):
    Xs, y = diabetes
    net = glassnet.Network([10, 16, 1], activation="relu", output="identity", seed=0)
    net.fit(Xs, (y - y.mean()) / y.std(), epochs=20, optimizer="adam")
    # the output layer takes the targets' scale: the network predicts raw targets now
    net.biases[1][...] = net.biases[1] * y.std() + y.mean()
    net.weights[1][...] *= y.std()
    assert "unscaled_targets" not in diagnose(net, Xs, y, optimizer="adam", steps=20)


# 6. integer class labels into a regression output

@pytest.mark.parametrize("seed", [0, 1])
def test_integer_labels_into_an_identity_output_are_labels_as_targets(digits, seed):
    Xs, _, y = digits
    net = glassnet.Network([64, 32, 1], activation="relu", output="identity", seed=seed)
    report = diagnose(net, Xs, y.astype(float), optimizer="adam", seed=seed)
    top = _top(report)
    assert top.code == "labels_as_targets"
    assert top.evidence["distinct_values"] == 10
    assert top.evidence["values"] == list(range(10))
    assert "softmax" in top.fix and "GlassClassifier" in top.fix
    assert "unscaled_targets" not in report
    # the same labels as classes: nothing to report
    assert diagnose(glassnet.Network([64, 32, 10], activation="relu", seed=seed), Xs, y).ok


# 7. inputs on a large scale are the top finding when they are the cause

@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_unscaled_inputs_are_the_top_finding_when_they_are_the_cause(digits, activation):
    Xs, _, y = digits
    net = glassnet.Network([64, 32, 10], activation=activation, seed=0)
    report = diagnose(net, Xs * 100 + 50, y, steps=50)
    top = _top(report)
    assert top.code == "unscaled_inputs"
    assert top.evidence["consequences"]        # saturated units (tanh), large logits (relu)
    for code in top.evidence["consequences"]:
        assert code in top.message
        assert all(f.severity == "info" for f in report.get(code))
    assert "Standardize each feature" in top.fix


# 8. units that die because of a problem upstream are not blamed on the learning rate

def test_units_killed_by_unscaled_inputs_are_not_blamed_on_the_learning_rate(digits):
    _, X, y = digits                                  # raw pixels 0..16
    report = diagnose(glassnet.Network([64, 32, 10], activation="relu", seed=0), X, y,
                      learning_rate=0.05)
    top = _top(report)
    assert top.code == "unscaled_inputs"
    dead = _consequence(report, "dead_units", "unscaled_inputs")
    assert dead.evidence["when"] == "run"
    assert report.get("learning_rate_too_high")[0].severity == "info"
    # on standardized pixels the same learning rate kills nothing
    assert diagnose(glassnet.Network([64, 32, 10], activation="relu", seed=0),
                    _standardize(X), y, learning_rate=0.05).ok


# 9. overfitting

@pytest.fixture(scope="module")
def noisy_digits():
    """400 digits / 16 with 30% of the labels replaced at random: easy to overfit."""
    from sklearn.datasets import load_digits
    X, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(0)
    rows = rng.permutation(len(y))[:400]
    X, y = X[rows] / 16.0, y[rows].copy()
    flip = rng.random(len(y)) < 0.3
    y[flip] = rng.integers(0, 10, int(flip.sum()))
    return X, y


def test_monitor_with_validation_data_sees_overfitting(noisy_digits):
    X, y = noisy_digits
    net = glassnet.Network([64, 128, 10], activation="relu", seed=0)
    monitor = Monitor()
    history = net.fit(X[:300], y[:300], epochs=30, optimizer="adam", learning_rate=0.01,
                      validation_data=(X[300:], y[300:]), callbacks=[monitor])
    report = monitor.report()
    top = _top(report)
    assert top.code == "overfitting" and top.severity == "warning"
    val, train = history["val_loss"], history["loss"]
    best = int(np.argmin(val))
    assert top.evidence["best_epoch"] == best + 1
    assert top.evidence["gap"] == pytest.approx(val[-1] - train[-1])
    assert top.evidence["val_rise"] > T.OVERFIT_RISE
    assert "early_stopping=True, restore_best=True" in top.fix and "alpha" in top.fix
    # early stopping that restores the best epoch keeps no overfitted weights
    net = glassnet.Network([64, 128, 10], activation="relu", seed=0)
    monitor = Monitor()
    net.fit(X[:300], y[:300], epochs=30, optimizer="adam", learning_rate=0.01,
            validation_data=(X[300:], y[300:]), early_stopping=True, patience=5,
            callbacks=[monitor])
    assert "overfitting" not in monitor.report()
    # ... and early stopping that keeps the last epoch's weights does not
    net = glassnet.Network([64, 128, 10], activation="relu", seed=0)
    monitor = Monitor()
    history = net.fit(X[:300], y[:300], epochs=30, optimizer="adam", learning_rate=0.01,
                      validation_data=(X[300:], y[300:]), early_stopping=True, patience=12,
                      restore_best=False, callbacks=[monitor])
    (finding,) = monitor.report().get("overfitting")
    assert finding.evidence["kept_epoch"] == len(history) == finding.evidence["best_epoch"] + 12


def test_glassnet_doctor_sees_overfitting_in_a_model_from_glassnet_train(noisy_digits,
                                                                          tmp_path, capsys):
    import json

    import pandas as pd

    from glassnet.cli import main
    X, y = noisy_digits
    frame = pd.DataFrame(X, columns=[f"p{i}" for i in range(64)])
    frame["digit"] = y
    frame.to_csv(tmp_path / "noisy.csv", index=False)
    model = tmp_path / "m.glassnet"
    args = ["train", str(tmp_path / "noisy.csv"), "--target", "digit", "--layers", "128",
            "--epochs", "30", "--learning-rate", "0.01", "-q", "-o", str(model)]
    if "--no-early-stopping" in _train_options():
        args.append("--no-early-stopping")    # every epoch's weights, the last one kept
    assert main(args) == 0
    stored = glassnet.load(model).metadata["training"]["history"]
    assert len(stored["loss"]) == len(stored["val_loss"]) == 30
    capsys.readouterr()
    assert main(["doctor", str(model), str(tmp_path / "noisy.csv"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["summary"].startswith("overfitting: ")
    (finding,) = [f for f in report["findings"] if f["code"] == "overfitting"]
    assert finding["evidence"]["best_epoch"] == int(np.argmin(stored["val_loss"])) + 1
    assert finding["evidence"]["epochs"] == 30


def _train_options() -> set:
    import argparse

    from glassnet.cli import train
    parser = argparse.ArgumentParser()
    train.configure(parser)
    return {opt for action in parser._actions for opt in action.option_strings}


# --- the ranking itself -----------------------------------------------------------------------

def test_every_message_number_comes_from_the_thresholds(digits):
    Xs, _, y = digits
    with pytest.warns(glassnet.SymmetryWarning):
        net = glassnet.Network([64, 256, 10], activation="tanh",
                               init=("constant", {"value": 0.5}), seed=0)
    report = diagnose(net, Xs, y, steps=20)
    (finding,) = [f for f in report.findings if f.code == "saturated_units"]
    assert f"under {T.pct(T.SATURATION_SLOPE)} of its peak" in finding.message
    assert T.pct(0.1) == "10%" and T.pct(0.025) == "2.5%"


def test_rules_run_in_their_declared_order_and_see_only_earlier_findings():
    from glassnet.doctor import rules
    assert rules.RULES[0] is rules.steps.broken_parameters
    assert rules.RULES[-1] is rules.fit.overfitting
    assert len(set(rules.RULES)) == len(rules.RULES)
    for consequence, roots in rules.CAUSES.items():
        for code, _ in roots:
            assert code != consequence


def test_healthy_deep_networks_have_no_vanishing_error(digits):
    Xs, _, y = digits
    for activation in ("relu", "tanh", "sigmoid"):
        net = glassnet.Network([64, 32, 32, 32, 10], activation=activation, seed=0)
        report = diagnose(net, Xs, y, optimizer="adam", steps=50)
        assert report.ok, (activation, report.summary())
    assert math.isfinite(T.VANISH_TOTAL)
