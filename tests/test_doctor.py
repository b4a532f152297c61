"""The training doctor: each failure named by its cause, healthy networks left alone.

Real data throughout (scikit-learn's digits and breast cancer), real probe runs, exact
expectations on codes, layers and the numbers behind them.
"""
from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest

import glassnet
from glassnet import GlassnetError, SymmetryWarning
from glassnet.data import Standardizer
from glassnet.doctor import CODES, Finding, Monitor, Report, diagnose, distinct_units
from glassnet.doctor.stats import measure


def _standardize(X):
    """Columns to mean 0, std 1 (a constant column only centred): glassnet's own scaling."""
    return Standardizer.fit(X).transform(X)


@pytest.fixture(scope="module")
def digits():
    """(X standardized, X / 16, X raw, y) for the 1797 8x8 digits."""
    from sklearn.datasets import load_digits
    X, y = load_digits(return_X_y=True)
    return _standardize(X), X / 16.0, X, y


@pytest.fixture(scope="module")
def cancer():
    from sklearn.datasets import load_breast_cancer
    X, y = load_breast_cancer(return_X_y=True)
    return _standardize(X), y


def _net(sizes, symmetric=False, **kw):
    if symmetric:
        with pytest.warns(SymmetryWarning):
            return glassnet.Network(sizes, **kw)
    return glassnet.Network(sizes, **kw)


def _serious(report):
    return [f for f in report.findings if f.severity in ("error", "warning")]


# --- the cases the issue names ----------------------------------------------------------------

@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_zero_init_is_no_update_from_zero_weights_not_dead_units(digits, activation):
    Xs, _, _, y = digits
    net = _net([64, 32, 32, 10], symmetric=True, activation=activation, init="zeros", seed=0)
    report = diagnose(net, Xs, y)
    assert report.codes == ["no_update"]          # not dead_units, not symmetric_units
    (finding,) = report.findings
    assert finding.severity == "error" and finding.layers == (1, 2)
    assert "every weight above them is zero" in finding.message
    assert finding.evidence["zero_weight_layers"] == [2, 3]
    assert finding.evidence["grad_norm"] == [0.0, 0.0]
    assert finding.evidence["weight_change"] == [0.0, 0.0]
    assert finding.evidence["output_weights_frozen"] is True   # tanh(0) = relu(0) = 0
    assert "he_normal" in finding.fix or "xavier_uniform" in finding.fix
    assert report.summary() == "no_update: layers 1, 2 never move (all weights above are zero)"
    assert not report.ok


def test_zero_init_relu_mentions_the_slope_but_blames_the_weights(digits):
    Xs, _, _, y = digits
    net = _net([64, 16, 10], symmetric=True, activation="relu", init="zeros", seed=0)
    (finding,) = diagnose(net, Xs, y, steps=20).findings
    assert finding.code == "no_update" and finding.layers == (1,)
    assert "not dying" in finding.message and "init='he_normal' for relu" in finding.fix


def test_zero_init_sigmoid_moves_but_stays_one_unit_per_layer(digits):
    Xs, _, _, y = digits
    net = _net([64, 32, 32, 10], symmetric=True, activation="sigmoid", init="zeros", seed=0)
    report = diagnose(net, Xs, y)
    assert report.codes == ["symmetric_units"]
    (finding,) = report.findings
    assert finding.severity == "error" and finding.layers == (1, 2)
    assert finding.evidence["distinct_units"] == [1, 1]
    assert finding.evidence["units"] == [32, 32]
    assert finding.evidence["weights_moved"] is True
    assert "no_update" not in report


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_constant_init_001_gives_symmetric_units(digits, activation):
    Xs, _, _, y = digits
    net = _net([64, 24, 16, 10], symmetric=True, activation=activation,
               init=("constant", {"value": 0.01}), seed=0)
    report = diagnose(net, Xs, y, steps=50)
    assert report.codes == ["symmetric_units"]
    assert report.findings[0].layers == (1, 2)
    assert report.findings[0].evidence["distinct_units"] == [1, 1]


@pytest.mark.parametrize("scaled", ["standardized", "divided by 16"])
def test_constant_05_on_a_wide_tanh_layer_saturates_and_is_symmetric(digits, scaled):
    Xs, X16, _, y = digits
    net = _net([64, 256, 10], symmetric=True, activation="tanh",
               init=("constant", {"value": 0.5}), seed=0)
    report = diagnose(net, Xs if scaled == "standardized" else X16, y, steps=30)
    assert set(report.codes) == {"saturated_units", "symmetric_units"}
    saturated = report.get("saturated_units")[0]
    assert saturated.layers == (1,) and saturated.evidence["saturated_units"] == [256]
    assert saturated.evidence["gain"] == [pytest.approx(0.5 * 8.0)]   # 0.5 * sqrt(64)
    assert "too large for the fan-in" in saturated.message
    assert report.get("symmetric_units")[0].evidence["distinct_units"] == [1]


