"""Property-based tests: every public entry point either works or says what was wrong.

The property, for each entry point and each hostile input hypothesis can build (shapes,
dtypes from bool to complex, object and string arrays, NaN, inf, 1e308 into float32, empty
and one-row data, ragged lists, wrong label sets):

* either the call works and returns finite results of the right shape,
* or it raises :class:`glassnet.GlassnetError` (a ``ValueError``) whose message names the
  argument (``X``, ``y``, ``layer_sizes``, ``init``, ...) that was wrong,

never a raw NumPy error (IndexError, TypeError from NumPy internals, AxisError, an
overflow RuntimeWarning turned into an error, ...).  Any exception that is not a
GlassnetError, and any RuntimeWarning from NumPy, fails the test.

Examples are derandomized so every run tests the same inputs; set
``GLASSNET_HYPOTHESIS_EXPLORE=1`` to search with fresh random examples (and many more).
"""
from __future__ import annotations

import contextlib
import math
import os
import re
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import glassnet as gn
from glassnet import GlassnetError, activations, initializers

# the properties feed huge inputs on purpose; the warning about them is tested elsewhere
pytestmark = pytest.mark.filterwarnings("ignore::glassnet.UnscaledInputWarning")

EXPLORE = bool(os.environ.get("GLASSNET_HYPOTHESIS_EXPLORE"))
PROPS = settings(max_examples=400 if EXPLORE else 60, deadline=None, derandomize=not EXPLORE,
                 database=None, suppress_health_check=list(HealthCheck))

N_FEATURES = 4
N_CLASSES = 3


# --- the property ------------------------------------------------------------------------

