"""Tests for glassnet.initializers, driven by the registry.

Every random scheme is checked against its formula on a large draw (mean, std, bounds) and
against ``torch.nn.init`` on the same shape; adding a scheme without a row in ``CASES``
fails ``test_every_scheme_has_a_statistics_case``.
"""
from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from scipy import stats

from glassnet import initializers as I
from glassnet._validation import GlassnetError
from glassnet.network import Network

tinit = torch.nn.init

FI, FO = 400, 600  # a non-square shape, so a fan_in / fan_out mix-up shows
N = FI * FO


def _tg(seed=0):
    return torch.Generator().manual_seed(seed)


def _torch_draw(fill, seed=0):
    """torch's weight is (fan_out, fan_in); return it in glassnet's (fan_in, fan_out)."""
    t = torch.empty(FO, FI, dtype=torch.float64)
    fill(t, _tg(seed))
    return t.numpy().T.copy()


def _trunc(mean, std, a, b):
    """scipy's truncated normal, an oracle independent of the module."""
    return stats.truncnorm((a - mean) / std, (b - mean) / std, loc=mean, scale=std)


# (name, params, expected {mean, std, low, high, reach, zero_fraction}, torch fill(t, g))
s_in, s_out, s_avg = 1 / math.sqrt(FI), 1 / math.sqrt(FO), math.sqrt(2 / (FI + FO))
_vs = math.sqrt(1 / FO) / 0.87962566103423978
CASES = [
    ("normal", {"mean": 0.5, "std": 2.0}, {"mean": 0.5, "std": 2.0},
     lambda t, g: tinit.normal_(t, 0.5, 2.0, generator=g)),
    ("uniform", {"low": -1.0, "high": 3.0}, {"mean": 1.0, "std": 4 / math.sqrt(12), "low": -1, "high": 3},
     lambda t, g: tinit.uniform_(t, -1.0, 3.0, generator=g)),
    ("truncated_normal", {}, {"mean": 0.0, "std": _trunc(0, 1, -2, 2).std(), "low": -2, "high": 2},
     lambda t, g: tinit.trunc_normal_(t, generator=g)),
    ("truncated_normal", {"mean": 1.0, "std": 0.5, "a": 0.0, "b": 3.0},
     {"mean": _trunc(1, 0.5, 0, 3).mean(), "std": _trunc(1, 0.5, 0, 3).std(), "low": 0, "high": 3,
      "reach": ("low",)},  # b = 3 is 4 std out: no draw need come near it
     lambda t, g: tinit.trunc_normal_(t, 1.0, 0.5, 0.0, 3.0, generator=g)),
    # little mass inside [a, b]: the other sampler
    ("truncated_normal", {"mean": 0.0, "std": 1.0, "a": 1.5, "b": 4.0},
     {"mean": _trunc(0, 1, 1.5, 4).mean(), "std": _trunc(0, 1, 1.5, 4).std(), "low": 1.5, "high": 4,
      "reach": ("low",)},
     lambda t, g: tinit.trunc_normal_(t, 0.0, 1.0, 1.5, 4.0, generator=g)),
    ("xavier_uniform", {}, {"mean": 0.0, "std": s_avg, "low": -math.sqrt(6 / (FI + FO)),
                            "high": math.sqrt(6 / (FI + FO))},
     lambda t, g: tinit.xavier_uniform_(t, generator=g)),
    ("xavier_uniform", {"gain": 5 / 3}, {"mean": 0.0, "std": 5 / 3 * s_avg},
     lambda t, g: tinit.xavier_uniform_(t, gain=5 / 3, generator=g)),
    ("xavier_normal", {"gain": 2.0}, {"mean": 0.0, "std": 2 * s_avg},
     lambda t, g: tinit.xavier_normal_(t, gain=2.0, generator=g)),
    ("he_uniform", {}, {"mean": 0.0, "std": math.sqrt(2) * s_in, "low": -math.sqrt(6 / FI),
                        "high": math.sqrt(6 / FI)},
     lambda t, g: tinit.kaiming_uniform_(t, nonlinearity="relu", generator=g)),
    ("he_uniform", {"mode": "fan_out", "nonlinearity": "leaky_relu", "negative_slope": 0.2},
     {"mean": 0.0, "std": math.sqrt(2 / (1 + 0.2 ** 2)) * s_out},
     lambda t, g: tinit.kaiming_uniform_(t, a=0.2, mode="fan_out", generator=g)),
    ("he_normal", {}, {"mean": 0.0, "std": math.sqrt(2) * s_in},
     lambda t, g: tinit.kaiming_normal_(t, nonlinearity="relu", generator=g)),
    ("he_normal", {"mode": "fan_out", "nonlinearity": "tanh"}, {"mean": 0.0, "std": 5 / 3 * s_out},
     lambda t, g: tinit.kaiming_normal_(t, mode="fan_out", nonlinearity="tanh", generator=g)),
    ("lecun_uniform", {}, {"mean": 0.0, "std": s_in, "low": -math.sqrt(3 / FI), "high": math.sqrt(3 / FI)},
     lambda t, g: tinit.kaiming_uniform_(t, nonlinearity="linear", generator=g)),
    ("lecun_normal", {}, {"mean": 0.0, "std": s_in},
     lambda t, g: tinit.kaiming_normal_(t, nonlinearity="linear", generator=g)),
    ("variance_scaling", {"scale": 2.0, "mode": "fan_in", "distribution": "normal"},
     {"mean": 0.0, "std": math.sqrt(2) * s_in},
     lambda t, g: tinit.kaiming_normal_(t, nonlinearity="relu", generator=g)),
    ("variance_scaling", {"scale": 1.0, "mode": "fan_avg", "distribution": "uniform"},
     {"mean": 0.0, "std": s_avg, "low": -math.sqrt(6 / (FI + FO)), "high": math.sqrt(6 / (FI + FO))},
     lambda t, g: tinit.xavier_uniform_(t, generator=g)),
    # corrected: the truncated draw's std is exactly sqrt(scale / fan)
    ("variance_scaling", {"scale": 1.0, "mode": "fan_out"},
     {"mean": 0.0, "std": s_out, "low": -2 * _vs, "high": 2 * _vs},
     lambda t, g: tinit.trunc_normal_(t, 0.0, _vs, -2 * _vs, 2 * _vs, generator=g)),
    ("variance_scaling", {"scale": 0.5, "mode": "fan_geo_avg", "distribution": "normal"},
     {"mean": 0.0, "std": math.sqrt(0.5 / math.sqrt(FI * FO))},
     lambda t, g: tinit.normal_(t, 0.0, math.sqrt(0.5 / math.sqrt(FI * FO)), generator=g)),
    ("orthogonal", {}, {"mean": 0.0, "std": 1 / math.sqrt(FO)},
     lambda t, g: tinit.orthogonal_(t, generator=g)),
    ("orthogonal", {"gain": 2.0}, {"mean": 0.0, "std": 2 / math.sqrt(FO)},
     lambda t, g: tinit.orthogonal_(t, gain=2.0, generator=g)),
    ("sparse", {"sparsity": 0.25, "std": 0.5}, {"mean": 0.0, "std": 0.5 * math.sqrt(0.75), "zero_fraction": 0.25},
     lambda t, g: tinit.sparse_(t, 0.25, 0.5, generator=g)),
    ("sklearn", {}, {"mean": 0.0, "std": s_avg, "low": -math.sqrt(6 / (FI + FO)), "high": math.sqrt(6 / (FI + FO))},
     lambda t, g: tinit.xavier_uniform_(t, generator=g)),
    ("sklearn", {"activation": "logistic"},
     {"mean": 0.0, "std": s_avg / math.sqrt(3), "low": -math.sqrt(2 / (FI + FO)), "high": math.sqrt(2 / (FI + FO))},
     lambda t, g: tinit.xavier_uniform_(t, gain=1 / math.sqrt(3), generator=g)),
    ("torch_linear", {}, {"mean": 0.0, "std": s_in / math.sqrt(3), "low": -s_in, "high": s_in},
     lambda t, g: tinit.kaiming_uniform_(t, a=math.sqrt(5), generator=g)),
    ("lsuv", {}, {"mean": 0.0, "std": 1 / math.sqrt(FO)},
     lambda t, g: tinit.orthogonal_(t, generator=g)),
]
DETERMINISTIC = {
    "zeros": (lambda t: tinit.zeros_(t), {}),
    "ones": (lambda t: tinit.ones_(t), {}),
    "constant": (lambda t: tinit.constant_(t, -0.25), {"value": -0.25}),
    "identity": (lambda t: tinit.eye_(t), {}),
}


