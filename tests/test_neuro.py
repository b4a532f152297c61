"""Neuro, the hand-written API kept exactly: its attributes, overwritable weight lists,
per-batch printing, the blog's update rule written out literally, and the two failures."""
from __future__ import annotations

import copy
import re
import warnings

import numpy as np
import pytest

from glassnet import GlassnetError, Neuro, SymmetryWarning

# --- the blog's loop, written out (independent of glassnet's activations) ---------------------

F = {"sigmoid": lambda z: 1 / (1 + np.exp(-z)), "tanh": np.tanh, "relu": lambda z: np.maximum(z, 0)}
DF = {"sigmoid": lambda z: F["sigmoid"](z) * (1 - F["sigmoid"](z)),
      "tanh": lambda z: 1 - np.tanh(z) ** 2,
      "relu": lambda z: (z > 0).astype(float)}


def blog_fit(w, b, names, learning_rate, X, Y, orders, batch_size):
    """Mini-batch back-propagation as the hand-written loop meant it.

    Output error term (a - y) * f'(z); error terms propagated down through the weights
    above times f'(z); each step w -= (learning_rate / batch) * a_below^T delta.
    """
    w, b = [m.copy() for m in w], [m.copy() for m in b]
    for order in orders:
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            x, y = X[idx], Y[idx]
            zs, outs = [], [x]
            for l in range(len(w)):
                zs.append(outs[-1] @ w[l] + b[l])
                outs.append(F[names[l]](zs[-1]))
            delta = (outs[-1] - y) * DF[names[-1]](zs[-1])
            for l in range(len(w) - 1, -1, -1):
                grad_w = outs[l].T @ delta
                grad_b = delta.sum(axis=0, keepdims=True)
                if l:
                    below = (delta @ w[l].T) * DF[names[l - 1]](zs[l - 1])
                w[l] -= learning_rate / len(idx) * grad_w
                b[l] -= learning_rate / len(idx) * grad_b
                if l:
                    delta = below
    return w, b


def _orders(n: Neuro, count: int, epochs: int):
    """The per-epoch sample orders Neuro.fit will draw from its generator."""
    rng = copy.deepcopy(n.rng)
    return [rng.permutation(count) for _ in range(epochs)]


def _one_hot_data(seed=0, n=10, k=3, d=4):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), np.eye(k)[rng.integers(0, k, n)]


# --- construction and attributes ------------------------------------------------------------------

def test_shapes_and_attributes():
    n = Neuro([4, 5, 3], learning_rate=0.1, activators=1, seed=0, quiet=True)
    assert [w.shape for w in n.w] == [(4, 5), (5, 3)]
    assert [b.shape for b in n.b] == [(1, 5), (1, 3)]
    assert isinstance(n.w, list) and isinstance(n.b, list)
    assert n.cellnum == [4, 5, 3] and n.layer_num == 2 and n.learning_rate == 0.1
    assert [a.name for a in n.activator] == ["sigmoid", "sigmoid"]
    assert n.loss.name == "squared_error"


@pytest.mark.parametrize("activators, names", [
    (1, ["sigmoid", "sigmoid"]),
    ("tanh", ["tanh", "tanh"]),
    (3, ["relu", "relu"]),
    ([2, "sigmoid"], ["tanh", "sigmoid"]),
    (("relu", 1), ["relu", "sigmoid"]),
])
def test_activators_int_name_or_one_per_layer(activators, names):
    n = Neuro([4, 5, 3], activators=activators, seed=0, quiet=True)
    assert [a.name for a in n.activator] == names


def test_activators_list_must_have_one_per_layer():
    with pytest.raises(GlassnetError, match=r"activators has 3 entries; expected one per layer \(2"):
        Neuro([4, 5, 3], activators=[1, 1, 1])
    with pytest.raises(GlassnetError, match=r"Unknown activation id 42.*1=sigmoid"):
        Neuro([4, 5, 3], activators=42)


def test_default_init_is_random():
    with warnings.catch_warnings():
        warnings.simplefilter("error", SymmetryWarning)
        n = Neuro([4, 6, 3], seed=0)
    for w in n.w:
        assert np.unique(w).size == w.size   # no two weights alike
    other = Neuro([4, 6, 3], seed=1)
    assert not np.array_equal(n.w[0], other.w[0])


# --- overwriting w and b before fit takes effect ------------------------------------------------

