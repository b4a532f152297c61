"""Network: whole-network gradients against central differences for every hidden activation
and every output/loss pair, real data, the two classic failures, reproducibility, float32,
mini-batching, the parameter views, prediction and target encoding."""
from __future__ import annotations

import copy
import pickle
import warnings
import zlib

import numpy as np
import pytest

import glassnet
from glassnet import GlassnetError, Network, SymmetryWarning
from glassnet import activations as A
from glassnet.callbacks import Callback

# --- whole-network gradients by central differences ---------------------------------------------

#: every hidden activation in the registry (softmax is output-only), parametrised ones also
#: with non-default parameters
HIDDEN = [(name, {}) for name in A.NAMES if A.get(name).elementwise] + [
    (name, {k: 0.25 for k, v in A.get(name).params.items() if isinstance(v, float)})
    for name in A.NAMES
    if A.get(name).elementwise and any(isinstance(v, float) for v in A.get(name).params.values())
]

#: (output, loss): the fused pairs and the chain-rule ones
PAIRS = [("softmax", "cross_entropy"), ("sigmoid", "binary_cross_entropy"),
         ("identity", "squared_error"), ("softmax", "squared_error"),
         ("sigmoid", "squared_error"), ("softmax", "binary_cross_entropy"),
         ("sigmoid", "cross_entropy"), ("tanh", "squared_error")]


def _has_kink(act) -> bool:
    """True where f' or f'' jumps at 0, so a central difference may straddle a kink."""
    d = lambda v: float(act.df(np.array([v]))[0])  # noqa: E731
    jump1 = abs(d(1e-12) - d(-1e-12))
    jump2 = abs((d(2e-4) - d(1e-4)) - (d(-1e-4) - d(-2e-4))) / 1e-4
    return jump1 > 1e-6 or jump2 > 1e-2


def _literal_loss(loss: str, a, y):
    """The per-sample losses written out, independent of glassnet.losses."""
    if loss == "squared_error":
        return 0.5 * ((a - y) ** 2).sum(axis=1)
    if loss == "binary_cross_entropy":
        return -(y * np.log(a) + (1 - y) * np.log(1 - a)).sum(axis=1)
    return -(y * np.log(a)).sum(axis=1)


def _reference_loss(net, X, Y, loss, sw):
    """Forward pass from the pure activation functions and the literal loss."""
    a = X
    for W, b, act in zip(net.weights, net.biases, net.activations):
        a = act.f(a @ W + b)
    return float(np.average(_literal_loss(loss, a, Y), weights=sw))


def _targets(loss, output, rng, n, k):
    """Targets in the form a user would pass, and their one-hot/float encoding."""
    if loss == "cross_entropy":
        y = rng.integers(0, k, n)
        return y, np.eye(k)[y]
    if loss == "binary_cross_entropy" or output in ("sigmoid", "softmax"):
        y = rng.integers(0, 2, size=(n, k)).astype(float)
        return y, y
    y = rng.normal(size=(n, k))
    return y, y


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "sample_weight"])
@pytest.mark.parametrize("output, loss", PAIRS, ids=[f"{o}+{l}" for o, l in PAIRS])
@pytest.mark.parametrize("hidden, params", HIDDEN,
                         ids=[n + "".join(f"-{k}={v}" for k, v in p.items()) for n, p in HIDDEN])
def test_network_gradients_match_central_differences(hidden, params, output, loss, weighted,
                                                     central_diff, rel_error):
    act = A.get(hidden, **params)
    # a fixed seed per case (str hash() is salted per process, crc32 is not)
    rng = np.random.default_rng(zlib.crc32(f"{hidden}{params}{output}{loss}{weighted}".encode()))
    n, k = 8, 3
    net = Network([3, 5, 4, k], activation=act, output=output, loss=loss, seed=1)
    X = rng.normal(size=(n, 3))
    y, Y = _targets(loss, output, rng, n, k)
    sw = rng.uniform(0.2, 3.0, size=n) if weighted else None

    grads = net.backward(X, y, sample_weight=sw)
    analytic = np.concatenate([g.ravel() for g in grads.weights] + [g.ravel() for g in grads.biases])
    # the flat buffer's layout: all weight matrices, then all biases
    params = net.params
    numeric = central_diff(lambda _: _reference_loss(net, X, Y, loss, sw), params)
    tol = 1e-4 if _has_kink(act) else 1e-6
    assert rel_error(analytic, numeric) < tol
    assert grads.loss == pytest.approx(_reference_loss(net, X, Y, loss, sw), rel=1e-12)
    assert [g.shape for g in grads.weights] == [w.shape for w in net.weights]
    assert [g.shape for g in grads.biases] == [b.shape for b in net.biases]