def _case_id(case):
    name, params = case[0], case[1]
    return name + ("" if not params else "-" + "-".join(f"{k}={v}" for k, v in params.items()))


def test_every_scheme_has_a_statistics_case():
    covered = {c[0] for c in CASES} | set(DETERMINISTIC)
    assert covered == set(I.NAMES)


def _kurtosis(x):
    x = x - x.mean()
    return float(np.mean(x ** 4) / np.mean(x ** 2) ** 2)


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_random_scheme_matches_formula_and_torch(case):
    name, params, expect, fill = case
    w = I.get(name, **params)(FI, FO, np.random.default_rng(0))
    tw = _torch_draw(fill)
    assert w.shape == (FI, FO) and w.dtype == np.float64
    std = expect["std"]
    # tolerances are >= 5 standard errors for 240,000 draws
    for x in (w, tw):
        assert abs(x.mean() - expect["mean"]) < 0.012 * std
        assert x.std() == pytest.approx(std, rel=0.01)
        if "low" in expect:
            width = expect["high"] - expect["low"]
            assert expect["low"] <= x.min() and x.max() <= expect["high"]
            reach = expect.get("reach", ("low", "high"))  # bounds with mass near them
            assert "low" not in reach or x.min() < expect["low"] + 1e-3 * width
            assert "high" not in reach or x.max() > expect["high"] - 1e-3 * width
        if "zero_fraction" in expect:
            assert np.mean(x == 0) == pytest.approx(expect["zero_fraction"], abs=1e-12)
    assert w.std() == pytest.approx(tw.std(), rel=0.015)
    assert _kurtosis(w) == pytest.approx(_kurtosis(tw), abs=0.08)  # same shape of distribution