def test_the_hand_written_neuro_is_diagnosed_with_its_own_step(digits):
    """The blog post's network: every layer tanh (the output too) on squared error, all
    weights 0.5.  Its gradient is not zero but ~1e-19 (tanh's slope at |z| ~ 10): the cause
    is saturation, output layer included, and symmetry; not a mysterious no_update."""
    _, X16, _, y = digits
    with pytest.warns(SymmetryWarning):
        neuro = glassnet.Neuro([64, 32, 10], 0.5, "tanh", init="constant", seed=0)
    report = diagnose(neuro, X16, y)
    assert report.context["learning_rate"] == 0.5 and report.context["optimizer"] == "sgd"
    assert set(report.codes) == {"symmetric_units", "saturated_units"}
    saturated = report.get("saturated_units")[0]
    assert saturated.layers == (1, 2) and saturated.evidence["saturated_units"] == [32, 10]
    assert saturated.evidence["gain"][0] == pytest.approx(0.5 * 8.0)
    with pytest.warns(SymmetryWarning):
        zeros = glassnet.Neuro([64, 32, 10], 0.5, "relu", init="zeros", seed=0)
    assert diagnose(zeros, X16, y).summary() == \
        "no_update: layer 1 never moves (all weights above are zero)"
    assert diagnose(glassnet.Neuro([64, 32, 10], 0.5, "tanh", seed=0), X16, y).ok


def test_output_saturation_counts_only_where_the_loss_feels_it(digits):
    _, X16, _, y = digits
    Y = np.eye(10)[y]
    for output, loss, counted in (("sigmoid", "squared_error", True),
                                  ("sigmoid", "binary_cross_entropy", False)):
        net = glassnet.Network([64, 32, 10], activation="relu", output=output, loss=loss,
                               seed=0)
        net.weights[1][...] *= 30
        out = measure(net, X16[:300], Y[:300]).layers[-1]
        z = net.trace(X16[:300]).pre[-1]
        sig = 1 / (1 + np.exp(-z))
        flat_units = int(np.sum(np.mean(sig * (1 - sig) < 0.1 * 0.25, axis=0) >= 0.5))
        assert flat_units >= 5
        assert out.saturated_units == (flat_units if counted else 0)


def test_deep_tanh_with_torch_default_init_has_a_vanishing_signal(digits):
    Xs, _, _, y = digits
    net = glassnet.Network([64] + [64] * 10 + [10], activation="tanh", init="torch_linear",
                           seed=0)
    report = diagnose(net, Xs, y, steps=20)
    assert report.codes == ["vanishing_signal"]
    (finding,) = report.findings
    assert finding.layers == tuple(range(1, 11))
    factor = finding.evidence["factor_per_layer"]
    # U(-1/sqrt(n), 1/sqrt(n)) has gain sqrt(n * 1/(3n)) = 1/sqrt(3) = 0.577 per layer
    assert factor == pytest.approx(1 / math.sqrt(3), abs=0.03)
    assert f"{factor:.3g}" in finding.message and f"{factor:.3g}" in report.summary()
    stds = finding.evidence["signal_std"]
    assert finding.evidence["total_ratio"] == pytest.approx(stds[-1] / stds[0])
    assert finding.evidence["gain"] == [pytest.approx(1 / math.sqrt(3), rel=0.05)] * 9


def test_deep_relu_with_xavier_init_has_a_vanishing_signal(digits):
    Xs, _, _, y = digits
    net = glassnet.Network([64] + [64] * 30 + [10], activation="relu", init="xavier_uniform",
                           seed=0)
    report = diagnose(net, Xs, y, steps=20)
    assert "vanishing_signal" in report.codes
    assert "dead_units" not in report         # deep units dying is the vanishing, not a cause
    finding = report.get("vanishing_signal")[0]
    assert finding.layers == tuple(range(1, 31)) and finding.severity == "error"
    assert 0.6 < finding.evidence["factor_per_layer"] < 0.75   # theory: 1 / sqrt(2) = 0.707
    assert "relu needs about 1.41" in finding.message