@pytest.mark.parametrize("output, loss", [("sigmoid", "binary_cross_entropy"),
                                          ("identity", "squared_error"),
                                          ("sigmoid", "squared_error")])
def test_single_output_gradients(output, loss, central_diff, rel_error):
    rng = np.random.default_rng(11)
    net = Network([4, 6, 1], activation="tanh", output=output, loss=loss, seed=2)
    X = rng.normal(size=(9, 4))
    y = rng.integers(0, 2, 9).astype(float) if output == "sigmoid" else rng.normal(size=9)
    sw = rng.uniform(0.5, 2, size=9)
    grads = net.backward(X, y, sample_weight=sw)
    analytic = np.concatenate([g.ravel() for g in grads.weights + grads.biases])
    numeric = central_diff(lambda _: _reference_loss(net, X, y.reshape(-1, 1), loss, sw),
                           net.params)
    assert rel_error(analytic, numeric) < 1e-6


def test_mixed_hidden_activations_and_deep_net(central_diff, rel_error):
    rng = np.random.default_rng(12)
    net = Network([3, 6, 5, 4, 3], activation=["tanh", "gelu", 1], output="softmax", seed=3)
    assert [a.name for a in net.activations] == ["tanh", "gelu", "sigmoid", "softmax"]
    X, y = rng.normal(size=(7, 3)), rng.integers(0, 3, 7)
    grads = net.backward(X, y)
    analytic = np.concatenate([g.ravel() for g in grads.weights + grads.biases])
    numeric = central_diff(lambda _: _reference_loss(net, X, np.eye(3)[y], "cross_entropy", None),
                           net.params)
    assert rel_error(analytic, numeric) < 1e-6


def test_sample_weights_equal_repeated_rows():
    """Integer sample weights give exactly the gradient of the data with rows repeated."""
    rng = np.random.default_rng(13)
    net = Network([3, 4, 3], activation="tanh", output="softmax", loss="squared_error", seed=4)
    X, y = rng.normal(size=(5, 3)), rng.integers(0, 3, 5)
    sw = np.array([1, 3, 2, 1, 4])
    weighted = net.backward(X, y, sample_weight=sw)
    repeated = net.backward(np.repeat(X, sw, axis=0), np.repeat(y, sw))
    for a, b in zip(weighted.weights + weighted.biases, repeated.weights + repeated.biases):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
    assert weighted.loss == pytest.approx(repeated.loss, rel=1e-12)


def test_backward_leaves_forward_unchanged():
    rng = np.random.default_rng(14)
    net = Network([3, 5, 2], activation="sigmoid", seed=5)
    X, y = rng.normal(size=(6, 3)), rng.integers(0, 2, 6)
    before = net.forward(X)
    net.backward(X, y)
    np.testing.assert_array_equal(net.forward(X), before)
    trace = net.trace(X)
    assert [p.shape for p in trace.pre] == [(6, 5), (6, 2)]
    np.testing.assert_allclose(trace.pre[0], X @ net.weights[0] + net.biases[0], rtol=1e-15)
    np.testing.assert_array_equal(trace.post[-1], before)
    assert net.loss_value(X, y) == pytest.approx(net.backward(X, y).loss, rel=1e-12)


@pytest.mark.parametrize("output, loss", [("identity", "cross_entropy"),
                                          ("tanh", "binary_cross_entropy"),
                                          ("relu", "cross_entropy")])
def test_loss_needing_probabilities_rejects_other_outputs(output, loss):
    with pytest.raises(GlassnetError, match=rf"loss='{loss}' needs probabilities.*'{output}'"):
        Network([3, 4, 2], output=output, loss=loss)


