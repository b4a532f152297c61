"""Activations: every (f, df) pair against central differences and PyTorch, the fast paths,
the numerics at |z| = 1e4, and the hand-written ``activator(id)`` API.

Everything is driven by the registry (``activations.NAMES``): a new activation is checked
here without a new test.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import glassnet
from glassnet import GlassnetError
from glassnet import activations as A

DTYPES = (np.float32, np.float64)


def _non_default(value: float) -> float:
    """A parameter value different from the default (0.25 is exact in binary)."""
    return 0.25 if value != 0.25 else 0.75


def _cases():
    """(name, params) for every registered activation, plus each parametrised one with
    non-default values for all of its numeric parameters."""
    cases = []
    for name in A.NAMES:
        cases.append(pytest.param(name, {}, id=name))
        numeric = {k: v for k, v in A.get(name).params.items()
                   if isinstance(v, float) and not isinstance(v, bool)}
        if numeric:
            params = {k: _non_default(v) for k, v in numeric.items()}
            cases.append(pytest.param(name, params, id=f"{name}-" + "-".join(
                f"{k}={v}" for k, v in params.items())))
    return cases


CASES = _cases()
ELEMENTWISE = [c for c in CASES if A.get(c.values[0], **c.values[1]).elementwise]


def _points(rng, shape=(7, 6), scale=3.0):
    """Pre-activations spread over [-9, 9] but never within 1e-3 of a kink at 0."""
    z = rng.normal(0.0, scale, size=shape)
    z[0, :6] = [-8.0, -4.0, -0.5, 0.5, 4.0, 8.0]
    z[np.abs(z) < 1e-3] = 0.3
    return z


def test_registry_covers_the_documented_set():
    expected = {"identity", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "selu", "softplus",
                "gelu", "silu", "softmax"}
    assert expected <= set(A.NAMES)
    # the parametrised families really are parametrised, so CASES checks non-defaults
    ids = {c.id for c in CASES}
    assert "leaky_relu-slope=0.25" in ids and "elu-alpha=0.25" in ids


# --- derivatives against central differences ----------------------------------------------------

@pytest.mark.parametrize("name, params", ELEMENTWISE)
def test_derivative_matches_central_differences(name, params, rel_error):
    act = A.get(name, **params)
    z = _points(np.random.default_rng(0))
    h = 1e-5
    numeric = (act.f(z + h) - act.f(z - h)) / (2 * h)  # elementwise, so one call per side
    analytic = act.df(z)
    assert analytic.shape == z.shape
    assert rel_error(analytic, numeric) < 1e-6
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-9)


def test_softmax_derivative_is_its_full_jacobian(central_diff, rel_error):
    rng = np.random.default_rng(1)
    z = rng.normal(0, 2, size=(4, 5))
    J = A.get("softmax").df(z)
    assert J.shape == (4, 5, 5)
    for b in range(z.shape[0]):
        for i in range(z.shape[1]):
            # row i of the Jacobian: the gradient of output i w.r.t. every logit
            numeric = central_diff(lambda v: A.softmax(v[None])[0, i], z[b].copy())
            assert rel_error(J[b, i], numeric) < 1e-6
    # the known structure: diag(a) - a a^T, rows summing to 0
    a = A.softmax(z)
    np.testing.assert_allclose(J, a[:, :, None] * np.eye(5) - a[:, :, None] * a[:, None, :],
                               atol=1e-15)
    np.testing.assert_allclose(J.sum(axis=1), 0, atol=1e-15)


@pytest.mark.parametrize("name, params", ELEMENTWISE)
def test_derivative_at_a_kink_is_a_one_sided_derivative(name, params):
    act = A.get(name, **params)
    at = float(act.df(np.zeros(1))[0])
    left, right = act.df(np.array([-1e-12, 1e-12]))
    assert np.isclose(at, left, atol=1e-9) or np.isclose(at, right, atol=1e-9)


# --- the fast paths agree with the pure pair ---------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, params", CASES)
def test_apply_writes_f_into_out(name, params, dtype):
    act = A.get(name, **params)
    z = _points(np.random.default_rng(2)).astype(dtype)
    z_before = z.copy()
    out = np.full_like(z, np.nan)
    returned = act.apply(z, out)
    assert returned is out
    expected = act.f(z)
    assert expected.dtype == dtype and out.dtype == dtype
    tol = 1e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(out, expected, rtol=tol, atol=tol)
    np.testing.assert_array_equal(z, z_before)  # apply must not touch its input


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, params", ELEMENTWISE)
def test_grad_inplace_equals_df(name, params, dtype):
    act = A.get(name, **params)
    z = _points(np.random.default_rng(3)).astype(dtype)
    z_arg = z.copy()
    got = act.grad_inplace(z_arg, act.f(z))
    expected = act.df(z)
    assert got.dtype == dtype and expected.dtype == dtype
    tol = 1e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(got, expected, rtol=tol, atol=tol)
    # the documented contract: only the layer output ``a`` may be overwritten, never z
    np.testing.assert_array_equal(z_arg, z)


def test_softmax_has_no_hidden_layer_fast_gradient():
    z = np.zeros((2, 3))
    with pytest.raises(GlassnetError, match="output activation"):
        A.get("softmax").grad_inplace(z, A.softmax(z))


@pytest.mark.parametrize("name, params", CASES)
def test_vjp_is_the_chain_rule(name, params):
    act = A.get(name, **params)
    rng = np.random.default_rng(4)
    z, g = _points(rng), rng.normal(size=(7, 6))
    got = act.vjp(g, z, act.f(z))
    if act.elementwise:
        expected = g * act.df(z)
    else:  # dL/dz_j = sum_i dL/da_i da_i/dz_j
        expected = np.einsum("bij,bi->bj", act.df(z), g)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name, params", CASES)
def test_float32_stays_float32(name, params):
    act = A.get(name, **params)
    z = _points(np.random.default_rng(5)).astype(np.float32)
    assert act.f(z).dtype == np.float32
    assert act.df(z).dtype == np.float32


# --- PyTorch as an independent oracle for f and df --------------------------------------------

def _torch_fn(name, params):
    import torch.nn.functional as F
    table = {
        "identity": lambda t: t,
        "sigmoid": torch_sigmoid,
        "tanh": lambda t: t.tanh(),
        "relu": F.relu,
        "leaky_relu": lambda t: F.leaky_relu(t, negative_slope=params.get("slope", 0.01)),
        "elu": lambda t: F.elu(t, alpha=params.get("alpha", 1.0)),
        "selu": F.selu,
        "softplus": F.softplus,
        "gelu": lambda t: F.gelu(t, approximate="tanh"),
        "silu": F.silu,
        "softmax": lambda t: F.softmax(t, dim=-1),
    }
    return table.get(name)


def torch_sigmoid(t):
    return t.sigmoid()


@pytest.mark.parametrize("name, params", CASES)
def test_matches_torch(name, params):
    import torch
    fn = _torch_fn(name, params)
    if fn is None:  # an activation without a torch twin is still checked by the FD tests
        return
    act = A.get(name, **params)
    z = _points(np.random.default_rng(6))
    t = torch.tensor(z, requires_grad=True)
    out = fn(t)
    np.testing.assert_allclose(act.f(z), out.detach().numpy(), rtol=1e-12, atol=1e-15)
    if act.elementwise:  # df is the elementwise derivative: the gradient of sum(f(z))
        out.sum().backward()
        np.testing.assert_allclose(act.df(z), t.grad.numpy(), rtol=1e-12, atol=1e-15)
    else:
        J = torch.autograd.functional.jacobian(lambda v: fn(v[None])[0], t[0].detach())
        np.testing.assert_allclose(act.df(z)[0], J.numpy(), rtol=1e-12, atol=1e-15)


def test_gelu_is_the_tanh_form():
    """The documented form: z/2 (1 + tanh(sqrt(2/pi) (z + 0.044715 z^3))), written out."""
    z = np.linspace(-6, 6, 121)
    expected = 0.5 * z * (1 + np.tanh(np.sqrt(2 / np.pi) * (z + 0.044715 * z ** 3)))
    np.testing.assert_allclose(A.get("gelu").f(z), expected, rtol=1e-14, atol=1e-15)
    assert A.get("gelu").params == {"approximate": "tanh"}


# --- numerics at the extremes -----------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, params", CASES)
def test_finite_and_silent_at_abs_z_1e4(name, params, dtype):
    act = A.get(name, **params)
    z = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 30.0]], dtype=dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        a = act.f(z)
        d = act.df(z)
        out = act.apply(z, np.empty_like(z))
        if act.elementwise:
            g = act.grad_inplace(z.copy(), act.f(z))
            assert np.all(np.isfinite(g))
    assert np.all(np.isfinite(a)) and np.all(np.isfinite(d)) and np.all(np.isfinite(out))
    assert a.dtype == dtype and d.dtype == dtype


@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_and_softmax_limits_at_1e4(dtype):
    z = np.array([[1e4, -1e4, 0.0]], dtype=dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        s = A.sigmoid(z)
        p = A.softmax(z)
        sp = A.get("softplus").f(z)
    np.testing.assert_array_equal(s, np.array([[1.0, 0.0, 0.5]], dtype))
    np.testing.assert_array_equal(p, np.array([[1.0, 0.0, 0.0]], dtype))
    np.testing.assert_array_equal(sp[0, :2], np.array([1e4, 0.0], dtype))
    assert sp[0, 2] == pytest.approx(np.log(2.0), rel=1e-6)


def test_sigmoid_accuracy_against_torch():
    import torch
    z = np.linspace(-40, 40, 8001)
    expected = torch.tensor(z).sigmoid().numpy()
    np.testing.assert_allclose(A.sigmoid(z), expected, rtol=1e-9, atol=2.5e-16)


def test_softmax_rows_sum_to_one_and_shift_invariant():
    rng = np.random.default_rng(7)
    z = rng.normal(0, 5, size=(10, 4))
    p = A.softmax(z)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-15)
    np.testing.assert_allclose(A.softmax(z + 1000.0), p, rtol=1e-12)


# --- the hand-written API and the registry's lookups ------------------------------------------

def test_activator_1_is_the_sigmoid():
    f, df = A.activator(1).function(), A.activator(1).derivative()
    z = np.linspace(-20, 20, 401)
    s = 1.0 / (1.0 + np.exp(-z))
    np.testing.assert_allclose(f(z), s, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(df(z), s * (1 - s), rtol=1e-8, atol=1e-15)


@pytest.mark.parametrize("key, name", [(0, "identity"), (1, "sigmoid"), (2, "tanh"), (3, "relu"),
                                       ("sigmoid", "sigmoid"), ("logistic", "sigmoid"),
                                       ("ReLU", "relu"), ("swish", "silu"), ("linear", "identity"),
                                       (np.int64(2), "tanh")])
def test_activator_accepts_ids_names_and_aliases(key, name):
    act = A.activator(key)
    assert act.name == name
    z = np.linspace(-3, 3, 13)
    np.testing.assert_array_equal(act.function()(z), A.get(name).f(z))
    np.testing.assert_array_equal(act.derivative()(z), A.get(name).df(z))


def test_ids_are_a_bijection_onto_the_registry():
    assert sorted(A.IDS.values()) == sorted(A.NAMES)
    assert A.IDS[1] == "sigmoid"


def test_docs_table_matches_ids():
    doc = (Path(__file__).resolve().parents[1] / "docs" / "activations.md").read_text()
    rows = dict((int(i), n) for i, n in re.findall(r"^\|\s*(\d+)\s*\|\s*`?(\w+)`?\s*\|", doc, re.M))
    assert rows == A.IDS


@pytest.mark.parametrize("key, pattern", [
    (99, r"Unknown activation id 99.*1=sigmoid"),
    ("rleu", r"Unknown activation 'rleu'.*'relu'.*'sigmoid'"),
    (1.5, r"name, an integer id, \(name, params\) or an Activation"),
    (None, r"name, an integer id, \(name, params\) or an Activation"),
    (True, r"name, an integer id, \(name, params\) or an Activation"),
])
def test_unknown_activation_lists_the_valid_ones(key, pattern):
    with pytest.raises(GlassnetError, match=pattern):
        A.activator(key)


def test_parameters():
    assert A.get("leaky_relu", slope=0.2).params == {"slope": 0.2}
    np.testing.assert_array_equal(A.get("leaky_relu", slope=0.2).f(np.array([-1.0, 2.0])),
                                  [-0.2, 2.0])
    with pytest.raises(GlassnetError, match="activation 'relu' has no parameter 'slope'; it "
                                            "takes no parameters"):
        A.get("relu", slope=0.1)
    with pytest.raises(GlassnetError, match=r"'elu' has no parameter 'slope'; its parameters "
                                            r"are \['alpha'\]"):
        A.get("elu", slope=0.1)
    with pytest.raises(GlassnetError, match="Bad parameters for activation 'leaky_relu': slope "
                                            "must be a real number"):
        A.get("leaky_relu", slope="steep")
    # (name, params), as init= takes them
    assert A.get(("elu", {"alpha": 0.5})).params == {"alpha": 0.5}
    net = glassnet.Network([3, 4, 2], activation=("leaky_relu", {"slope": 0.2}), seed=0)
    assert net.activations[0].params == {"slope": 0.2}
    with pytest.raises(GlassnetError, match="parameters cannot be given"):
        A.get(A.get("relu"), slope=0.1)


@pytest.mark.parametrize("name, params", CASES)
def test_spec_round_trip(name, params):
    act = A.get(name, **params)
    again = A.from_spec(A.to_spec(act))
    assert again.name == act.name and again.params == act.params
    z = _points(np.random.default_rng(8))
    np.testing.assert_array_equal(again.f(z), act.f(z))