def test_learning_rate_10_on_digits_names_the_step(digits):
    Xs, _, _, y = digits
    report = diagnose(glassnet.Network([64, 32, 10], activation="relu", seed=0), Xs, y,
                      learning_rate=10)
    found = report.get("divergence") + report.get("learning_rate_too_high")
    assert found and found[0].severity == "error"
    step = found[0].evidence["step"]
    assert isinstance(step, int) and 1 <= step <= 10
    assert f"step {step}" in found[0].message
    assert found[0].evidence["learning_rate"] == 10.0 and "try 1" in found[0].fix


def test_a_loss_that_overflows_is_divergence_at_its_step(digits):
    Xs, _, _, y = digits
    net = glassnet.Network([64, 32, 10], activation="relu", output="identity", seed=0)
    report = diagnose(net, Xs, np.eye(10)[y], learning_rate=50)
    finding = report.get("divergence")[0]
    assert finding.severity == "error" and finding.evidence["step"] == 5
    assert "at step 5" in finding.message
    assert report.summary().startswith("divergence: the loss became NaN/inf at step 5")


def test_relu_layer_with_biases_minus_5_has_dead_units(digits):
    Xs, X16, _, y = digits
    net = glassnet.Network([64, 32, 32, 10], activation="relu", seed=0)
    net.biases[0][...] = -5.0
    for X in (Xs, X16):
        report = diagnose(net, X, y, steps=30)
        assert report.codes == ["dead_units"]
        (finding,) = report.findings
        assert finding.layers == (1,) and finding.severity == "error"
        assert finding.evidence["bias_mean"] == [-5.0]
        assert finding.evidence["inactive_fraction"][0] >= 0.9
        assert "biases" in finding.message and "bias_init" in finding.fix
    # with inputs in [0, 1] no unit ever fires: layer 2 above it gets only zeros, and so
    # does the output layer (layer 2's relu(0) = 0): both are frozen, both are named
    assert finding.evidence["dead_units"] == [32]
    assert finding.evidence["blocked_layers"] == [2, 3]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_healthy_networks_get_no_warning_or_error(digits, cancer, seed):
    Xs, X16, _, y = digits
    Xc, yc = cancer
    cases = [
        (glassnet.Network([64, 32, 10], activation="relu", init="he_normal", seed=seed), Xs, y),
        (glassnet.Network([64, 64, 32, 10], activation="relu", init="he_normal", seed=seed),
         X16, y),
        (glassnet.Network([64, 32, 32, 10], activation="tanh", init="xavier_uniform",
                          seed=seed), Xs, y),
        (glassnet.Network([64, 32, 10], activation="tanh", init="xavier_uniform", seed=seed),
         X16, y),
        (glassnet.Network([30, 16, 16, 2], activation="relu", init="he_normal", seed=seed),
         Xc, yc),
        (glassnet.Network([30, 16, 1], activation="tanh", init="xavier_uniform", seed=seed),
         Xc, yc),
    ]
    for net, X, labels in cases:
        report = diagnose(net, X, labels, seed=seed, steps=60)
        assert _serious(report) == [], (net, report.summary())
        assert report.ok and report.summary() == "healthy"
        # and the probe did train: the loss fell
        assert report.context["end_loss"] < report.context["start_loss"]


@pytest.mark.parametrize("activation", [a for a in glassnet.activations.NAMES
                                        if a not in glassnet.activations.OUTPUT_ONLY])
def test_every_activation_with_its_default_init_is_healthy(cancer, activation):
    """Registry-driven: a new activation gets its false-alarm check without a new test."""
    from sklearn.datasets import load_diabetes
    Xc, yc = cancer
    X, y = load_diabetes(return_X_y=True)
    cases = [(glassnet.Network([30, 32, 16, 2], activation=activation, seed=1), Xc, yc, "sgd"),
             (glassnet.Network([30, 32, 16, 1], activation=activation, seed=1), Xc, yc, "adam"),
             (glassnet.Network([10, 32, 16, 1], activation=activation, output="identity",
                               seed=0), _standardize(X), (y - y.mean()) / y.std(), "momentum")]
    for net, X_, y_, optimizer in cases:
        report = diagnose(net, X_, y_, optimizer=optimizer, steps=60)
        assert report.ok, (net, optimizer, report.summary())
        assert report.context["end_loss"] < report.context["start_loss"]


def test_healthy_adam_run_is_healthy(cancer):
    Xc, yc = cancer
    net = glassnet.Network([30, 32, 2], activation="relu", seed=3)
    report = diagnose(net, Xc, yc, optimizer="adam")
    assert report.ok and report.context["optimizer"] == "adam"
    assert report.context["learning_rate"] == pytest.approx(1e-3)