# --- real data -----------------------------------------------------------------------------------

def test_digits_relu_reaches_95_percent(digits_split):
    from sklearn.metrics import accuracy_score, log_loss
    d = digits_split
    net = Network([64, 64, 10], activation="relu", seed=0)
    history = net.fit(d.X_train, d.y_train, epochs=30, batch_size=32, learning_rate=0.1)
    accuracy = accuracy_score(d.y_test, net.predict(d.X_test))
    assert accuracy >= 0.95
    assert history.loss[-1] < 0.25 * history.loss[0]
    report = net.evaluate(d.X_test, d.y_test)
    assert report["accuracy"] == pytest.approx(accuracy, abs=1e-12)
    assert report["loss"] == pytest.approx(
        log_loss(d.y_test, net.predict_proba(d.X_test), labels=range(10)), rel=1e-9)


# --- the two failures, as facts -----------------------------------------------------------------

@pytest.mark.parametrize("hidden", ["tanh", "relu"])
def test_zero_init_leaves_every_hidden_weight_zero(hidden, iris_scaled):
    X, y = iris_scaled
    with pytest.warns(SymmetryWarning):
        net = Network([4, 8, 6, 3], activation=hidden, init="zeros", seed=0)
    history = net.fit(X, y, epochs=20, batch_size=16, learning_rate=0.5)
    for l in range(net.n_layers - 1):  # every hidden layer's weights and biases
        assert not np.any(net.weights[l]) and not np.any(net.biases[l])
    assert not np.any(net.weights[-1])    # f(0) = 0 feeds the output nothing to learn from
    assert np.any(net.biases[-1])         # ... so only the output bias moved
    # the best any constant predictor can do on balanced iris is log(3)
    assert history.loss[-1] >= np.log(3) - 1e-9
    assert net.evaluate(X, y)["accuracy"] == pytest.approx(1 / 3)


@pytest.mark.parametrize("hidden", ["tanh", "relu", "sigmoid"])
def test_constant_init_keeps_hidden_units_identical(hidden, iris_scaled):
    X, y = iris_scaled
    with pytest.warns(SymmetryWarning):
        net = Network([4, 8, 6, 3], activation=hidden, init="constant", seed=0)
    net.fit(X, y, epochs=20, batch_size=16, learning_rate=0.5)
    # Every unit of a layer computes the same thing, so the units stay the same.  Only
    # rounding can tell them apart (BLAS may sum the columns of one product in different
    # orders), so "identical" is checked to 1e-12; the weights moved by more than 1e-3.
    for l in range(net.n_layers - 1):
        w, b = net.weights[l], net.biases[l]
        assert np.abs(w - w[:, :1]).max() < 1e-12, f"layer {l}: units differ"
        assert np.abs(b - b[0]).max() < 1e-12
        assert np.abs(w - 0.5).max() > 1e-3           # ... and yet they did train
    w_out = net.weights[-1]
    assert np.abs(w_out - w_out[:1, :]).max() < 1e-12  # each hidden unit sends the same


@pytest.mark.parametrize("hidden", ["tanh", "relu"])
def test_random_init_learns(hidden, iris_scaled):
    X, y = iris_scaled
    with warnings.catch_warnings():
        warnings.simplefilter("error", SymmetryWarning)
        net = Network([4, 8, 6, 3], activation=hidden, seed=0)
    initial = net.loss_value(X, y)
    history = net.fit(X, y, epochs=20, batch_size=16, learning_rate=0.5)
    assert history.loss[-1] < 0.15 * initial
    assert net.evaluate(X, y)["accuracy"] >= 0.95
    assert np.ptp(net.weights[0], axis=1).min() > 0   # the hidden units differ


# --- reproducibility and precision ----------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_same_seed_same_run_bit_for_bit(dtype, digits_split):
    X, y = digits_split.X_train[:300], digits_split.y_train[:300]
    runs = []
    for _ in range(2):
        net = Network([64, 16, 10], activation="tanh", seed=7, dtype=dtype)
        history = net.fit(X, y, epochs=4, batch_size=32, learning_rate=0.1)
        runs.append((net.params.copy(), history.loss))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    assert runs[0][1] == runs[1][1]
    other = Network([64, 16, 10], activation="tanh", seed=8, dtype=dtype)
    other_loss = other.fit(X, y, epochs=4, batch_size=32, learning_rate=0.1).loss
    assert other_loss != runs[0][1] and not np.array_equal(other.params, runs[0][0])