@pytest.mark.parametrize("name", sorted(DETERMINISTIC))
def test_deterministic_scheme_equals_torch(name):
    fill, params = DETERMINISTIC[name]
    t = torch.empty(FO, FI, dtype=torch.float64)
    fill(t)
    np.testing.assert_array_equal(I.get(name, **params)(FI, FO, None), t.numpy().T)


def test_identity_is_rectangular_eye_with_gain():
    np.testing.assert_array_equal(I.get("eye", gain=2.0)(3, 5, None), 2 * np.eye(3, 5))
    np.testing.assert_array_equal(I.get("identity")(5, 3, None), np.eye(5, 3))


def test_torch_linear_matches_nn_linear():
    torch.manual_seed(0)
    layer = torch.nn.Linear(FI, FO, dtype=torch.float64)
    tw, tb = layer.weight.detach().numpy().T, layer.bias.detach().numpy()
    init = I.get("torch_linear")
    rng = np.random.default_rng(0)
    w, b = init(FI, FO, rng), init.bias(FI, FO, rng, shape=(FO,))
    bound = 1 / math.sqrt(FI)
    for x, y in ((w, tw), (b, tb)):
        assert np.abs(x).max() <= bound and np.abs(y).max() <= bound
        assert np.abs(x).max() > 0.99 * bound and np.abs(y).max() > 0.99 * bound
    assert w.std() == pytest.approx(tw.std(), rel=0.015)


# --- truncated normal: std is NOT corrected (torch's meaning) --------------------------------

def test_truncated_normal_std_is_not_corrected():
    w = I.get("truncated_normal", std=0.1, a=-0.2, b=0.2)(500, 500, np.random.default_rng(1))
    # the draw's std is 0.8796 of the requested std: truncation at +-2 std, not rescaled
    assert w.std() == pytest.approx(0.1 * 0.87962566103423978, rel=0.005)
    assert I.TRUNCATED_STD_2 == pytest.approx(_trunc(0, 1, -2, 2).std(), rel=1e-12)


def test_variance_scaling_truncated_normal_is_corrected():
    w = I.get("variance_scaling", scale=2.0, mode="fan_in")(250, 1000, np.random.default_rng(1))
    assert w.std() == pytest.approx(math.sqrt(2 / 250), rel=0.005)
    assert np.abs(w).max() <= 2 * math.sqrt(2 / 250) / I.TRUNCATED_STD_2


# --- calculate_gain ---------------------------------------------------------------------------

TORCH_GAIN_NAMES = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                    "conv_transpose3d", "sigmoid", "tanh", "relu", "leaky_relu", "selu"]