# --- the other codes --------------------------------------------------------------------------

def test_tiny_learning_rate_is_too_low(digits):
    Xs, _, _, y = digits
    report = diagnose(glassnet.Network([64, 32, 10], activation="relu", seed=0), Xs, y,
                      learning_rate=1e-6)
    assert report.codes == ["learning_rate_too_low"]
    (finding,) = report.findings
    assert finding.severity == "warning"
    assert finding.evidence["update_ratio"] < 1e-5
    assert finding.evidence["loss_progress"] < 0.01


def test_raw_digits_are_unscaled_inputs_with_column_names(digits):
    import pandas as pd
    _, _, X, y = digits
    frame = pd.DataFrame(X, columns=[f"pixel_{i}" for i in range(64)])
    report = diagnose(glassnet.Network([64, 32, 10], activation="relu", seed=0), frame, y,
                      steps=20)
    finding = report.get("unscaled_inputs")[0]
    assert finding.severity == "warning"
    top = int(np.argmax(np.sqrt(X.mean(0) ** 2 + X.std(0) ** 2)))
    assert finding.evidence["columns"][0] == f"pixel_{top}"
    assert finding.evidence["mean"][0] == pytest.approx(X[:, top].mean())
    assert finding.evidence["n_unscaled"] == int(np.sum(np.sqrt(X.mean(0) ** 2 + X.std(0) ** 2)
                                                        > 5))
    assert "initial_loss_off" in report.codes      # the unscaled inputs blow up the logits
    assert "unscaled inputs" in report.get("initial_loss_off")[0].message


def test_a_too_large_output_layer_gives_initial_loss_off(digits):
    Xs, _, _, y = digits
    net = glassnet.Network([64, 32, 10], activation="relu", seed=0)
    net.weights[1][...] *= 20
    report = diagnose(net, Xs, y, steps=0)
    assert report.codes == ["initial_loss_off"]
    finding = report.findings[0]
    assert finding.layers == (2,)
    assert finding.evidence["uninformed_loss"] == pytest.approx(math.log(10))
    assert finding.evidence["start_loss"] > 10
    assert "ln 10" in finding.message


def test_regression_targets_far_from_zero_give_initial_loss_off():
    from sklearn.datasets import load_diabetes
    X, y = load_diabetes(return_X_y=True)
    net = glassnet.Network([10, 16, 1], activation="relu", output="identity", seed=0)
    report = diagnose(net, _standardize(X), y, steps=0)
    finding = report.get("initial_loss_off")[0]
    assert finding.evidence["target_mean"] == [pytest.approx(y.mean())]
    assert finding.evidence["uninformed_loss"] == pytest.approx(0.5 * y.var(), rel=0.2)
    assert "Standardize the targets" in finding.fix
    healthy = diagnose(net, _standardize(X), (y - y.mean()) / y.std())
    assert healthy.ok


@pytest.mark.parametrize("activation,code", [("tanh", "learning_rate_too_high"),
                                             ("relu", "divergence")])
def test_steps_blown_up_by_unscaled_targets_have_the_targets_as_their_root(activation, code):
    # the root cause is the targets' scale; the blown-up steps are its consequence
    from sklearn.datasets import load_diabetes
    X, y = load_diabetes(return_X_y=True)              # targets: mean 152, std 77
    net = glassnet.Network([10, 16, 1], activation=activation, output="identity", seed=0)
    report = diagnose(net, _standardize(X), y)
    root = report.findings[0]
    assert root.code == "unscaled_targets" and root.severity == "error"
    assert root.evidence["target_mean"] == [pytest.approx(y.mean())]
    assert f"mean {y.mean():.3g}, std {y.std():.3g}" in root.message
    assert code in root.evidence["consequences"] and code in root.message
    assert root.fix.startswith("Standardize the targets")
    consequence = report.get(code)[0]
    assert consequence.severity == "info"
    assert consequence.evidence["caused_by"] == "unscaled_targets"
    assert "initial_loss_off" in report and "unscaled_inputs" not in report
    # standardized targets: the same network and learning rate are fine
    assert diagnose(net, _standardize(X), (y - y.mean()) / y.std()).ok