def test_shuffling_changes_the_order_but_not_the_samples():
    """Shuffled and unshuffled epochs differ, yet both see every sample (same full-batch loss)."""
    rng = np.random.default_rng(15)
    X, y = rng.normal(size=(12, 3)), rng.integers(0, 2, 12)
    a = Network([3, 4, 2], activation="tanh", seed=1)
    b = a.copy()
    a.fit(X, y, epochs=1, batch_size=12, learning_rate=0.1, shuffle=True)
    b.fit(X, y, epochs=1, batch_size=12, learning_rate=0.1, shuffle=False)
    np.testing.assert_allclose(a.params, b.params, rtol=1e-12, atol=1e-15)  # one batch: same step
    c, d = Network([3, 4, 2], activation="tanh", seed=1), Network([3, 4, 2], activation="tanh", seed=1)
    c.fit(X, y, epochs=1, batch_size=4, learning_rate=0.1, shuffle=True)
    d.fit(X, y, epochs=1, batch_size=4, learning_rate=0.1, shuffle=False)
    assert not np.allclose(c.params, d.params)


def test_float32_stays_float32_end_to_end(digits_split):
    X, y = digits_split.X_train[:256], digits_split.y_train[:256]
    nets = {dt: Network([64, 32, 10], activation="relu", seed=3, dtype=dt)
            for dt in ("float32", "float64")}
    net = nets["float32"]
    assert net.params.dtype == np.float32 and net.grads.dtype == np.float32
    assert all(w.dtype == np.float32 for w in list(net.weights) + list(net.biases))
    histories = {dt: n.fit(X, y, epochs=5, batch_size=32, learning_rate=0.1)
                 for dt, n in nets.items()}
    assert net.params.dtype == np.float32 and net.grads.dtype == np.float32
    assert all(np.shares_memory(w, net.params) for w in net.weights)
    for ws in net._workspaces.values():  # every training buffer stayed float32
        assert all(b.dtype == np.float32 for b in ws.z + ws.a + ws.delta)
    out = net.forward(X)  # float64 input, float32 network
    assert out.dtype == np.float32 and net.predict_proba(X).dtype == np.float32
    trace = net.trace(X)
    assert all(t.dtype == np.float32 for t in trace.pre + trace.post + [trace.inputs])
    grads = net.backward(X[:10], y[:10])
    assert all(g.dtype == np.float32 for g in grads.weights + grads.biases)
    # the same run in float64 (same seed, so the same start up to rounding) ends close by
    np.testing.assert_allclose(histories["float32"].loss, histories["float64"].loss, rtol=1e-3)
    np.testing.assert_allclose(net.params, nets["float64"].params, rtol=1e-2, atol=1e-3)
    assert all(isinstance(v, float) and np.isfinite(v) for v in histories["float32"].loss)


# --- mini-batches: every sample, every epoch -------------------------------------------------------

def _flat(grads):
    return np.concatenate([g.ravel() for g in grads.weights + grads.biases])


@pytest.mark.parametrize("shuffle", [False, True])
def test_last_smaller_batch_is_used(shuffle):
    """n=10, batch_size=4: one epoch is exactly three steps on batches of 4, 4 and 2."""
    rng = np.random.default_rng(16)
    X, y = rng.normal(size=(10, 3)), rng.integers(0, 3, 10)
    net = Network([3, 5, 3], activation="tanh", seed=9)
    by_hand = net.copy()
    order = copy.deepcopy(net.rng).permutation(10) if shuffle else np.arange(10)

    sizes = []

    class Sizes(Callback):
        def on_batch_end(self, ctx, logs):
            sizes.append(ctx.batch)

    history = net.fit(X, y, epochs=1, batch_size=4, learning_rate=0.3, shuffle=shuffle,
                      callbacks=[Sizes()])
    losses = []
    for batch in (order[0:4], order[4:8], order[8:10]):
        g = by_hand.backward(X[batch], y[batch])
        losses.append(g.loss * len(batch))
        by_hand.params -= 0.3 * _flat(g)
    assert sizes == [0, 1, 2]
    np.testing.assert_allclose(net.params, by_hand.params, rtol=1e-14, atol=1e-15)
    assert history.loss[0] == pytest.approx(sum(losses) / 10, rel=1e-14)