@contextlib.contextmanager
def strict(lenient=()):
    """NumPy's RuntimeWarnings (overflow, invalid value, divide by zero) become failures,
    except those raised in the ``lenient`` modules (regexes: another library's code)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        warnings.simplefilter("ignore", gn.SymmetryWarning)
        for module in lenient:
            warnings.filterwarnings("ignore", category=RuntimeWarning, module=module)
        with np.errstate(over="warn", invalid="warn", divide="warn", under="ignore"):
            yield


def _names(message: str, name: str) -> bool:
    """True when ``name`` appears in ``message`` as a whole word (``X`` but not ``Xavier``)."""
    return re.search(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", message) is not None


def attempt(call, *names, lenient=()):
    """Run ``call()``; return ``(True, result)``, or ``(False, error)`` for a GlassnetError.

    A GlassnetError must name at least one of ``names``; anything else propagates and fails
    the property.
    """
    with strict(lenient):
        try:
            return True, call()
        except GlassnetError as exc:
            message = str(exc)
            assert message.strip(), "empty error message"
            assert any(_names(message, n) for n in names), (
                f"the error should name one of {names}; got: {message!r}")
            return False, exc


def all_finite(*arrays) -> bool:
    return all(np.all(np.isfinite(np.asarray(a, dtype=np.float64))) for a in arrays)


# --- hostile values ----------------------------------------------------------------------

#: values that break naive code: NaN, inf, too big for float32 (or float16), subnormals
SPECIALS = [np.nan, np.inf, -np.inf, 1e308, -1e308, 1e39, 7e4, 5e-324, -0.0]
NUMERIC_KINDS = ["float64", "float32", "float16", "int64", "int8", "uint8", "bool"]
OTHER_KINDS = ["complex128", "object_numbers", "object_mixed", "str_numbers", "str_words",
               "datetime", "list", "ragged", "none", "scalar", "text", "dict"]


def _floats(draw, shape, specials: bool):
    """A float64 array of ``shape``: ordinary values, now and then special or huge ones."""
    size = math.prod(shape)
    element = st.floats(-5, 5, allow_nan=False)
    if specials:
        mode = draw(st.sampled_from(["special", "huge"]))
        # "huge" values are finite in float64 and overflow float32 (1e39) or any product
        extra = st.sampled_from(SPECIALS if mode == "special" else [1e308, -1e308, 1e39, 1e20])
        element = st.one_of(element, extra)
    return np.array(draw(st.lists(element, min_size=size, max_size=size)),
                    dtype=np.float64).reshape(shape)


@st.composite
def values(draw, shape, kinds=None, specials=True):
    """A value of ``shape`` (or a broken stand-in for one) in one of many representations."""
    kind = draw(st.sampled_from(kinds or NUMERIC_KINDS + NUMERIC_KINDS + OTHER_KINDS))
    base = _floats(draw, shape, specials and draw(st.booleans()))
    if kind.startswith(("float", "int", "uint")):
        with np.errstate(over="ignore", invalid="ignore"):   # the hostile cast is the point
            return base.astype(kind) if kind.startswith("float") else \
                np.nan_to_num(base, posinf=100, neginf=-100).astype(kind)
    if kind == "bool":
        return np.nan_to_num(base) > 0
    if kind == "complex128":
        return base + 1j
    if kind == "object_numbers":
        return base.astype(object)
    if kind == "object_mixed":
        out = base.astype(object)
        if out.size:
            out.flat[draw(st.integers(0, out.size - 1))] = draw(
                st.sampled_from(["cat", None, (1, 2), {"a": 1}, 10 ** 400, b"1"]))
        return out
    if kind == "str_numbers":
        return base.astype(str)
    if kind == "str_words":
        return np.full(shape, draw(st.sampled_from(["cat", "", "1,5", "x"])), dtype=object)
    if kind == "datetime":
        return np.full(shape, np.datetime64("2024-01-01"))
    if kind == "list":
        return base.tolist()
    if kind == "ragged":
        return [[1.0, 2.0], [3.0]] if len(shape) != 1 else [[1.0], 2.0]
    if kind == "none":
        return None
    if kind == "scalar":
        return draw(st.sampled_from([3.0, 0, np.float32(np.nan)]))
    if kind == "text":
        return "data.csv"
    return {"X": base}


#: rows: none, one, a few; columns: right, one short, one too many
rows = st.sampled_from([0, 1, 2, 5])
shapes_2d = st.one_of(
    st.tuples(rows, st.sampled_from([N_FEATURES - 1, N_FEATURES, N_FEATURES, N_FEATURES + 1])),
    st.lists(st.integers(0, 3), min_size=0, max_size=3).map(tuple),
)


@st.composite
def inputs(draw):
    """An X: mostly (n, 4)-shaped, in any representation, now and then any shape at all."""
    return draw(values(draw(shapes_2d)))


@st.composite
def labels(draw, n):
    """A y for ``n`` samples: right or wrong length; good, out-of-range or non-integer labels."""
    n = draw(st.sampled_from([n, n, n, max(n - 1, 0), n + 1]))
    how = draw(st.sampled_from(["good", "good", "onehot", "range", "float", "any"]))
    if how == "good":
        return np.array(draw(st.lists(st.integers(0, N_CLASSES - 1), min_size=n, max_size=n)),
                        dtype=np.int64)
    if how == "onehot":
        return np.eye(N_CLASSES)[draw(st.lists(st.integers(0, N_CLASSES - 1), min_size=n,
                                               max_size=n))].reshape(n, N_CLASSES)
    if how == "range":    # labels the network has no output for, or negative ones
        return np.array(draw(st.lists(st.sampled_from([-1, 0, 3, 7, 2 ** 40]), min_size=n,
                                      max_size=n)))
    if how == "float":    # 0.5, 1e300 (integer-valued but not an int64), NaN
        return np.array(draw(st.lists(st.sampled_from([0.0, 1.0, 0.5, 1e300, np.nan, -np.inf]),
                                      min_size=n, max_size=n)))
    return draw(values(draw(st.sampled_from([(n,), (n, 1), (n, N_CLASSES), (n, 2, 2), ()]))))


def _n_rows(X) -> int:
    """How many samples X claims to have (2 when it is not even a sequence)."""
    if isinstance(X, np.ndarray):
        return X.shape[0] if X.ndim else 2
    return len(X) if isinstance(X, list) else 2


def _network(kind: str, dtype="float64", seed=0) -> gn.Network:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", gn.SymmetryWarning)
        if kind == "softmax":
            return gn.Network([N_FEATURES, 5, N_CLASSES], activation="tanh", seed=seed, dtype=dtype)
        if kind == "sigmoid":
            return gn.Network([N_FEATURES, 5, 1], activation="relu", seed=seed, dtype=dtype)
        return gn.Network([N_FEATURES, 5, 2], activation="relu", output="identity",
                          loss="squared_error", seed=seed, dtype=dtype)


network_kinds = st.sampled_from(["softmax", "sigmoid", "regressor"])
dtypes = st.sampled_from(["float64", "float32"])


# --- Network(...) ------------------------------------------------------------------------

hostile_names = st.one_of(
    st.sampled_from(["relu", "tanh", "RELU", "rleu", "", "softmax", "sigmoid", "1", "logistic",
                     "squared_error", "cross_entropy", "he_normal", "none", "float16"]),
    st.text(max_size=6),
    st.integers(-3, 14),
    st.sampled_from([None, True, 1.5, float("nan"), b"relu", ["relu"], ("relu",), {"a": 1},
                     object(), np.int64(2), np.array(["relu"]), np.array(1)]),
)

layer_size_specs = st.one_of(
    st.lists(st.one_of(st.integers(-2, 6), st.sampled_from([2.0, 2.5, True, "3", None, np.int64(3),
                                                            np.float64(4.0), [3], float("nan")])),
             min_size=0, max_size=4),
    st.sampled_from([4, "4,8,3", None, (4, 3), np.array([4, 3]), np.array([[4, 3]]),
                     np.array([4.0, 3.0]), {4: 3}, range(1, 4), iter([4, 3]), [4, 10 ** 40]]),
)

init_specs = st.one_of(
    hostile_names,
    st.tuples(st.sampled_from(["normal", "uniform", "he_normal", "orthogonal", "sparse",
                               "truncated_normal", "constant", "nope"]),
              st.dictionaries(st.sampled_from(["std", "mean", "low", "high", "gain", "mode",
                                               "sparsity", "value", "a", "b", "bogus"]),
                              st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                                        st.sampled_from(["fan_in", "x", None, [1]])),
                              max_size=2)),
    st.sampled_from([{"name": "normal", "std": -1}, {"std": 1.0}, {"name": 3},
                     ("he_normal", "fan_in"), ["normal", {"std": 0.1}, 3]]),
    st.sampled_from(["callable_shape", "callable_nan", "callable_text", "callable_raises"]),
)


def _callable_init(kind):
    if kind == "callable_shape":
        return lambda fi, fo, rng, dtype: np.zeros((fo, fi + 1))
    if kind == "callable_nan":
        return lambda fi, fo, rng, dtype: np.full((fi, fo), np.nan)
    if kind == "callable_text":
        return lambda fi, fo, rng, dtype: np.full((fi, fo), "w")
    return kind


CONSTRUCTOR_ARGS = {
    "layer_sizes": layer_size_specs,
    "activation": st.one_of(hostile_names, st.lists(hostile_names, max_size=3)),
    "output": hostile_names,
    "loss": hostile_names,
    "init": st.one_of(init_specs, st.lists(init_specs, max_size=3)),
    "bias_init": init_specs,
    "dtype": st.one_of(hostile_names, st.sampled_from([np.float32, np.float16, np.int32, complex,
                                                       "float64", "f4", object])),
    "seed": st.one_of(st.integers(-5, 2 ** 70), st.sampled_from(
        [1.0, 2.5, "7", True, None, [1, 2], np.int64(3), np.float64(3.0), np.random.default_rng(1),
         np.random.RandomState(0)])),
}


@PROPS
@given(arg=st.sampled_from(sorted(CONSTRUCTOR_ARGS)), data=st.data())
def test_network_constructor_names_the_bad_argument(arg, data):
    value = data.draw(CONSTRUCTOR_ARGS[arg], label=arg)
    if arg in ("init", "bias_init"):
        value = ([_callable_init(v) for v in value] if isinstance(value, list)
                 else _callable_init(value))
    kwargs = {"layer_sizes": [N_FEATURES, 3, 2], "activation": "tanh", arg: value}
    # a message may name the argument itself or the name the user gave it as
    names = {"layer_sizes": ("layer_sizes",),
             "activation": ("activation",), "output": ("output", "activation"),
             "loss": ("loss",), "init": ("init",), "bias_init": ("bias_init", "init"),
             "dtype": ("dtype",), "seed": ("seed",)}[arg]
    ok, net = attempt(lambda: gn.Network(**kwargs), *names)
    if ok:
        assert net.n_layers == len(net.layer_sizes) - 1
        assert net.params.dtype in (np.float32, np.float64)
        assert all_finite(net.params)
        X = np.ones((2, net.layer_sizes[0]), net.dtype)
        # an init with huge parameters may make the output overflow: refused, not NaN
        ok, out = attempt(lambda: net.forward(X), "X")
        if ok:
            assert out.shape == (2, net.layer_sizes[-1]) and all_finite(out)


@st.composite
def parameter_lists(draw, shapes):
    """weights= / biases=: right or wrong count, shapes, dtypes and values."""
    how = draw(st.sampled_from(["good", "count", "shape", "values", "scalar", "array", "none_item"]))
    if how == "count":
        shapes = shapes[:-1] if draw(st.booleans()) else shapes + [shapes[-1]]
    if how == "shape":
        i = draw(st.integers(0, len(shapes) - 1))
        shapes = list(shapes)
        shapes[i] = tuple(s + 1 for s in shapes[i])
    if how == "scalar":
        return draw(st.sampled_from([0.5, "w", None, 3]))
    if how == "array":
        return np.zeros(shapes[0])
    kinds = NUMERIC_KINDS + OTHER_KINDS if how == "values" else ["float64", "float32", "int64"]
    out = [draw(values(s, kinds=kinds, specials=how == "values")) for s in shapes]
    if how == "none_item":
        out[0] = None
    return out


@PROPS
@given(dtype=dtypes, data=st.data())
def test_network_weights_and_biases_arguments(dtype, data):
    sizes = [N_FEATURES, 3, 2]
    w = data.draw(parameter_lists([(4, 3), (3, 2)]), label="weights")
    b = data.draw(parameter_lists([(3,), (2,)]), label="biases")
    ok, net = attempt(lambda: gn.Network(sizes, weights=w, biases=b, dtype=dtype),
                      "weights", "biases")
    if ok:
        assert all_finite(net.params) and net.params.dtype == np.dtype(dtype)
        for l, (fi, fo) in enumerate(zip(sizes[:-1], sizes[1:])):
            assert net.weights[l].shape == (fi, fo) and net.biases[l].shape == (fo,)
    # on an existing network: all or nothing, a refused assignment changes no weight
    net = gn.Network(sizes, dtype=dtype, seed=0)
    before = net.params.copy()
    ok, _ = attempt(lambda: net.set_weights(w, b), "weights", "biases")
    if not ok:
        np.testing.assert_array_equal(net.params, before)
    if isinstance(w, list) and len(w) == 2:
        ok, _ = attempt(lambda: net.weights.__setitem__(1, w[1]), "weights")
        if not ok:
            np.testing.assert_array_equal(net.params, before)


# --- predict, predict_proba, forward, evaluate, backward ----------------------------------

@PROPS
@given(kind=network_kinds, dtype=dtypes, X=inputs())
def test_prediction_entry_points(kind, dtype, X):
    net = _network(kind, dtype)
    for method in ("predict", "predict_proba", "forward"):
        if method == "predict_proba" and kind == "regressor":
            ok, err = attempt(lambda: net.predict_proba(X), "predict_proba")
            assert not ok
            continue
        ok, out = attempt(lambda: getattr(net, method)(X), "X")
        if not ok:
            continue
        n = np.asarray(X).shape[0]
        assert out.shape[0] == n and all_finite(out)
        if method == "predict_proba":
            assert out.shape == (n, max(N_CLASSES if kind == "softmax" else 2, 2))
            np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)
            assert np.all((out >= 0) & (out <= 1))
        if method == "predict" and kind != "regressor":
            assert out.shape == (n,) and set(np.unique(out)) <= set(range(N_CLASSES))


def _targets_for(kind, y):
    """The same label set given to a sigmoid network or a regressor, where that makes sense."""
    if kind == "sigmoid" and isinstance(y, np.ndarray) and y.dtype.kind in "iu":
        return y.clip(-1, 2) % 3 // 2 if y.size and y.max() < 10 else y
    return y


@PROPS
@given(kind=network_kinds, dtype=dtypes, X=inputs(), data=st.data())
def test_evaluate_and_backward(kind, dtype, X, data):
    net = _network(kind, dtype)
    n = _n_rows(X)
    y = _targets_for(kind, data.draw(labels(n), label="y"))
    before = net.params.copy()
    ok, report = attempt(lambda: net.evaluate(X, y), "X", "y")
    if ok:
        assert set(report) >= {"loss"} and all_finite(list(report.values()))
    ok, grads = attempt(lambda: net.backward(X, y), "X", "y")
    if ok:
        assert all_finite(grads.loss, *grads.weights, *grads.biases)
        assert [g.shape for g in grads.weights] == [w.shape for w in net.weights]
    np.testing.assert_array_equal(net.params, before)   # neither call moves the weights


@PROPS
@given(data=st.data())
def test_sample_weight(data):
    net = _network("softmax")
    X = np.random.default_rng(0).normal(size=(5, N_FEATURES))
    y = np.array([0, 1, 2, 1, 0])
    sw = data.draw(st.one_of(values((5,)), values((4,)), values((5, 1)),
                             st.sampled_from([[0, 0, 0, 0, 0], [-1, 1, 1, 1, 1]])),
                   label="sample_weight")
    ok, report = attempt(lambda: net.evaluate(X, y, sample_weight=sw), "sample_weight")
    if ok:
        assert all_finite(list(report.values()))
    ok, grads = attempt(lambda: net.backward(X, y, sample_weight=sw), "sample_weight")
    if ok:
        assert all_finite(grads.loss, *grads.weights, *grads.biases)


# --- fit ------------------------------------------------------------------------------------

FIT_OPTIONS = {
    "epochs": st.one_of(st.integers(-1, 3), st.sampled_from([1.5, "2", None, True])),
    "batch_size": st.one_of(st.integers(-1, 8), st.sampled_from([0.5, "all", None, 2 ** 40])),
    "learning_rate": st.one_of(st.floats(-1, 1), st.sampled_from(
        [0.0, float("nan"), float("inf"), "fast", None, 1e-3, [0.1]])),
    "optimizer": hostile_names,
}


@PROPS
@given(kind=network_kinds, dtype=dtypes, X=inputs(), data=st.data())
def test_fit_data(kind, dtype, X, data):
    net = _network(kind, dtype)
    n = _n_rows(X)
    y = _targets_for(kind, data.draw(labels(n), label="y"))
    before = net.params.copy()
    ok, result = attempt(lambda: net.fit(X, y, epochs=2, batch_size=2, learning_rate=0.05),
                         "X", "y", "diverged")
    assert all_finite(net.params)
    if ok:
        assert len(result.loss) == 2 and all_finite(result.loss)
    elif isinstance(result, gn.DivergenceError):   # huge values: stopped, weights restored
        assert 0 <= result.epoch < 2 and len(result.history) == result.epoch
    else:  # refused before training: the network is untouched
        np.testing.assert_array_equal(net.params, before)


@PROPS
@given(option=st.sampled_from(sorted(FIT_OPTIONS)), data=st.data())
def test_fit_options(option, data):
    net = _network("softmax")
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(6, N_FEATURES)), np.array([0, 1, 2, 0, 1, 2])
    value = data.draw(FIT_OPTIONS[option], label=option)
    ok, history = attempt(lambda: net.fit(X, y, **{option: value}), option)
    assert all_finite(net.params)
    if ok:
        assert all_finite(history.loss)


def _iris(rows=60, scale=1.0):
    """Standardized iris rows (every class), times ``scale``: real data for the properties."""
    from sklearn.datasets import load_iris
    X, y = load_iris(return_X_y=True)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    pick = np.random.default_rng(0).permutation(len(X))[:rows]
    return X[pick] * scale, y[pick]


def _divergence_net(kind, dtype, seed):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", gn.SymmetryWarning)
        if kind == "softmax":
            return gn.Network([4, 16, 3], activation="relu", seed=seed, dtype=dtype)
        if kind == "sigmoid":
            return gn.Network([4, 16, 1], activation="tanh", seed=seed, dtype=dtype)
        return gn.Network([4, 16, 1], activation="relu", output="identity",
                          loss="squared_error", seed=seed, dtype=dtype)


@settings(PROPS, max_examples=200 if EXPLORE else 60)
@given(learning_rate=st.floats(-3, 6).map(lambda e: 10.0 ** e),   # log-uniform 1e-3 .. 1e6
       optimizer=st.sampled_from(gn.optimizers.NAMES),
       kind=network_kinds, dtype=dtypes, scale=st.sampled_from([1.0, 1.0, 1e3, 1e8]),
       seed=st.integers(0, 3))
def test_fit_never_leaves_nan_whatever_the_learning_rate(learning_rate, optimizer, kind, dtype,
                                                         scale, seed):
    """Either training works, or a DivergenceError says where and the weights are the last
    finite ones: exactly those of a run stopped before the epoch that diverged."""
    X, y = _iris(scale=scale)
    if kind == "sigmoid":
        y = (y == 2).astype(int)
    elif kind == "regressor":
        y = X[:, 3] * 2.0 + 1.0
    options = dict(batch_size=16, optimizer=optimizer, learning_rate=learning_rate)
    net = _divergence_net(kind, dtype, seed)
    with strict():
        try:
            history = net.fit(X, y, epochs=3, **options)
        except gn.DivergenceError as err:
            event(f"diverged in epoch {err.epoch + 1}")
            message = str(err)
            assert all_finite(net.params), "the network was left holding NaN or inf"
            assert 0 <= err.epoch < 3 and 0 <= err.batch < 4
            assert f"epoch {err.epoch + 1}/3" in message and f"batch {err.batch + 1}/4" in message
            assert "learning rate" in message.lower()
            assert len(err.history) == err.epoch and all_finite(err.history.loss)
            replay = _divergence_net(kind, dtype, seed)
            if err.epoch:
                replay.fit(X, y, epochs=err.epoch, **options)
            np.testing.assert_array_equal(net.params, replay.params)
        else:
            event("trained")
            assert len(history.loss) == 3 and all_finite(history.loss, net.params)
    # finite weights can still be so large that the output overflows: refused, never NaN
    ok, out = attempt(lambda: net.predict(X), "X")
    if ok:
        assert out.shape == (len(X),) and all_finite(out)


def test_divergence_property_sees_both_outcomes():
    """The property above is not vacuous: the same setup trains at 1e-2 and diverges at 1e6."""
    X, y = _iris()
    net = _divergence_net("softmax", "float64", 0)
    with strict():
        history = net.fit(X, y, epochs=3, batch_size=16, optimizer="sgd", learning_rate=1e-2)
    assert history.loss[-1] < history.loss[0]
    net = _divergence_net("regressor", "float32", 0)
    with strict(), pytest.raises(gn.DivergenceError):
        net.fit(X * 1e3, X[:, 3], epochs=3, batch_size=16, optimizer="sgd", learning_rate=1e6)
    assert all_finite(net.params)
    neuro = gn.Neuro([4, 6, 3], 1e6, [3, 0], seed=0, quiet=True)
    with strict(), pytest.raises(gn.DivergenceError):
        neuro.fit(X * 1e3, np.eye(3)[y], 3, 16)
    assert all_finite(neuro.params)


# --- Neuro, the hand-written API --------------------------------------------------------------

@PROPS
@given(cellnum=layer_size_specs,
       learning_rate=st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                               st.sampled_from(["0.1", None, 0.1])),
       activators=st.one_of(hostile_names, st.lists(st.integers(-1, 11), max_size=3)))
def test_neuro_constructor(cellnum, learning_rate, activators):
    ok, net = attempt(lambda: gn.Neuro(cellnum, learning_rate, activators, quiet=True),
                      "cellnum", "layer_sizes", "learning_rate", "activators", "activation",
                      "output")
    if ok:
        assert all_finite(net.params) and len(net.w) == len(net.b) == net.layer_num


@PROPS
@given(x=inputs(), data=st.data(), epochs=st.sampled_from([1, 2, 0, -1, 1.0]),
       batch_size=st.sampled_from([1, 2, 5, 0, "2"]))
def test_neuro_fit(x, data, epochs, batch_size):
    net = gn.Neuro([N_FEATURES, 3, 2], 0.5, 1, seed=0, quiet=True)
    n = _n_rows(x)
    y = data.draw(st.one_of(values((n, 2)), values((n,)), values((n, 3))), label="y")
    ok, history = attempt(lambda: net.fit(x, y, epochs, batch_size), "x", "X", "y", "epochs",
                          "batch_size", "diverged")
    assert all_finite(net.params)
    if ok:
        assert len(history.loss) == epochs and all_finite(history.loss)


@settings(PROPS, max_examples=200 if EXPLORE else 60)
@given(learning_rate=st.floats(-3, 7).map(lambda e: 10.0 ** e),
       activators=st.sampled_from([1, 2, 3, [3, 0], [2, 1]]), scale=st.sampled_from([1.0, 1e3]),
       batch_size=st.sampled_from([1, 16, 60]))
def test_neuro_fit_never_leaves_nan(learning_rate, activators, scale, batch_size):
    X, y = _iris(scale=scale)
    Y = np.eye(3)[y]
    net = gn.Neuro([4, 6, 3], learning_rate, activators, seed=0, quiet=True)
    with strict():
        try:
            history = net.fit(X, Y, 3, batch_size)
        except gn.DivergenceError as err:
            event("diverged")
            assert all_finite(net.params) and len(err.history) == err.epoch
            assert f"epoch {err.epoch + 1}/3" in str(err) and "learning rate" in str(err)
            replay = gn.Neuro([4, 6, 3], learning_rate, activators, seed=0, quiet=True)
            if err.epoch:
                replay.fit(X, Y, err.epoch, batch_size)
            np.testing.assert_array_equal(net.params, replay.params)
        else:
            event("trained")
            assert all_finite(net.params, history.loss)


# --- initializers and activations ---------------------------------------------------------------

param_values = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-3, 3),
                         st.sampled_from(["fan_in", "fan_out", "fan_avg", "normal", "relu",
                                          "leaky_relu", "x", None, True, [1.0], "0.5"]))


@PROPS
@given(name=st.one_of(st.sampled_from(initializers.NAMES + tuple(initializers.ALIASES)),
                      hostile_names),
       params=st.dictionaries(st.sampled_from(
           ["mean", "std", "low", "high", "a", "b", "gain", "mode", "nonlinearity",
            "negative_slope", "scale", "distribution", "sparsity", "value", "activation",
            "margin", "max_passes", "bogus"]), param_values, max_size=3),
       fan_in=st.one_of(st.integers(-1, 6), st.sampled_from([2.0, "3", None, True])),
       fan_out=st.integers(-1, 6),
       rng=st.sampled_from(["generator", None, 0, "legacy"]),
       dtype=st.sampled_from(["float64", "float32", "float16", "int64", None]),
       shape=st.sampled_from([None, (3,), (2, 3), (2, 2, 2), (0,), "3", (2.5,)]))
def test_initializers_get_and_draw(name, params, fan_in, fan_out, rng, dtype, shape):
    ok, init = attempt(lambda: initializers.get(name, **params), "init", "name", *params)
    if not ok:
        return
    generator = {"generator": np.random.default_rng(0), "legacy": np.random.RandomState(0)}.get(
        rng, rng)
    ok, w = attempt(lambda: init(fan_in, fan_out, generator, dtype, shape=shape),
                    "fan_in", "fan_out", "rng", "dtype", "shape", "init", "LSUV")
    if ok:
        expected = (fan_in, fan_out) if shape is None else tuple(shape)
        assert w.shape == expected and w.dtype == np.dtype(dtype or "float64") and all_finite(w)


@PROPS
@given(spec=init_specs,
       activation=st.one_of(st.sampled_from(activations.NAMES), hostile_names))
def test_initializers_resolve(spec, activation):
    spec = _callable_init(spec)
    ok, init = attempt(lambda: initializers.resolve(spec, activation), "init", "activation",
                       "name")
    if ok:
        ok, w = attempt(lambda: init(3, 2, np.random.default_rng(0)), "init", spec
                        if isinstance(spec, str) else "init")
        if ok:
            assert w.shape == (3, 2) and all_finite(w)


@PROPS
@given(nonlinearity=st.one_of(st.sampled_from(initializers.GAIN_NAMES), hostile_names),
       param=st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True),
                       st.sampled_from(["0.2", [0.1], True])))
def test_calculate_gain(nonlinearity, param):
    ok, gain = attempt(lambda: initializers.calculate_gain(nonlinearity, param),
                       "nonlinearity", "negative_slope", "param")
    if ok:
        assert isinstance(gain, float) and math.isfinite(gain) and gain > 0


@PROPS
@given(key=st.one_of(st.sampled_from(activations.NAMES + tuple(activations.IDS)), hostile_names),
       params=st.dictionaries(st.sampled_from(["slope", "alpha", "beta"]), st.one_of(
           st.floats(-10, 10), st.sampled_from([np.nan, np.inf, "0.1", "fan_in", None, [0.1]])),
           max_size=2),
       z=values((3, 2), kinds=["float64", "float32"], specials=False))
def test_activations_get_and_activator(key, params, z):
    ok, act = attempt(lambda: activations.get(key, **params), "activation", "slope", "alpha")
    if ok:
        with strict():
            for fn in (act.f, act.df):
                out = fn(z)
                assert out.shape[:2] == z.shape and all_finite(out)
    ok, act = attempt(lambda: activations.activator(key), "activation", "id")
    if ok:
        with strict():
            assert all_finite(act.function()(z), act.derivative()(z))


# --- the scikit-learn estimators -----------------------------------------------------------------

#: sklearn's own validation messages speak of "array", "samples", "features", "Input" ...
SKLEARN_WORDS = ("X", "y", "sample_weight", "array", "samples", "sample", "features", "feature",
                 "classes", "class", "Input", "input", "dtype", "diverged", "NaN", "labels",
                 "target", "values")

ESTIMATOR_PARAMS = {
    "hidden_layer_sizes": st.one_of(st.lists(st.integers(-1, 4), max_size=3).map(tuple),
                                    st.sampled_from([0, 3, "5", None, (2.5,), [(3,)], True])),
    "activation": hostile_names,
    "init": init_specs,
    "optimizer": hostile_names,
    "learning_rate": st.one_of(st.floats(-1, 10), st.sampled_from([0.0, np.nan, np.inf, "0.1",
                                                                   None, 1e30])),
    "alpha": st.one_of(st.floats(-1, 1), st.sampled_from([np.nan, np.inf, "0", None])),
    "batch_size": st.one_of(st.integers(-1, 100), st.sampled_from(["auto", "all", 2.5, None])),
    "max_iter": st.one_of(st.integers(-1, 3), st.sampled_from([1.5, "3", None])),
    "random_state": st.one_of(st.integers(-2, 5), st.sampled_from(["0", 1.5, None, True])),
    "dtype": st.sampled_from(["float32", "float16", "int", None, np.float32, "x"]),
    "schedule": hostile_names,
    "validation_fraction": st.one_of(st.floats(-1, 2), st.sampled_from([np.nan, "0.1"])),
    "early_stopping": st.sampled_from([True, False, "yes", 1, None]),
}


def _estimator(kind, **params):
    from glassnet.sklearn import GlassClassifier, GlassRegressor
    base = dict(hidden_layer_sizes=(5,), max_iter=3, random_state=0)
    cls = GlassClassifier if kind == "classifier" else GlassRegressor
    return cls(**{**base, **params})


@contextlib.contextmanager
def quiet_sklearn():
    from sklearn.exceptions import ConvergenceWarning
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.filterwarnings("ignore", message="Got `batch_size` larger")
        yield


@PROPS
@given(kind=st.sampled_from(["classifier", "regressor"]),
       param=st.sampled_from(sorted(ESTIMATOR_PARAMS)), data=st.data())
def test_estimator_hyperparameters(kind, param, data):
    value = data.draw(ESTIMATOR_PARAMS[param], label=param)
    if param == "init":
        value = _callable_init(value)
    X, y = _iris(rows=30)
    target = y if kind == "classifier" else X[:, 3]
    est = _estimator(kind, **{param: value})
    names = (param, "init", "activation", "classes", "diverged", "hidden_layer_sizes")
    with quiet_sklearn():
        ok, fitted = attempt(lambda: est.fit(X[:, :3], target), *names)
        if ok:
            ok, pred = attempt(lambda: fitted.predict(X[:, :3]), "X", "output")
            if ok:
                assert pred.shape == (30,) and (kind == "classifier" or all_finite(pred))


@PROPS
@given(kind=st.sampled_from(["classifier", "regressor"]), X=inputs(), data=st.data())
def test_estimator_fit_data(kind, X, data):
    n = _n_rows(X)
    y = data.draw(st.one_of(labels(n), values((n,)), st.sampled_from(
        [np.array(["cat", "dog", "cat", "emu", "dog"][:n]), np.array([True, False] * 3)[:n]])),
                  label="y")
    est = _estimator(kind)
    with quiet_sklearn():
        ok, fitted = attempt(lambda: est.fit(X, y), *SKLEARN_WORDS)
    if ok:
        assert all_finite(fitted.network_.params)
        ok, pred = attempt(lambda: fitted.predict(X), *SKLEARN_WORDS)
        if ok:
            assert len(pred) == n


@PROPS
@given(kind=st.sampled_from(["classifier", "regressor"]),
       columns=st.sampled_from([2, 3, 4, 5]), X=inputs())
def test_estimator_predict_after_fit(kind, columns, X):
    """Wrong feature counts, and every hostile X, at predict time after a good fit."""
    Xg, y = _iris(rows=40)
    est = _estimator(kind)
    with quiet_sklearn():
        est.fit(Xg[:, :N_FEATURES], y if kind == "classifier" else Xg[:, 3])
    wrong = np.random.default_rng(0).normal(size=(3, columns))
    methods = ["predict", "score"] + (["predict_proba"] if kind == "classifier" else [])
    for candidate in (wrong, X):
        for method in methods:
            call = (lambda: est.score(candidate, np.zeros(_n_rows(candidate)))) \
                if method == "score" else (lambda: getattr(est, method)(candidate))
            # score is scikit-learn's own (r2_score squares huge predictions and warns)
            ok, out = attempt(call, *SKLEARN_WORDS, lenient=[r"sklearn\.metrics"])
            if ok and method != "score":
                assert len(out) == _n_rows(candidate) and all_finite(out)
            if columns != N_FEATURES and candidate is wrong:
                assert not ok and _names(str(out), "features")


def test_estimator_unseen_labels_and_unfitted():
    from glassnet.sklearn import GlassClassifier, NotFittedError
    X, y = _iris(rows=40)
    clf = GlassClassifier(hidden_layer_sizes=(4,), max_iter=2, random_state=0)
    with pytest.raises(NotFittedError, match="not fitted"):
        clf.predict(X)
    assert issubclass(NotFittedError, GlassnetError)
    with pytest.raises(GlassnetError, match="classes"):
        clf.partial_fit(X, y)                       # the first call must name every class
    clf.partial_fit(X, y, classes=[0, 1, 2])
    with pytest.raises(GlassnetError, match=r"classes \[7\]"):
        clf.partial_fit(X, np.where(y == 2, 7, y))  # a label the stream never announced
    with pytest.raises(GlassnetError, match="classes"):
        clf.partial_fit(X, y, classes=[0, 1, 2, 3])
    with quiet_sklearn(), pytest.raises(GlassnetError, match="one class"):
        GlassClassifier(max_iter=2).fit(X, np.zeros(len(X)))


@settings(PROPS, max_examples=200 if EXPLORE else 30)
@given(learning_rate=st.floats(-2, 6).map(lambda e: 10.0 ** e),
       optimizer=st.sampled_from(["sgd", "adam", "momentum"]),
       kind=st.sampled_from(["classifier", "regressor"]))
def test_estimator_never_left_holding_nan(learning_rate, optimizer, kind):
    X, y = _iris(rows=40, scale=1e3)
    est = _estimator(kind, learning_rate=learning_rate, optimizer=optimizer, standardize=False,
                     max_iter=4, batch_size=10)
    with quiet_sklearn(), strict():
        try:
            est.fit(X, y if kind == "classifier" else X[:, 3])
        except gn.DivergenceError as err:
            event("diverged")
            assert "learning rate" in str(err).lower()
        else:
            event("trained")
    net = est.__dict__.get("network_")
    assert net is None or all_finite(net.params)