@pytest.mark.parametrize("style", ["item", "whole_list", "in_place"])
def test_overwritten_weights_are_the_ones_trained(style):
    X, Y = _one_hot_data(1)
    rng = np.random.default_rng(2)
    W = [rng.normal(size=(4, 5)), rng.normal(size=(5, 3))]
    B = [rng.normal(size=(1, 5)), rng.normal(size=(1, 3))]
    n = Neuro([4, 5, 3], learning_rate=0.3, activators=["tanh", "sigmoid"], seed=3, quiet=True)
    if style == "item":
        n.w[0], n.w[1] = W
        n.b[0], n.b[1] = B
    elif style == "whole_list":
        n.w = W
        n.b = B
    else:
        for l in range(2):
            n.w[l][...] = W[l]
            n.b[l][...] = B[l]
    for l in range(2):
        np.testing.assert_array_equal(n.w[l], W[l])
        np.testing.assert_array_equal(n.b[l], B[l])
        np.testing.assert_array_equal(n.biases[l], B[l][0])   # the same parameters
    orders = _orders(n, 10, 2)
    n.fit(X, Y, 2, 4)
    w_ref, b_ref = blog_fit(W, B, ["tanh", "sigmoid"], 0.3, X, Y, orders, 4)
    for l in range(2):
        np.testing.assert_allclose(n.w[l], w_ref[l], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(n.b[l], b_ref[l], rtol=1e-12, atol=1e-14)
    assert np.abs(n.w[0] - W[0]).max() > 1e-3   # and training moved them


def test_wrong_shape_is_rejected():
    n = Neuro([4, 5, 3], seed=0, quiet=True)
    with pytest.raises(GlassnetError, match=r"weights\[1\] must have shape \(5, 3\)"):
        n.w[1] = np.zeros((3, 5))
    with pytest.raises(GlassnetError, match=r"biases must hold 2 arrays"):
        n.b = [np.zeros((1, 5))]


# --- the update rule equals the literal loop --------------------------------------------------------

@pytest.mark.parametrize("activators, names", [
    (1, ["sigmoid", "sigmoid", "sigmoid"]),
    ("tanh", ["tanh", "tanh", "tanh"]),
    (["relu", "tanh", "sigmoid"], ["relu", "tanh", "sigmoid"]),
])
def test_fit_equals_the_hand_written_loop(activators, names):
    """n=10, batch_size=4: batches of 4, 4 and 2, each step with its own size."""
    X, Y = _one_hot_data(4)
    n = Neuro([4, 6, 5, 3], learning_rate=0.5, activators=activators, seed=5, quiet=True)
    start_w, start_b = [w.copy() for w in n.w], [b.copy() for b in n.b]
    orders = _orders(n, 10, 3)
    history = n.fit(X, Y, 3, 4)
    w_ref, b_ref = blog_fit(start_w, start_b, names, 0.5, X, Y, orders, 4)
    for l in range(3):
        np.testing.assert_allclose(n.w[l], w_ref[l], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(n.b[l], b_ref[l], rtol=1e-12, atol=1e-14)
    assert len(history.loss) == 3 and all(np.isfinite(history.loss))


def test_fit_accepts_integer_labels_as_one_hot():
    X, Y = _one_hot_data(6)
    a = Neuro([4, 5, 3], seed=7, quiet=True)
    b = Neuro([4, 5, 3], seed=7, quiet=True)
    a.fit(X, Y, 2, 3)
    b.fit(X, Y.argmax(axis=1), 2, 3)
    np.testing.assert_array_equal(a.params, b.params)


# --- printing --------------------------------------------------------------------------------------

def test_fit_prints_loss_per_batch(capsys):
    X, Y = _one_hot_data(8)
    n = Neuro([4, 5, 3], learning_rate=0.2, seed=9)
    order = _orders(n, 10, 1)[0]
    first = order[:4]
    a = F["sigmoid"](F["sigmoid"](X[first] @ n.w[0] + n.b[0]) @ n.w[1] + n.b[1])
    n.fit(X, Y, 2, 4)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 * 3                     # 2 epochs of batches 4, 4, 2
    assert all(re.fullmatch(r"loss = \s*[0-9.e+-]+", line) for line in lines)
    assert float(lines[0].split("=")[1]) == pytest.approx(np.linalg.norm(a - Y[first]), rel=1e-12)


def test_quiet_prints_nothing(capsys):
    X, Y = _one_hot_data(10)
    Neuro([4, 5, 3], seed=0, quiet=True).fit(X, Y, 2, 4)
    Neuro([4, 5, 3], seed=0).fit(X, Y, 2, 4, quiet=True)
    assert capsys.readouterr().out == ""


# --- the two failures and the fix -------------------------------------------------------------------

@pytest.mark.parametrize("activators", ["tanh", "relu"])
def test_zero_init_leaves_hidden_weights_zero(activators, iris_scaled):
    X, y = iris_scaled
    with pytest.warns(SymmetryWarning):
        n = Neuro([4, 8, 6, 3], learning_rate=0.5, activators=activators, init="zeros", seed=0,
                  quiet=True)
    n.fit(X, y, 20, 16)
    for l in range(n.layer_num - 1):
        assert not np.any(n.w[l]) and not np.any(n.b[l])
    assert not np.any(n.w[-1])


def test_zero_init_with_sigmoid_keeps_units_identical(iris_scaled):
    """sigmoid(0) = 1/2, so with zeros the hidden weights do move, but all alike."""
    X, y = iris_scaled
    with pytest.warns(SymmetryWarning):
        n = Neuro([4, 8, 3], learning_rate=0.5, activators=1, init="zeros", seed=0, quiet=True)
    n.fit(X, y, 20, 16)
    assert np.abs(n.w[0]).max() > 1e-4
    assert np.abs(n.w[0] - n.w[0][:, :1]).max() < 1e-12


@pytest.mark.parametrize("activators", [1, "tanh", "relu"])
def test_constant_init_keeps_units_identical(activators, iris_scaled):
    X, y = iris_scaled
    with pytest.warns(SymmetryWarning):
        n = Neuro([4, 8, 6, 3], learning_rate=0.5, activators=activators, init="constant",
                  seed=0, quiet=True)
    assert np.all(n.w[0] == 0.5)
    n.fit(X, y, 20, 16)
    for l in range(n.layer_num - 1):
        # identical up to BLAS rounding; the weights themselves moved by far more
        assert np.abs(n.w[l] - n.w[l][:, :1]).max() < 1e-12
        assert np.abs(n.b[l] - n.b[l][0, 0]).max() < 1e-12
        assert np.abs(n.w[l] - 0.5).max() > 1e-3


def test_random_init_learns(iris_scaled):
    X, y = iris_scaled
    Y = np.eye(3)[y]
    n = Neuro([4, 8, 3], learning_rate=1.0, activators=1, seed=0, quiet=True)
    initial = 0.5 * np.mean(np.sum((n.forward(X) - Y) ** 2, axis=1))
    history = n.fit(X, Y, 60, 16)
    assert history.loss[-1] < 0.25 * initial
    assert np.mean(n.forward(X).argmax(axis=1) == y) >= 0.9


# --- bad input ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, pattern", [
    ({"epochs": -1}, r"epochs must be >= 0"),
    ({"batch_size": 0}, r"batch_size must be >= 1"),
    ({"epochs": 2.5}, r"epochs must be an integer"),
])
def test_fit_rejects_bad_arguments(kwargs, pattern):
    X, Y = _one_hot_data(11)
    args = {"epochs": 1, "batch_size": 2, **kwargs}
    with pytest.raises(GlassnetError, match=pattern):
        Neuro([4, 5, 3], seed=0, quiet=True).fit(X, Y, args["epochs"], args["batch_size"])


@pytest.mark.parametrize("kwargs, pattern", [
    ({"cellnum": [4, 0, 3]}, r"cellnum\[1\] must be >= 1"),
    ({"cellnum": 4}, r"cellnum must be a list of layer widths"),
    ({"cellnum": [4]}, r"at least an input and an output"),
    ({"learning_rate": 0}, r"learning_rate must be > 0"),
    ({"learning_rate": "fast"}, r"learning_rate must be a real number"),
    ({"init": "zeroes"}, r"Unknown init 'zeroes'.*'zeros'"),
])
def test_constructor_rejects_bad_arguments(kwargs, pattern):
    args = {"cellnum": [4, 5, 3], **kwargs}
    cellnum = args.pop("cellnum")
    with pytest.raises(GlassnetError, match=pattern):
        Neuro(cellnum, **args)


def test_epochs_zero_changes_nothing():
    X, Y = _one_hot_data(12)
    n = Neuro([4, 5, 3], seed=0, quiet=True)
    before = n.params.copy()
    history = n.fit(X, Y, 0, 4)
    assert len(history) == 0
    np.testing.assert_array_equal(n.params, before)