# --- parameters: shapes, views, assignment ----------------------------------------------------------

def test_parameter_shapes_and_views():
    net = Network([4, 7, 3], activation="relu", seed=0)
    assert [w.shape for w in net.weights] == [(4, 7), (7, 3)]
    assert [b.shape for b in net.biases] == [(7,), (3,)]
    assert net.n_weights == 4 * 7 + 7 * 3 and net.params.size == net.n_weights + 10
    assert all(np.shares_memory(w, net.params) for w in list(net.weights) + list(net.biases))
    np.testing.assert_array_equal(net.params[:28], net.weights[0].ravel())
    np.testing.assert_array_equal(net.params[net.n_weights:net.n_weights + 7], net.biases[0])


def test_assigning_weights_takes_effect():
    rng = np.random.default_rng(17)
    X = rng.normal(size=(5, 4))
    net = Network([4, 3, 2], activation="identity", output="identity", loss="squared_error", seed=0)
    W0, W1 = rng.normal(size=(4, 3)), rng.normal(size=(3, 2))
    b0, b1 = rng.normal(size=3), rng.normal(size=2)
    net.weights[0] = W0               # item assignment copies into the view
    net.weights = [W0, W1]            # so does assigning the whole list
    net.biases[0][...] = b0           # and writing through the view in place
    net.biases[1] = b1.reshape(1, 2)  # a (1, fan_out) row is accepted for a bias
    np.testing.assert_allclose(net.forward(X), (X @ W0 + b0) @ W1 + b1, rtol=1e-13)
    given = Network([4, 3, 2], activation="identity", output="identity", loss="squared_error",
                    weights=[W0, W1], biases=[b0, b1])
    np.testing.assert_array_equal(given.params, net.params)


@pytest.mark.parametrize("assign, pattern", [
    (lambda n: n.weights.__setitem__(0, np.zeros((3, 4))), r"weights\[0\] must have shape \(4, 3\)"),
    (lambda n: setattr(n, "weights", [np.zeros((4, 3))]), r"weights must hold 2 arrays"),
    (lambda n: setattr(n, "biases", [np.zeros(3), np.full(2, np.nan)]), r"biases\[1\].*NaN"),
    (lambda n: n.weights.append(np.zeros(2)), r"length cannot change"),
    (lambda n: n.weights.__setitem__(1, np.full((3, 2), "x")), r"weights\[1\] must hold real"),
])
def test_bad_assignment_names_the_layer(assign, pattern):
    net = Network([4, 3, 2], seed=0)
    with pytest.raises(GlassnetError, match=pattern):
        assign(net)


# --- prediction for each output kind and target encoding ---------------------------------------------

def test_predict_for_each_output_kind():
    rng = np.random.default_rng(18)
    X = rng.normal(size=(20, 3))

    softmax = Network([3, 4, 3], activation="tanh", seed=0)
    p = softmax.predict_proba(X)
    np.testing.assert_allclose(p.sum(axis=1), 1, rtol=1e-14)
    np.testing.assert_array_equal(softmax.predict(X), p.argmax(axis=1))
    assert softmax.predict(X).dtype.kind == "i" and softmax.n_classes == 3

    binary = Network([3, 4, 1], activation="tanh", seed=0)  # sigmoid + bce by default
    assert (binary.output.name, binary.loss.name, binary.n_classes) == ("sigmoid", "binary_cross_entropy", 2)
    p1 = binary.forward(X)[:, 0]
    np.testing.assert_array_equal(binary.predict(X), (p1 > 0.5).astype(int))
    assert binary.predict(X).shape == (20,)
    np.testing.assert_allclose(binary.predict_proba(X), np.column_stack([1 - p1, p1]), rtol=1e-15)

    multilabel = Network([3, 4, 3], activation="tanh", output="sigmoid", seed=0)
    assert multilabel.loss.name == "binary_cross_entropy"
    np.testing.assert_array_equal(multilabel.predict(X), (multilabel.forward(X) > 0.5).astype(int))

    for k in (1, 2):
        reg = Network([3, 4, k], activation="tanh", output="identity", seed=0)
        assert reg.loss.name == "squared_error" and not reg.is_classifier
        expected = reg.forward(X)
        np.testing.assert_array_equal(reg.predict(X), expected[:, 0] if k == 1 else expected)
        with pytest.raises(GlassnetError, match="predict_proba needs a classifier"):
            reg.predict_proba(X)