@pytest.mark.parametrize("activation,seed", [("elu", 0), ("identity", 0)])
def test_default_init_regressors_on_standardized_targets_are_not_off(activation, seed):
    # fan-scaled outputs of std ~1-2 can score 4x the mean's loss by chance (elu seed 0:
    # 2.05 vs 0.5; identity seed 0: 3.2 vs 0.5): that is no initialization fault
    from sklearn.datasets import load_diabetes
    X, y = load_diabetes(return_X_y=True)
    Xs, ys = _standardize(X), (y - y.mean()) / y.std()
    net = glassnet.Network([10, 32, 16, 1], activation=activation, output="identity", seed=seed)
    assert net.loss_value(Xs, ys) > 4 * 0.5 * ys.var()       # the loss alone would trip it
    report = diagnose(net, Xs, ys, steps=30)
    assert "initial_loss_off" not in report and report.ok, report.summary()


def test_regression_outputs_far_wider_than_the_targets_give_initial_loss_off():
    from sklearn.datasets import load_diabetes
    X, y = load_diabetes(return_X_y=True)
    Xs, ys = _standardize(X), (y - y.mean()) / y.std()
    net = glassnet.Network([10, 16, 1], activation="relu", output="identity", seed=0)
    net.weights[1][...] *= 20
    report = diagnose(net, Xs, ys, steps=0)
    (finding,) = report.get("initial_loss_off")
    out_std = float(net.forward(Xs).std())
    assert finding.evidence["output_std"] == pytest.approx(out_std, rel=0.05)
    assert out_std > 3
    assert finding.evidence["uninformed_loss"] == pytest.approx(0.5, rel=1e-6)
    assert "outputs spread" in finding.message and "xavier_uniform" in finding.fix
    assert "Standardize the targets" not in finding.fix


def test_large_random_init_is_an_exploding_signal(digits):
    Xs, _, _, y = digits
    net = glassnet.Network([64] + [64] * 5 + [10], activation="relu",
                           init=("normal", {"std": 1.0}), seed=0)
    report = diagnose(net, Xs, y, steps=0)
    finding = report.get("exploding_signal")[0]
    assert finding.layers == (1, 2, 3, 4, 5)
    # N(0, 1) weights over 64 inputs: gain 8, and relu halves the power: 8 / sqrt(2) = 5.66
    assert 4.0 < finding.evidence["factor_per_layer"] < 6.5
    assert diagnose(net, Xs, y).get("divergence")    # and SGD on it blows up


def test_parameters_already_nan_are_divergence(digits):
    Xs, _, _, y = digits
    net = glassnet.Network([64, 8, 10], seed=0)
    net.params[3] = np.nan
    report = diagnose(net, Xs, y)
    assert report.codes == ["divergence"] and "already" in report.findings[0].message


# --- the contract -----------------------------------------------------------------------------

def test_the_users_network_is_bit_identical_afterwards(digits):
    Xs, _, _, y = digits
    for lr in (0.01, 10.0):
        net = glassnet.Network([64, 32, 10], activation="relu", seed=5)
        params, grads = net.params.copy(), net.grads.copy()
        state = net.rng.bit_generator.state
        diagnose(net, Xs, y, learning_rate=lr)
        assert np.array_equal(net.params, params) and np.array_equal(net.grads, grads)
        assert net.rng.bit_generator.state == state
        # and it trains exactly as an untouched twin does
        twin = glassnet.Network([64, 32, 10], activation="relu", seed=5)
        net.fit(Xs, y, epochs=1)
        twin.fit(Xs, y, epochs=1)
        assert np.array_equal(net.params, twin.params)


def test_a_fitted_glass_estimator_is_diagnosed_as_it_trains():
    """diagnose(clf, X, y): the estimator's network, on X standardized as the estimator
    does it, with its labels and its optimizer; the estimator itself is left alone."""
    import pandas as pd
    from sklearn.datasets import load_breast_cancer
    from sklearn.metrics import log_loss

    from glassnet.sklearn import GlassClassifier
    data = load_breast_cancer()
    frame = pd.DataFrame(data.data, columns=list(data.feature_names))
    labels = np.where(data.target == 1, "benign", "malignant")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")             # ConvergenceWarning after 30 epochs
        clf = GlassClassifier((16,), max_iter=30, random_state=0).fit(frame, labels)
        raw = GlassClassifier((16,), max_iter=30, random_state=0,
                              standardize=False).fit(frame, labels)
    params = clf.network_.params.copy()
    report = diagnose(clf, frame, labels, steps=0, probe_size=len(frame))
    assert report.ok, report.summary()
    assert report.context["start_loss"] == pytest.approx(
        log_loss(labels, clf.predict_proba(frame)), rel=1e-9)
    assert report.context["network"].startswith("GlassClassifier (network_ = Network([30, 16, 1]")
    probe = diagnose(clf, frame, labels, steps=20)
    assert probe.context["optimizer"] == "adam"
    assert probe.context["learning_rate"] == pytest.approx(1e-3)
    assert np.array_equal(clf.network_.params, params)
    # without the estimator's scaling the raw features reach the network: named
    unscaled = diagnose(raw, frame, labels, steps=0).get("unscaled_inputs")[0]
    assert unscaled.evidence["columns"][0] == "worst area"
    with pytest.raises(GlassnetError, match="not fitted yet"):
        diagnose(GlassClassifier(), frame, labels)


