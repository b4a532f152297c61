"""Bad input raises GlassnetError (a ValueError) naming the argument and what was expected,
at every public entry point, never a NumPy traceback from deep inside."""
from __future__ import annotations

import numpy as np
import pytest

from glassnet import GlassnetError, Network, Neuro
from glassnet._validation import (as_float_array, check_choice, check_dtype, check_float,
                                  check_int)

rng = np.random.default_rng(0)
X_OK = rng.normal(size=(6, 4))
Y_OK = np.array([0, 1, 2, 0, 1, 2])


def _net(**kwargs):
    return Network([4, 5, 3], activation="tanh", seed=0, **kwargs)


def _with(array, row, col, value):
    out = np.array(array, dtype=float)
    out[row, col] = value
    return out


def test_glassnet_error_is_a_value_error():
    assert issubclass(GlassnetError, ValueError)


# --- data: fit, backward, predict, evaluate -----------------------------------------------------

FIT_CASES = [
    ("lengths", X_OK, Y_OK[:5], r"X and y have different lengths: X has 6 rows, y has 5"),
    ("features", X_OK[:, :3], Y_OK, r"X has 3 features \(columns\) but the network expects 4"),
    ("nan_in_X", _with(X_OK, 2, 1, np.nan), Y_OK, r"X contains NaN or infinite values \(first rows: \[2\]\)"),
    ("inf_in_X", _with(X_OK, 4, 0, -np.inf), Y_OK, r"X contains NaN or infinite values \(first rows: \[4\]\)"),
    ("nan_in_labels", X_OK, np.array([0, 1, np.nan, 0, 1, 2]), r"y contains NaN or infinite values"),
    ("inf_in_one_hot", X_OK, _with(np.eye(3)[Y_OK], 3, 1, np.inf), r"y contains NaN or infinite values \(first rows: \[3\]\)"),
    ("strings_in_X", np.array([["a", "b", "c", "d"]] * 6), Y_OK, r"X must hold numbers"),
    ("objects_in_X", np.array([[1, 2, 3, {}]] * 6, dtype=object), Y_OK, r"X must hold numbers"),
    ("none_in_X", np.array([[1, 2, 3, None]] * 6, dtype=object), Y_OK, r"X contains NaN"),  # missing
    ("complex_X", X_OK + 1j, Y_OK, r"X must hold real numbers"),
    ("strings_in_y", X_OK, ["cat", "dog", "cat", "dog", "cat", "dog"], r"y must hold numbers"),
    ("empty_X", np.empty((0, 4)), np.empty(0), r"X is empty"),
    ("empty_y", X_OK, [], r"y is empty"),
    ("1d_X", X_OK[:, 0], Y_OK, r"X must be a 2-D array; got shape \(6,\)"),
    ("ragged_X", [[1, 2, 3, 4], [1, 2]], [0, 1], r"X must be a rectangular array"),
    ("ragged_y", X_OK[:2], [[1, 0, 0], [1]], r"y must be a rectangular array"),
    ("none_X", None, Y_OK, r"X is missing"),
    ("labels_out_of_range", X_OK, [0, 1, 2, 3, 1, 2], r"y has class labels outside 0..2"),
]


@pytest.mark.parametrize("X, y, pattern", [c[1:] for c in FIT_CASES], ids=[c[0] for c in FIT_CASES])
@pytest.mark.parametrize("entry", ["fit", "backward", "evaluate", "neuro_fit"])
def test_bad_data_is_named(entry, X, y, pattern):
    with pytest.raises(GlassnetError, match=pattern):
        if entry == "fit":
            _net().fit(X, y, epochs=1, batch_size=2)
        elif entry == "backward":
            _net().backward(X, y)
        elif entry == "evaluate":
            _net().evaluate(X, y)
        else:
            Neuro([4, 5, 3], seed=0, quiet=True).fit(X, y, 1, 2)


@pytest.mark.parametrize("X, pattern", [
    (X_OK[:, :2], r"X has 2 features \(columns\) but the network expects 4"),
    (_with(X_OK, 0, 0, np.nan), r"X contains NaN"),
    (np.array([["x"] * 4]), r"X must hold numbers"),
    (np.empty((0, 4)), r"X is empty"),
])
@pytest.mark.parametrize("method", ["predict", "predict_proba", "forward", "trace"])
def test_bad_inputs_to_prediction(method, X, pattern):
    with pytest.raises(GlassnetError, match=pattern):
        getattr(_net(), method)(X)