@pytest.mark.parametrize("name", TORCH_GAIN_NAMES)
@pytest.mark.parametrize("param", [None, 0, 0.2, 1, -0.5, 3.0])
def test_calculate_gain_equals_torch(name, param):
    assert I.calculate_gain(name, param) == pytest.approx(tinit.calculate_gain(name, param), rel=1e-15)


def test_calculate_gain_aliases_and_table():
    assert I.calculate_gain("identity") == tinit.calculate_gain("linear") == 1
    assert I.calculate_gain("logistic") == tinit.calculate_gain("sigmoid") == 1
    assert I.calculate_gain("tanh") == 5 / 3
    assert I.calculate_gain("relu") == math.sqrt(2)
    assert I.calculate_gain("leaky_relu", 0.3) == math.sqrt(2 / (1 + 0.3 ** 2))
    assert I.calculate_gain("selu") == 3 / 4
    assert set(TORCH_GAIN_NAMES) <= set(I.GAIN_NAMES)


def test_calculate_gain_rejects_what_torch_rejects():
    for name in ("gelu", "softmax", "elu"):
        with pytest.raises(GlassnetError, match="nonlinearity"):
            I.calculate_gain(name)
        with pytest.raises(ValueError):
            tinit.calculate_gain(name)
    with pytest.raises(GlassnetError, match="param"):
        I.calculate_gain("leaky_relu", True)


# --- orthogonal ---------------------------------------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(fi=st.integers(1, 48), fo=st.integers(1, 48), gain=st.floats(-3, 3),
       seed=st.integers(0, 2 ** 32 - 1))
def test_orthogonal_is_orthonormal_along_the_smaller_side(fi, fo, gain, seed):
    w = I.get("orthogonal", gain=gain)(fi, fo, np.random.default_rng(seed))
    gram = w.T @ w if fi >= fo else w @ w.T
    np.testing.assert_allclose(gram, gain ** 2 * np.eye(min(fi, fo)), rtol=0, atol=1e-10)


def test_orthogonal_orientation_matches_torch():
    # torch fills its (fan_out, fan_in) weight; transposed it is ours, same Gram identity
    for fi, fo in ((30, 10), (10, 30)):
        t = torch.empty(fo, fi, dtype=torch.float64)
        tw = tinit.orthogonal_(t, generator=_tg()).numpy().T
        w = I.get("orthogonal")(fi, fo, np.random.default_rng(0))
        side = (lambda x: x.T @ x) if fi >= fo else (lambda x: x @ x.T)
        np.testing.assert_allclose(side(tw), np.eye(min(fi, fo)), atol=1e-10)
        np.testing.assert_allclose(side(w), np.eye(min(fi, fo)), atol=1e-10)


# --- sparse --------------------------------------------------------------------------------------

def test_sparse_zeroes_a_fraction_of_each_units_incoming_weights():
    w = I.get("sparse", sparsity=0.3, std=0.2)(50, 40, np.random.default_rng(0))
    n_zero = math.ceil(0.3 * 50)
    np.testing.assert_array_equal((w == 0).sum(axis=0), n_zero)  # each column: one unit
    assert I.get("sparse", sparsity=0.0)(5, 4, np.random.default_rng(0)).all()


# --- sklearn: the bounds of MLPClassifier's own init --------------------------------------------

@pytest.mark.parametrize("activation", ["relu", "tanh", "logistic"])
def test_sklearn_bounds_equal_mlpclassifier(activation):
    from sklearn.neural_network import MLPClassifier
    from sklearn.exceptions import ConvergenceWarning

    sizes = [300, 200, 3]
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((30, sizes[0])), np.arange(30) % 3
    clf = MLPClassifier(hidden_layer_sizes=(sizes[1],), activation=activation, solver="sgd",
                        learning_rate_init=1e-300, momentum=0.0, max_iter=1, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)  # one step of 1e-300: the weights are the initial draw
    glass = I.get("sklearn", activation=activation)  # one activation for every layer, as sklearn
    for l, (fi, fo) in enumerate(zip(sizes[:-1], sizes[1:])):
        bound = math.sqrt((2 if activation == "logistic" else 6) / (fi + fo))
        w, b = glass(fi, fo, rng), glass.bias(fi, fo, rng, shape=(fo,))
        for ours, theirs in ((w, clf.coefs_[l]), (b, clf.intercepts_[l])):
            assert ours.shape == theirs.shape
            assert np.abs(ours).max() <= bound and np.abs(theirs).max() <= bound * (1 + 1e-12)
            if ours.size > 500:
                assert np.abs(ours).max() > 0.99 * bound and np.abs(theirs).max() > 0.99 * bound
            if ours.size > 10_000:
                assert ours.std() == pytest.approx(theirs.std(), rel=0.02)
                assert ours.std() == pytest.approx(bound / math.sqrt(3), rel=0.02)