def test_lsuv_finishes_with_its_own_settings_in_diagnose_and_fit(digits):
    """init=("lsuv", {"margin": 10}) accepts any variance in 1 +- 10: the orthogonal draw
    stays as it is.  The default margin (0.02) rescales it."""
    Xs, _, _, y = digits
    wide = glassnet.Network([64, 32, 10], activation="tanh", init=("lsuv", {"margin": 10.0}),
                            seed=0)
    drawn = np.linalg.norm(wide.weights[0])
    assert diagnose(wide, Xs, y, steps=0).layers[0]["start"]["weight_norm"] == \
        pytest.approx(drawn, rel=1e-12)
    default = glassnet.Network([64, 32, 10], activation="tanh", init="lsuv", seed=0)
    rescaled = diagnose(default, Xs, y, steps=0).layers[0]["start"]["weight_norm"]
    assert abs(rescaled / drawn - 1) > 0.05
    before = wide.weights[0].copy()
    wide.fit(Xs, y, epochs=0)
    assert np.array_equal(wide.weights[0], before)


def test_the_same_seed_gives_the_same_report(digits):
    Xs, _, _, y = digits
    net = glassnet.Network([64, 16, 10], activation="tanh", seed=0)
    a = diagnose(net, Xs, y, seed=7, steps=30).to_dict()
    b = diagnose(net, Xs, y, seed=7, steps=30).to_dict()
    assert a == b
    c = diagnose(net, Xs, y, seed=8, steps=30).to_dict()
    assert a["context"]["loss_curve"] != c["context"]["loss_curve"]


def test_float32_networks_are_diagnosed_the_same_way(digits):
    Xs, _, _, y = digits
    net = _net([64, 32, 32, 10], symmetric=True, activation="tanh", init="zeros", seed=0,
               dtype="float32")
    assert diagnose(net, Xs, y, steps=20).codes == ["no_update"]
    assert diagnose(glassnet.Network([64, 32, 10], seed=0, dtype="float32"), Xs, y).ok


def test_bad_arguments_are_glassnet_errors(digits):
    Xs, _, _, y = digits
    net = glassnet.Network([64, 8, 10], seed=0)
    with pytest.raises(GlassnetError, match="glassnet Network"):
        diagnose("not a network", Xs, y)
    with pytest.raises(GlassnetError, match="steps must be >= 0"):
        diagnose(net, Xs, y, steps=-1)
    with pytest.raises(GlassnetError, match="batch_size"):
        diagnose(net, Xs, y, batch_size=0)
    with pytest.raises(GlassnetError, match="65 features"):
        diagnose(net, np.hstack([Xs, Xs[:, :1]]), y)
    with pytest.raises(GlassnetError, match="feature_names has 2 names"):
        diagnose(net, Xs, y, feature_names=["a", "b"])
    with pytest.raises(GlassnetError, match="optimizer"):
        diagnose(net, Xs, y, optimizer="nope")


# --- the report -------------------------------------------------------------------------------

def test_report_to_dict_is_json_and_str_and_rich_are_readable(digits):
    from rich.console import Console
    Xs, _, _, y = digits
    net = _net([64, 32, 32, 10], symmetric=True, activation="tanh", init="zeros", seed=0)
    report = diagnose(net, Xs, y, steps=20)
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert data["ok"] is False and data["summary"] == report.summary()
    assert [f["code"] for f in data["findings"]] == ["no_update"]
    assert data["findings"][0]["layers"] == [1, 2]
    assert data["layers"][0]["start"]["distinct_units"] == 1
    assert data["context"]["steps"] == 20
    text = str(report)
    assert "ERROR no_update (layers 1, 2)" in text and "fix:" in text and "numbers:" in text
    console = Console(record=True, width=120)
    console.print(report)
    rendered = console.export_text()
    assert "no_update" in rendered and "Findings" in rendered and "Layers" in rendered


def test_a_healthy_report_serializes_too(cancer):
    Xc, yc = cancer
    report = diagnose(glassnet.Network([30, 8, 2], seed=0), Xc, yc, steps=10)
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert data == {**data, "ok": True, "summary": "healthy", "findings": []}
    assert "verdict: healthy" in str(report)