@pytest.mark.parametrize("sw, pattern", [
    (np.ones(5), r"sample_weight has 5 entries; X has 6 rows"),
    (np.array([1, 1, -1, 1, 1, 1.0]), r"sample_weight must be >= 0 with a positive sum"),
    (np.zeros(6), r"sample_weight must be >= 0 with a positive sum"),
    (np.array([1, np.nan, 1, 1, 1, 1]), r"sample_weight contains NaN"),
    (np.ones((6, 1)), r"sample_weight must be a 1-D array"),
])
def test_bad_sample_weight(sw, pattern):
    with pytest.raises(GlassnetError, match=pattern):
        _net().fit(X_OK, Y_OK, epochs=1, batch_size=2, sample_weight=sw)


@pytest.mark.parametrize("kwargs, pattern", [
    ({"batch_size": 0}, r"batch_size must be >= 1\. Got 0"),
    ({"batch_size": -3}, r"batch_size must be >= 1\. Got -3"),
    ({"batch_size": 2.0}, r"batch_size must be an integer"),
    ({"batch_size": True}, r"batch_size must be an integer"),
    ({"epochs": -1}, r"epochs must be >= 0\. Got -1"),
    ({"epochs": "10"}, r"epochs must be an integer"),
    ({"learning_rate": 0.0}, r"learning_rate must be > 0"),
    ({"learning_rate": -0.1}, r"learning_rate must be > 0"),
    ({"learning_rate": float("nan")}, r"learning_rate must be finite"),
])
def test_bad_training_arguments(kwargs, pattern):
    net = _net()
    before = net.params.copy()
    with pytest.raises(GlassnetError, match=pattern):
        net.fit(X_OK, Y_OK, **{"epochs": 1, "batch_size": 2, **kwargs})
    np.testing.assert_array_equal(net.params, before)   # nothing trained on bad arguments


def test_epochs_zero_is_allowed_and_trains_nothing():
    net = _net()
    before = net.params.copy()
    assert len(net.fit(X_OK, Y_OK, epochs=0, batch_size=2)) == 0
    np.testing.assert_array_equal(net.params, before)


def test_batch_larger_than_data_is_one_batch():
    a, b = _net(), _net()
    a.fit(X_OK, Y_OK, epochs=1, batch_size=100, shuffle=False)
    b.fit(X_OK, Y_OK, epochs=1, batch_size=6, shuffle=False)
    np.testing.assert_array_equal(a.params, b.params)


# --- construction --------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, pattern", [
    ({"layer_sizes": [4, 0, 3]}, r"layer_sizes\[1\] must be >= 1\. Got 0"),
    ({"layer_sizes": [4, -2, 3]}, r"layer_sizes\[1\] must be >= 1\. Got -2"),
    ({"layer_sizes": [4, 2.5, 3]}, r"layer_sizes\[1\] must be an integer"),
    ({"layer_sizes": [4]}, r"layer_sizes needs at least an input and an output size"),
    ({"layer_sizes": 4}, r"layer_sizes must be a list of layer widths"),
    ({"activation": "rleu"}, r"Unknown activation 'rleu'\. Valid names: \[.*'relu'.*\]"),
    ({"activation": 77}, r"Unknown activation id 77; valid ids are 0=identity, 1=sigmoid"),
    ({"activation": "softmax"}, r"activation 'softmax' can only be used as the output"),
    ({"activation": ["tanh"]}, r"activation was given as a list of 1; expected one per layer \(2\)"),
    ({"output": "softmaxx"}, r"Unknown activation 'softmaxx'"),
    ({"loss": "hinge"}, r"Unknown loss 'hinge'\. Valid names: \['binary_cross_entropy', "
                        r"'cross_entropy', 'squared_error'\]"),
    ({"init": "gaussian"}, r"Unknown init 'gaussian'\. Valid names: \[.*'normal'.*'zeros'\]"),
    ({"init": 3.5}, r"init must be None, a name"),
    ({"dtype": "float16"}, r"dtype must be 'float32' or 'float64'\. Got 'float16'"),
    ({"seed": -1}, r"seed must be >= 0"),
    ({"seed": "abc"}, r"seed must be an integer"),
    ({"layer_sizes": [4, 3, 1], "output": "softmax"}, r"output='softmax' needs at least 2"),
    ({"layer_sizes": [4, 3, 1], "output": "sigmoid", "loss": "cross_entropy"}, r"loss='cross_entropy' needs at least 2"),
    ({"output": "identity", "loss": "cross_entropy"}, r"needs probabilities from output"),
    ({"weights": [np.zeros((4, 5))]}, r"weights must hold 3 arrays"),
    ({"weights": [np.ones((4, 5)), np.ones((5, 5)), np.ones((4, 3))]},
     r"weights\[1\] \(layer 2\) must have shape \(5, 4\); got \(5, 5\)"),
    ({"biases": [np.ones(5), np.ones(4), np.full(3, np.inf)]}, r"biases\[2\] \(layer 3\) contains NaN, inf"),
])
def test_bad_construction_is_named(kwargs, pattern):
    args = {"layer_sizes": [4, 5, 4, 3], "activation": "tanh", **kwargs}
    with pytest.raises(GlassnetError, match=pattern):
        Network(**args)