def test_resolve_fills_sklearn_activation_from_the_layer():
    assert I.resolve("sklearn", "sigmoid").params == {"activation": "sigmoid"}
    assert I.resolve("sklearn", "relu").params == {"activation": "relu"}
    assert I.resolve(("sklearn", {"activation": "logistic"}), "softmax").params == {"activation": "logistic"}


# --- the contract: registry, params, rng, dtype, shapes -----------------------------------------

@pytest.mark.parametrize("name", I.NAMES)
def test_same_seed_same_weights(name):
    init = I.get(name)
    a = init(37, 23, np.random.default_rng(7))
    b = init(37, 23, np.random.default_rng(7))
    np.testing.assert_array_equal(a, b)
    if init.random:
        assert not np.array_equal(a, init(37, 23, np.random.default_rng(8)))
    # float32 is the same draw, rounded
    np.testing.assert_array_equal(init(37, 23, np.random.default_rng(7), np.float32), a.astype(np.float32))


@pytest.mark.parametrize("name", I.NAMES)
def test_no_global_random_state(name):
    state = np.random.get_state()[1].copy()
    I.get(name)(20, 10, np.random.default_rng(0))
    np.testing.assert_array_equal(np.random.get_state()[1], state)


@pytest.mark.parametrize("name", I.NAMES)
def test_params_rebuild_the_same_initializer(name):
    init = I.get(name)
    assert init.name == name
    json.dumps(init.params)
    again = I.get(init.name, **init.params)
    np.testing.assert_array_equal(init(9, 7, np.random.default_rng(3)), again(9, 7, np.random.default_rng(3)))
    assert init.data_dependent == (name == "lsuv")
    assert (init.bias is not None) == (name in ("sklearn", "torch_linear"))


@pytest.mark.parametrize("name", I.NAMES)
def test_shapes_and_bias_draws(name):
    init = I.get(name)
    rng = np.random.default_rng(0)
    assert init(5, 3, rng, shape=(2, 4)).shape == (2, 4)
    if name in ("orthogonal", "identity", "lsuv"):
        with pytest.raises(GlassnetError, match="1-D"):
            init(5, 3, rng, shape=(3,))
    else:
        assert init(5, 3, rng, shape=(3,)).shape == (3,)


def test_aliases_resolve_to_canonical_names():
    for alias, name in I.ALIASES.items():
        assert I.get(alias).name == name
    assert I.get("Glorot_Uniform").name == "xavier_uniform"


def test_unknown_name_lists_valid_names():
    with pytest.raises(GlassnetError, match="xavier_uniform") as info:
        I.get("xavier_unifrom")
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("name, params, param", [
    ("normal", {"std": -1.0}, "std"),
    ("normal", {"sd": 1.0}, "sd"),
    ("uniform", {"low": 1.0, "high": 0.0}, "high"),
    ("truncated_normal", {"std": 0.0}, "std"),
    ("truncated_normal", {"a": 1.0, "b": -1.0}, "'b'"),
    ("he_normal", {"mode": "fan_avg"}, "mode"),
    ("he_uniform", {"nonlinearity": "gelu"}, "nonlinearity"),
    ("he_normal", {"negative_slope": 0.2}, "negative_slope"),
    ("xavier_uniform", {"gain": float("nan")}, "gain"),
    ("sparse", {"sparsity": 1.0}, "sparsity"),
    ("sparse", {"sparsity": -0.1}, "sparsity"),
    ("variance_scaling", {"scale": 0.0}, "scale"),
    ("variance_scaling", {"mode": "avg"}, "mode"),
    ("variance_scaling", {"distribution": "gamma"}, "distribution"),
    ("lsuv", {"margin": 0.0}, "margin"),
    ("lsuv", {"max_passes": 0}, "max_passes"),
    ("constant", {"value": "x"}, "value"),
])
def test_bad_params_name_the_parameter(name, params, param):
    with pytest.raises(GlassnetError, match=param):
        I.get(name, **params)