def test_findings_check_their_vocabulary():
    with pytest.raises(GlassnetError, match="finding code"):
        Finding("dying_relu", "error", (1,), "m", "f")
    with pytest.raises(GlassnetError, match="finding severity"):
        Finding("no_update", "fatal", (1,), "m", "f")
    f = Finding("dead_units", "warning", [np.int64(2)], "m", "f", {"x": np.float32(0.5),
                                                                  "y": np.array([1, 2])})
    assert f.layers == (2,) and f.evidence == {"x": 0.5, "y": [1, 2]}
    report = Report([Finding("unscaled_inputs", "info", (), "m", "f"), f])
    assert report.codes == ["dead_units", "unscaled_inputs"]    # severity first
    assert report.ok is False and Report([]).summary() == "healthy"
    assert len(CODES) == 14


# --- the measurements -------------------------------------------------------------------------

@pytest.mark.parametrize("output,loss", [("softmax", "cross_entropy"),
                                         ("sigmoid", "squared_error"),
                                         ("identity", "squared_error")])
def test_the_doctors_backward_pass_matches_finite_differences(central_diff, rel_error, output,
                                                              loss):
    rng = np.random.default_rng(0)
    net = glassnet.Network([5, 4, 3, 3], activation="tanh", output=output, loss=loss, seed=1)
    X = rng.normal(size=(7, 5))
    Y = net.encode_targets(rng.integers(0, 3, 7)) if output == "softmax" else \
        rng.uniform(size=(7, 3))
    grads = net.trace(X, Y).grad_w          # the backward pass the doctor reads
    for l in range(3):
        def f(w, l=l):
            saved = net.weights[l].copy()
            net.weights[l] = w
            value = net.loss_value(X, Y)
            net.weights[l] = saved
            return value
        assert rel_error(grads[l], central_diff(f, net.weights[l].copy())) < 1e-6
        assert np.allclose(grads[l], net.backward(X, Y).weights[l], atol=1e-12)


def test_measure_counts_dead_saturated_and_distinct_units():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 6))
    net = glassnet.Network([6, 4, 4, 2], activation=["relu", "tanh"], seed=0)
    net.biases[0][:2] = -100.0                    # units 1, 2 of layer 1: never active
    net.weights[1][:, :3] = 50.0                  # layer 2 units 1-3: identical and huge
    net.biases[1][:3] = 0.0
    snap = measure(net, X, net.encode_targets(rng.integers(0, 2, 200)))
    first, second = snap.layers[0], snap.layers[1]
    assert first.dead_units == 2 and first.inactive_units == 2 and first.units == 4
    assert second.distinct_units == 2            # three copies count once, plus one more
    assert second.saturated_units == 3
    assert snap.layers[2].kind == "output" and snap.layers[2].saturated_units == 0
    assert first.active_rate == pytest.approx(np.mean(net.trace(X).post[0] > 0))


def test_distinct_units_counts_identical_columns_once():
    rng = np.random.default_rng(0)
    W = rng.normal(size=(10, 50))
    b = rng.normal(size=50)
    assert distinct_units(W, b) == 50
    W2 = np.repeat(W[:, :5], 10, axis=1)          # 5 units, each 10 times
    assert distinct_units(W2, np.repeat(b[:5], 10)) == 5
    assert distinct_units(W2 + 1e-12, np.repeat(b[:5], 10)) == 5   # rounding noise: the same
    noisy = W2 + 1e-3 * rng.normal(size=W2.shape)
    assert distinct_units(noisy, np.repeat(b[:5], 10)) == 50        # real differences
    bias_only = np.zeros((10, 4))
    assert distinct_units(bias_only, np.array([0.0, 1.0, 1.0, 2.0])) == 3
    assert distinct_units(np.zeros((3, 7)), np.zeros(7)) == 1


# --- the Monitor ------------------------------------------------------------------------------