def test_labels_and_one_hot_train_identically():
    rng = np.random.default_rng(19)
    X, y = rng.normal(size=(30, 3)), rng.integers(0, 3, 30)
    a = Network([3, 5, 3], activation="relu", seed=2)
    b = Network([3, 5, 3], activation="relu", seed=2)
    la = a.fit(X, y, epochs=3, batch_size=8, learning_rate=0.1).loss
    lb = b.fit(X, np.eye(3)[y], epochs=3, batch_size=8, learning_rate=0.1).loss
    np.testing.assert_array_equal(a.params, b.params)
    assert la == lb
    np.testing.assert_array_equal(a.encode_targets(y.astype(float)), np.eye(3)[y])
    # a squared-error network with several outputs takes labels too (the hand-written style)
    se = Network([3, 5, 3], activation="sigmoid", output="sigmoid", loss="squared_error", seed=0)
    np.testing.assert_array_equal(se.encode_targets(y), np.eye(3)[y])


@pytest.mark.parametrize("y, pattern", [
    ([0, 1, 3], r"y has class labels outside 0..2.*first bad rows: \[2\]"),
    ([0, 1.5, 2], r"y holds non-integer values"),
    ([0, np.nan, 2], r"y contains NaN or infinite values"),
    ([[1, 0], [0, 1], [1, 0]], r"y has 2 columns but the network has 3 outputs"),
    ([0, "b", 1], r"y must hold numbers"),
    ([], r"y is empty"),
])
def test_bad_targets(y, pattern):
    net = Network([2, 4, 3], seed=0)
    with pytest.raises(GlassnetError, match=pattern):
        net.encode_targets(y)


def test_binary_targets_must_be_probabilities():
    net = Network([2, 3, 1], seed=0)
    with pytest.raises(GlassnetError, match=r"y must be 0/1.*binary_cross_entropy"):
        net.encode_targets([0, 2, 1])


def test_evaluate_regressor_against_sklearn():
    from sklearn.metrics import mean_squared_error, r2_score
    rng = np.random.default_rng(20)
    X = rng.normal(size=(40, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.normal(size=40)
    net = Network([3, 8, 1], activation="tanh", output="identity", seed=0)
    net.fit(X, y, epochs=30, batch_size=8, learning_rate=0.05)
    report = net.evaluate(X, y)
    pred = net.predict(X)
    assert report["mse"] == pytest.approx(mean_squared_error(y, pred), rel=1e-12)
    assert report["r2"] == pytest.approx(r2_score(y, pred), rel=1e-12)
    assert report["loss"] == pytest.approx(0.5 * mean_squared_error(y, pred), rel=1e-12)
    assert report["r2"] > 0.9


# --- numerics and copies -------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("output, loss", [("softmax", "cross_entropy"),
                                          ("sigmoid", "binary_cross_entropy"),
                                          ("softmax", "squared_error")])