def test_call_checks_its_arguments():
    init = I.get("he_normal")
    with pytest.raises(GlassnetError, match="Generator"):
        init(3, 4, 0)
    with pytest.raises(GlassnetError, match="fan_in"):
        init(0, 4, np.random.default_rng(0))
    with pytest.raises(GlassnetError, match="dtype"):
        init(3, 4, np.random.default_rng(0), dtype=np.int64)
    assert init(3, 4, np.random.default_rng(0), "float32").dtype == np.float32
    assert I.get("zeros")(3, 4, None).shape == (3, 4)  # no randomness, no rng needed


# --- resolve and defaults --------------------------------------------------------------------------

@pytest.mark.parametrize("activation, name", [
    ("relu", "he_normal"), ("leaky_relu", "he_normal"), ("elu", "he_normal"), ("gelu", "he_normal"),
    ("silu", "he_normal"), ("swish", "he_normal"), ("softplus", "he_normal"),
    ("tanh", "xavier_uniform"), ("sigmoid", "xavier_uniform"), ("logistic", "xavier_uniform"),
    ("identity", "xavier_uniform"), ("linear", "xavier_uniform"), ("softmax", "xavier_uniform"),
    ("selu", "lecun_normal"),
])
def test_default_by_activation(activation, name):
    assert I.default_for(activation) == name
    assert I.resolve(None, activation).name == name


def test_default_for_leaky_relu_uses_the_layers_slope():
    from glassnet import activations

    assert I.resolve(None, "leaky_relu").params["negative_slope"] == 0.01
    init = I.resolve(None, activations.get("leaky_relu", slope=0.2))
    assert init.params == {"mode": "fan_in", "nonlinearity": "leaky_relu", "negative_slope": 0.2}
    w = init(1000, 300, np.random.default_rng(0))
    assert w.std() == pytest.approx(math.sqrt(2 / (1 + 0.04)) / math.sqrt(1000), rel=0.01)
    assert I.resolve(None, "relu").params["nonlinearity"] == "relu"


def test_resolve_accepts_every_spec_form():
    rng = lambda: np.random.default_rng(0)  # noqa: E731
    ref = I.get("he_uniform", mode="fan_out")(6, 4, rng())
    for spec in (("he_uniform", {"mode": "fan_out"}), ["kaiming_uniform", {"mode": "fan_out"}],
                 {"name": "he_uniform", "mode": "fan_out"}, I.get("he_uniform", mode="fan_out")):
        np.testing.assert_array_equal(I.resolve(spec, "tanh")(6, 4, rng()), ref)
    init = I.get("orthogonal")
    assert I.resolve(init, "relu") is init


def test_resolve_wraps_a_plain_callable():
    def halves(fan_in, fan_out, rng, dtype):
        return np.full((fan_in, fan_out), 0.5, dtype)

    init = I.resolve(halves, "relu")
    assert init.name == "halves" and not init.data_dependent
    np.testing.assert_array_equal(init(3, 2, np.random.default_rng(0)), np.full((3, 2), 0.5))
    with pytest.raises(GlassnetError, match=r"returned shape \(3, 2\)"):
        init(3, 2, np.random.default_rng(0), shape=(2,))
    row = I.resolve(lambda fi, fo, rng, dtype: rng.normal(size=(1, fo)), "relu")
    assert row(3, 2, np.random.default_rng(0), shape=(2,)).shape == (2,)


def test_resolve_rejects_bad_specs():
    for spec in (3, {"mode": "fan_in"}, ("he_normal", "fan_in"), np.zeros((2, 2))):
        with pytest.raises(GlassnetError):
            I.resolve(spec, "relu")


# --- symmetry --------------------------------------------------------------------------------------

def test_symmetry_report_none_for_random_weights():
    rng = np.random.default_rng(0)
    ws = [I.get("he_normal")(4, 8, rng), I.get("he_normal")(8, 8, rng)]
    assert I.symmetry_report(ws, ["relu", "relu"]) is None
    assert I.symmetry_report([np.full((4, 1), 0.3)], ["tanh"]) is None  # one unit: nothing to tell apart
    assert issubclass(I.SymmetryWarning, UserWarning)