# --- the helpers themselves ---------------------------------------------------------------------------

def test_check_int():
    assert check_int("n", np.int64(3), minimum=1) == 3
    with pytest.raises(GlassnetError, match=r"n must be an integer\. Got 3\.0 \(float\)"):
        check_int("n", 3.0)
    with pytest.raises(GlassnetError, match=r"n must be an integer"):
        check_int("n", np.bool_(True))
    with pytest.raises(GlassnetError, match=r"n must be >= 1\. Got 0"):
        check_int("n", 0, minimum=1)


def test_check_float():
    assert check_float("lr", 1) == 1.0 and isinstance(check_float("lr", np.float32(0.5)), float)
    with pytest.raises(GlassnetError, match=r"lr must be a real number"):
        check_float("lr", "0.1")
    with pytest.raises(GlassnetError, match=r"lr must be finite\. Got inf"):
        check_float("lr", float("inf"))
    with pytest.raises(GlassnetError, match=r"lr must be > 0"):
        check_float("lr", 0, strictly_positive=True)
    with pytest.raises(GlassnetError, match=r"lr must be >= 0\.5"):
        check_float("lr", 0.25, minimum=0.5)


def test_check_choice_lists_the_choices():
    assert check_choice("mode", "a", ["b", "a"]) == "a"
    with pytest.raises(GlassnetError,
                       match=r"The 'mode' parameter must be one of \['a', 'b'\]\. Got 'c' instead"):
        check_choice("mode", "c", ["b", "a"])


def test_check_dtype():
    assert check_dtype("float32") == np.float32 and check_dtype(np.float64) == np.float64
    assert check_dtype(None) == np.float64   # NumPy's meaning of None: the default
    for bad in ("int64", "nonsense", np.float16, 3):
        with pytest.raises(GlassnetError, match="dtype must be 'float32' or 'float64'"):
            check_dtype(bad)


def test_as_float_array_copies_only_when_needed():
    x = np.arange(12.0).reshape(3, 4)
    assert as_float_array("X", x, np.dtype(np.float64)) is x
    converted = as_float_array("X", x.T, np.dtype(np.float32))
    assert converted.dtype == np.float32 and converted.flags.c_contiguous
    np.testing.assert_array_equal(converted, x.T)
    assert as_float_array("X", [[True, False]], np.dtype(np.float64)).tolist() == [[1.0, 0.0]]
    assert as_float_array("v", [1, 2], np.dtype(np.float64), ndim=(1, 2)).shape == (2,)
    assert as_float_array("X", np.empty((0, 3)), np.dtype(np.float64), allow_empty=True).shape == (0, 3)
    with pytest.raises(GlassnetError, match=r"values too large for float32"):
        as_float_array("X", [[1e300]], np.dtype(np.float32))


# --- every warning glassnet raises points at the caller's line ---------------------------------

def _raise_glassnet_warnings():
    """One of each warning glassnet raises, each from this file; (category, line) pairs."""
    import warnings

    from sklearn.datasets import load_wine

    import glassnet
    from glassnet.sklearn import GlassClassifier
    X, y = load_wine(return_X_y=True)
    lines = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        import inspect
        here = lambda: inspect.currentframe().f_back.f_lineno  # noqa: E731
        lines["SymmetryWarning"] = here() + 1
        Neuro([4, 3, 2], 0.5, "tanh", init="zeros")
        lines["UnscaledInputWarning"] = here() + 1
        Network([13, 4, 3], seed=0).fit(X, y, epochs=1)
        # one pass cannot reach variance 1 when biases shift z
        lsuv = ("lsuv", {"max_passes": 1, "margin": 1e-6})
        Xs = (X - X.mean(axis=0)) / X.std(axis=0)
        net = Network([13, 8, 3], activation="tanh", init=lsuv,
                      bias_init=("normal", {"std": 0.8}), seed=0)
        lines["RuntimeWarning"] = here() + 1
        net.fit(Xs, y, epochs=1)
        lines["ConvergenceWarning"] = here() + 1
        GlassClassifier(hidden_layer_sizes=(4,), max_iter=1).fit(X, y)
    return caught, lines


def test_every_glassnet_warning_points_at_the_callers_line():
    caught, lines = _raise_glassnet_warnings()
    seen = {}
    for w in caught:
        if w.category.__name__ in lines:
            seen.setdefault(w.category.__name__, (w.filename, w.lineno))
    assert set(seen) == set(lines), [str(w.message)[:80] for w in caught]
    for name, (filename, lineno) in seen.items():
        assert (filename, lineno) == (__file__, lines[name]), name