def test_huge_logits_stay_finite(output, loss, dtype):
    """Logits of about +-1e4: a finite loss and finite gradients, without overflow."""
    net = Network([2, 2], output=output, loss=loss, dtype=dtype,
                  weights=[np.array([[1e4, -1e4], [-1e4, 1e4]])], biases=[np.zeros(2)])
    X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    y = np.array([[0, 1], [0, 1], [1, 0]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        grads = net.backward(X, y)
        history = net.fit(X, y, epochs=2, batch_size=2, learning_rate=1e-4)
    assert np.isfinite(grads.loss) and all(np.all(np.isfinite(g)) for g in grads.weights)
    assert all(np.isfinite(v) for v in history.loss) and np.all(np.isfinite(net.params))
    if loss == "cross_entropy":  # one confidently wrong sample (logit gap 2e4) of three
        assert grads.loss == pytest.approx(2e4 / 3, rel=1e-5)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("weighted", [False, True])
def test_softmax_rows_far_below_the_batch_maximum(dtype, weighted):
    """Softmax shifts the batch by its largest logit; rows whose logits all lie hundreds
    below it (their sums would underflow) must still get exact probabilities and losses."""
    Z = np.array([[0.0, 1.0, 2.0], [-200.0, -201.0, -199.0], [-1000.0, -1001.0, -1002.0],
                  [-40.0, -60.0, -41.0]])
    y = np.array([2, 1, 0, 1])
    sw = np.array([1.0, 2.0, 0.5, 1.0]) if weighted else None
    net = Network([3, 3], output="softmax", loss="cross_entropy", dtype=dtype,
                  weights=[np.eye(3)], biases=[np.zeros(3)])       # z = x
    grads = net.backward(Z, y, sample_weight=sw)
    shifted = Z - Z.max(axis=1, keepdims=True)                       # float64 reference
    p = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    per = -(shifted[np.arange(4), y] - np.log(np.exp(shifted).sum(axis=1)))
    w = np.ones(4) / 4 if sw is None else sw / sw.sum()
    Y = np.eye(3)[y]
    rtol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(net.forward(Z), p, rtol=rtol, atol=1e-30)
    assert grads.loss == pytest.approx(per @ w, rel=rtol)
    np.testing.assert_allclose(grads.weights[0], Z.T @ ((p - Y) * w[:, None]), rtol=rtol,
                               atol=1e-4 if dtype == "float32" else 1e-12)
    np.testing.assert_allclose(grads.biases[0], w @ (p - Y), rtol=rtol, atol=1e-7)


def test_copy_and_pickle_are_independent_and_continue_identically():
    rng = np.random.default_rng(21)
    X, y = rng.normal(size=(16, 3)), rng.integers(0, 2, 16)
    net = Network([3, 4, 2], activation="tanh", seed=5)
    net.fit(X, y, epochs=1, batch_size=4, learning_rate=0.1)
    twin, thawed = net.copy(), pickle.loads(pickle.dumps(net))
    twin.weights[0][...] = 0
    assert np.any(net.weights[0])
    twin = net.copy()
    for other in (twin, thawed):
        assert not np.shares_memory(other.params, net.params)
        np.testing.assert_array_equal(other.forward(X), net.forward(X))
    losses = [m.fit(X, y, epochs=2, batch_size=4, learning_rate=0.1).loss for m in (net, twin, thawed)]
    assert losses[0] == losses[1] == losses[2]   # generator state travels too
    np.testing.assert_array_equal(net.params, thawed.params)


def test_public_surface():
    assert glassnet.Network is Network and issubclass(GlassnetError, ValueError)
    assert "Network" in glassnet.__all__ and "Neuro" in glassnet.__all__


def test_cross_entropy_refuses_target_rows_that_are_not_distributions():
    # the fused softmax gradient a - y is only right when each target row sums to 1
    net = Network([3, 4, 3], seed=0)
    X = np.zeros((2, 3))
    with pytest.raises(GlassnetError, match=r"summing to 1 .*first bad rows: \[1\]"):
        net.backward(X, np.array([[1.0, 0, 0], [1.0, 1.0, 0]]))
    soft = np.array([[0.2, 0.3, 0.5], [0.0, 1.0, 0.0]])
    grads = net.backward(X, soft)
    assert np.isfinite(grads.loss)


# --- the maths core's public surface ------------------------------------------------------------

def test_trace_with_targets_is_the_backward_pass_and_leaves_the_network_alone():
    rng = np.random.default_rng(3)
    net = Network([5, 7, 6, 3], activation=["tanh", "relu"], seed=2)
    X, y, w = rng.normal(size=(9, 5)), rng.integers(0, 3, 9), rng.uniform(0.5, 2, 9)
    net.compute_gradients(*net.check_data(X[:4], y[:4]))          # something in the buffers
    grads_before, params_before = net.grads.copy(), net.params.copy()
    t = net.trace(X, y, sample_weight=w)
    np.testing.assert_array_equal(net.grads, grads_before)       # untouched
    np.testing.assert_array_equal(net.params, params_before)
    g = net.backward(X, y, sample_weight=w)
    assert t.loss == g.loss
    for l in range(3):
        np.testing.assert_array_equal(t.grad_w[l], g.weights[l])
        np.testing.assert_array_equal(t.grad_b[l], g.biases[l])
        # dL/dW = a_below^T dL/dz, layer by layer, from the trace's own values
        below = t.inputs if l == 0 else t.post[l - 1]
        np.testing.assert_allclose(below.T @ t.delta[l], t.grad_w[l], rtol=1e-12, atol=1e-15)
    # the forward values are those of trace(X) and forward(X)
    plain = net.trace(X)
    for a, b in zip(t.post, plain.post):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    np.testing.assert_array_equal(plain.post[-1], net.forward(X))
    assert plain.delta is None and plain.loss is None


def test_train_step_is_the_step_fit_takes():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 4)), rng.integers(0, 3, 40)
    for name in ("sgd", "adam"):
        a, b = Network([4, 6, 3], seed=1), Network([4, 6, 3], seed=1)
        history = a.fit(X, y, epochs=1, batch_size=40, shuffle=False, optimizer=name,
                        alpha=0.1)
        opt = glassnet.optimizers.get(name)
        x, Y, sw = b.check_data(X, y)
        loss, state = b.train_step(x, Y, sw, opt, opt.init(b.params), alpha=0.1)
        np.testing.assert_array_equal(a.params, b.params)
        assert history.loss == [pytest.approx(loss, rel=1e-15)]