def test_symmetry_report_zeros_with_f0_zero_says_nothing_moves():
    msg = I.symmetry_report([np.zeros((4, 8)), np.zeros((8, 8))], ["tanh", "relu"])
    assert "hidden layer 1 (tanh, 8 units): all incoming weights 0" in msg
    assert "only the output bias learns" in msg
    assert "hidden layer 2 (relu" in msg and "never move" in msg
    assert "he_normal" in msg and "xavier_uniform" in msg


def test_symmetry_report_sigmoid_zeros_and_constants_say_identical_copies():
    for w, act in ((np.zeros((4, 8)), "sigmoid"), (np.full((4, 8), 0.1), "relu"),
                   (np.tile(np.arange(4.0)[:, None], (1, 8)), "tanh")):
        msg = I.symmetry_report([w], [act])
        assert "identical copies" in msg and "can never differ" in msg, msg


def _train(ws, bs, acts, X, Y, steps=20, lr=0.1):
    """Plain gradient descent on squared error, numpy only: returns the weights' history."""
    f = {"tanh": (np.tanh, lambda z: 1 - np.tanh(z) ** 2),
         "relu": (lambda z: np.maximum(z, 0), lambda z: (z > 0) * 1.0),
         "sigmoid": (lambda z: 1 / (1 + np.exp(-z)), lambda z: np.exp(-z) / (1 + np.exp(-z)) ** 2),
         "identity": (lambda z: z, np.ones_like)}
    ws, bs = [w.copy() for w in ws], [b.copy() for b in bs]
    for _ in range(steps):
        hs, zs = [X], []
        for w, b, a in zip(ws, bs, acts):
            zs.append(hs[-1] @ w + b)
            hs.append(f[a][0](zs[-1]))
        g = (hs[-1] - Y) / len(X)
        for l in reversed(range(len(ws))):
            g = g * f[acts[l]][1](zs[l])
            gw, gb, g = hs[l].T @ g, g.sum(0), g @ ws[l].T
            ws[l] -= lr * gw
            bs[l] -= lr * gb
    return ws, bs


@pytest.mark.parametrize("hidden", ["tanh", "relu"])
def test_the_zero_init_claims_hold_in_training(hidden):
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((32, 3)), rng.standard_normal((32, 2))
    sizes = [3, 5, 4, 2]
    ws = [np.zeros((a, b)) for a, b in zip(sizes[:-1], sizes[1:])]
    bs = [np.zeros(b) for b in sizes[1:]]
    new_w, new_b = _train(ws, bs, [hidden, hidden, "identity"], X, Y)
    assert all(not w.any() for w in new_w)  # every weight stays zero
    assert not new_b[0].any() and not new_b[1].any() and new_b[2].any()  # only the output bias learns


@pytest.mark.parametrize("value, hidden", [(0.0, "sigmoid"), (0.3, "relu"), (-0.2, "tanh")])
def test_the_identical_copies_claim_holds_in_training(value, hidden):
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((32, 3)), rng.standard_normal((32, 2))
    sizes = [3, 5, 4, 2]
    ws = [np.full((a, b), value) for a, b in zip(sizes[:-1], sizes[1:])]
    bs = [np.zeros(b) for b in sizes[1:]]
    assert "identical copies" in I.symmetry_report(ws[:2], [hidden, hidden])
    new_w, _ = _train(ws, bs, [hidden, hidden, "identity"], X, Y)
    for w, w0 in zip(new_w[:2], ws):
        assert not np.allclose(w, w0)  # they move ...
        # ... as copies (to rounding: BLAS may sum the last column in another order)
        np.testing.assert_allclose(w, w[:, :1] * np.ones_like(w), rtol=1e-12, atol=0)