def test_monitor_does_not_change_training(digits):
    Xs, _, _, y = digits
    a = glassnet.Network([64, 16, 10], seed=3)
    b = glassnet.Network([64, 16, 10], seed=3)
    monitor = Monitor(seed=1)
    ha = a.fit(Xs, y, epochs=3, callbacks=[monitor])
    hb = b.fit(Xs, y, epochs=3)
    assert np.array_equal(a.params, b.params) and ha.loss == hb.loss
    assert len(monitor.snapshots) == 4            # the start and one per epoch, nothing more
    assert len(monitor.losses) == 3 * math.ceil(len(Xs) / 32)
    assert monitor.history("signal_std").shape == (4, 2)
    assert monitor.report().ok


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_monitor_reports_the_same_cause_as_diagnose(digits, activation):
    Xs, _, _, y = digits
    net = _net([64, 32, 32, 10], symmetric=True, activation=activation, init="zeros", seed=0)
    monitor = Monitor()
    net.fit(Xs, y, epochs=2, callbacks=[monitor])
    report = monitor.report()
    assert report.codes == ["no_update"] and report.findings[0].layers == (1, 2)
    assert report.context["source"] == "monitor" and report.context["epochs"] == 2


def test_monitor_sees_a_vanishing_signal_and_dead_units(digits):
    Xs, _, _, y = digits
    deep = glassnet.Network([64] + [64] * 10 + [10], activation="tanh", init="torch_linear",
                            seed=0)
    monitor = Monitor()
    deep.fit(Xs, y, epochs=1, callbacks=[monitor])
    assert monitor.report().codes == ["vanishing_signal"]
    net = glassnet.Network([64, 32, 10], activation="relu", seed=0)
    net.biases[0][...] = -5.0
    monitor = Monitor()
    net.fit(Xs, y, epochs=1, callbacks=[monitor])
    assert monitor.report().codes == ["dead_units"]


def test_monitor_records_divergence_at_its_step(digits):
    Xs, _, _, y = digits
    net = glassnet.Network([64, 32, 10], activation="relu", output="identity", seed=0)
    monitor = Monitor()
    with pytest.raises(glassnet.DivergenceError) as info:
        net.fit(Xs, np.eye(10)[y], epochs=3, learning_rate=50, callbacks=[monitor])
    report = monitor.report()
    finding = report.get("divergence")[0]
    # the step of the batch that blew up (the loss explodes, still finite, on the 2nd step)
    n_batches = -(-len(Xs) // 32)
    step = info.value.epoch * n_batches + info.value.batch + 1
    assert finding.evidence["step"] == step == 2 and finding.severity == "error"


def test_monitor_names_columns_from_the_networks_stored_feature_names(digits):
    _, _, X, y = digits
    net = glassnet.Network([64, 16, 10], seed=0)
    net.metadata["feature_names"] = [f"pixel_{i}" for i in range(64)]
    monitor = Monitor()
    net.fit(X, y, epochs=1, learning_rate=1e-4, callbacks=[monitor])
    finding = monitor.report().get("unscaled_inputs")[0]
    top = int(np.argmax(np.hypot(X.mean(0), X.std(0))))
    assert finding.evidence["columns"][0] == f"pixel_{top}"
    with pytest.raises(GlassnetError, match="feature_names has 2 names but X has 64"):
        net.fit(X, y, epochs=1, callbacks=[Monitor(feature_names=["a", "b"])])


def test_monitor_report_needs_a_run_and_valid_fields():
    monitor = Monitor()
    with pytest.raises(GlassnetError, match="needs a training run"):
        monitor.report()
    with pytest.raises(GlassnetError, match="probe_size"):
        Monitor(probe_size=1)
    net = glassnet.Network([4, 3, 2], seed=0)
    X = np.random.default_rng(0).normal(size=(40, 4))
    net.fit(X, (X[:, 0] > 0).astype(int), epochs=1, callbacks=[monitor])
    with pytest.raises(GlassnetError, match="Unknown layer statistic"):
        monitor.history("nope")


def test_input_stats_match_numpy_without_copying_x_whole():
    from glassnet.doctor.stats import input_stats
    X = np.random.default_rng(3).normal(5.0, 3.0, (5000, 40)).astype(np.float32)
    stats = input_stats(X)
    X64 = X.astype(np.float64)
    np.testing.assert_allclose(stats.mean, X64.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(stats.std, X64.std(axis=0), rtol=1e-12)


def test_the_layer_table_names_the_per_unit_spread_signal_std(digits):
    """Two spreads, two names: the table's is the per-unit std (signal_std), not the std
    over every entry that the demo and the study call the activation std."""
    _, X, _, y = digits                                        # pixels / 16: offsets
    net = glassnet.Network([64, 16, 10], activation="tanh", seed=0)
    report = diagnose(net, X, y)
    text = str(report)
    header = next(line for line in text.splitlines() if "activation" in line and "units" in line)
    assert "signal std" in header and "act std" not in text
    first = report.layers[0]["start"]
    assert first["signal_std"] < 0.8 * first["post_std"]         # they differ