def test_a_non_finite_loss_applies_no_step():
    net = Network([2, 3, 1], loss="squared_error", seed=0)
    opt = glassnet.optimizers.get("adam")
    x, Y, _ = net.check_data([[1.0, 2.0]], [0.5])
    before = net.params.copy()
    state = opt.init(net.params)
    net.weights[1] = np.full((3, 1), 1e300)
    kept = net.params.copy()
    with np.errstate(over="ignore", invalid="ignore"):   # as fit runs it
        loss, after = net.train_step(x, Y, None, opt, state)
    assert not np.isfinite(loss) and after is state
    np.testing.assert_array_equal(net.params, kept)
    assert not np.array_equal(before, kept)


def test_layout_names_each_layers_slice_of_the_flat_buffers():
    net = Network([4, 5, 3], seed=0)
    for l in range(net.n_layers):
        np.testing.assert_array_equal(net.params[net.layout.weights[l]], net.weights[l].ravel())
        np.testing.assert_array_equal(net.params[net.layout.biases[l]], net.biases[l])
    assert net.layout.weights[0] == slice(0, 20) and net.layout.biases[-1] == slice(40, 43)


def test_real_valued_targets_on_one_output_say_how_to_do_regression():
    from sklearn.datasets import load_diabetes
    X, y = load_diabetes(return_X_y=True)
    with pytest.raises(GlassnetError) as info:
        Network([10, 16, 1], seed=0).fit(X, y, epochs=1)
    message = str(info.value)
    assert "0/1" in message and "from 25 to 346" in message
    assert "defaults to a binary classifier" in message
    assert 'Network([10, 16, 1], output="identity")' in message and "GlassRegressor" in message
    assert "class labels" not in message               # 25..346 are no class labels
    # the spelling it shows works
    net = Network([10, 16, 1], output="identity", seed=0)
    net.fit(X, (y - y.mean()) / y.std(), epochs=30, optimizer="adam", learning_rate=0.01)
    assert net.loss.name == "squared_error"
    # small whole numbers may be labels: then it says how many outputs that takes
    with pytest.raises(GlassnetError, match=r"Network\(\[10, 16, 3\]\)"):
        Network([10, 16, 1], seed=0).fit(X, np.arange(len(X)) % 3, epochs=1)