def test_network_warns_on_symmetric_init_only():
    with pytest.warns(I.SymmetryWarning, match="only the output bias learns"):
        Network([4, 8, 8, 3], activation="tanh", init="zeros", seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", I.SymmetryWarning)
        for act in ("relu", "tanh", "sigmoid", "selu", "leaky_relu"):
            Network([4, 8, 8, 3], activation=act, seed=0)


# --- lsuv --------------------------------------------------------------------------------------

class _Trace:
    def __init__(self, pre, post):
        self.pre, self.post = pre, post


class _Net:
    """The smallest object lsuv needs: weights, biases and trace(X)."""

    def __init__(self, sizes, act, rng, bias_std=0.0):
        init = I.get("lsuv")
        self.weights = [init(a, b, rng) for a, b in zip(sizes[:-1], sizes[1:])]
        self.biases = [rng.normal(0, bias_std, b) for b in sizes[1:]]
        self.act = act

    def trace(self, X):
        pre, post, a = [], [], X
        for w, b in zip(self.weights, self.biases):
            pre.append(a @ w + b)
            a = self.act(pre[-1])
            post.append(a)
        return _Trace(pre, post)


@pytest.mark.parametrize("act", [np.tanh, lambda z: np.maximum(z, 0)], ids=["tanh", "relu"])
def test_lsuv_brings_every_layers_variance_within_the_margin(act):
    rng = np.random.default_rng(0)
    net = _Net([20, 64, 64, 64, 64, 10], act, rng, bias_std=0.3)
    X = 5 * rng.standard_normal((256, 20)) + 1
    first = net.weights[0]
    variances = I.lsuv(net, X)
    assert net.weights[0] is first  # rescaled in place
    pre = net.trace(X).pre
    assert len(variances) == len(pre) == 5
    for v, z in zip(variances, pre):
        assert abs(np.var(z) - 1) <= 0.02 and v == pytest.approx(np.var(z))


def test_lsuv_warns_when_it_runs_out_of_passes_and_fails_on_zero_variance():
    rng = np.random.default_rng(0)
    net = _Net([10, 32, 4], np.tanh, rng, bias_std=0.8)
    with pytest.warns(RuntimeWarning, match="LSUV: layer"):
        I.lsuv(net, 4 * rng.standard_normal((64, 10)), max_passes=1, margin=1e-6)
    with pytest.raises(GlassnetError, match="variance"):
        I.lsuv(_Net([10, 32, 4], np.tanh, rng), np.zeros((64, 10)))


def test_lsuv_on_the_network():
    rng = np.random.default_rng(0)
    X = 3 * rng.standard_normal((128, 16))
    with warnings.catch_warnings():
        warnings.simplefilter("error", I.SymmetryWarning)
        net = Network([16, 48, 48, 48, 5], activation="tanh", init="lsuv", seed=0)
    for w in net.weights[:-1]:
        np.testing.assert_allclose(w.T @ w if w.shape[0] >= w.shape[1] else w @ w.T,
                                   np.eye(min(w.shape)), atol=1e-10)
    I.lsuv(net, X)
    for z in net.trace(X).pre:
        assert abs(np.var(z) - 1) <= 0.02


# --- the classic results, at reduced scale ---------------------------------------------------------

def _stds(init, act, depth, width, seed, which):
    rng = np.random.default_rng(seed)
    h = rng.standard_normal((256, width))  # standardised inputs
    out = []
    for _ in range(depth):
        z = h @ init(width, width, rng)
        h = act(z)
        out.append((z if which == "pre" else h).std())
    return out


@pytest.mark.parametrize("seed", range(3))
def test_glorot_bengio_2010_tanh_activations(seed):
    # 10 tanh layers of 256: the "standard" U(-1/sqrt(n), 1/sqrt(n)) (torch_linear's weights)
    # shrinks the activations' std (about 0.0065 of layer 1's at layer 10); Xavier keeps it (~0.36)
    standard = _stds(I.get("torch_linear"), np.tanh, 10, 256, seed, "post")
    xavier = _stds(I.get("xavier_uniform"), np.tanh, 10, 256, seed, "post")
    assert standard[-1] / standard[0] < 0.01
    assert xavier[-1] / xavier[0] > 0.20


@pytest.mark.parametrize("seed", range(5))
def test_he_2015_deep_relu_preactivations(seed):
    # 30 ReLU layers of 256: variance 1/n halves the variance each layer (2^-14.5 ~ 4e-5);
    # He's 2/n keeps it (the log-ratio has a spread of about 0.2 over seeds)
    relu = lambda z: np.maximum(z, 0.0)  # noqa: E731
    small = _stds(I.get("lecun_normal"), relu, 30, 256, seed, "pre")
    he = _stds(I.get("he_normal"), relu, 30, 256, seed, "pre")
    assert small[-1] / small[0] < 1e-3
    assert 0.5 <= he[-1] / he[0] <= 2.0
