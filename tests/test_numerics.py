"""Numerics at the extremes: |z| = 1e4 in float32 and float64, and values too big for a dtype.

No overflow, underflow-to-NaN or invalid-value RuntimeWarning may escape from the
activations (``f``, ``df`` and the in-place fast paths), the losses (on probabilities and
from the logits) or a whole network's forward and backward pass with huge weights, and
every result stays finite.  Values are checked against independent oracles: SciPy's
``expit``/``softmax``/``log_softmax``/``logaddexp`` and PyTorch's autograd, in float64.
Every test runs with ``warnings.simplefilter("error")``.
"""
from __future__ import annotations

import contextlib
import warnings

import numpy as np
import pytest

import glassnet as gn
from glassnet import GlassnetError, activations, losses

DTYPES = [np.float32, np.float64]
HIDDEN = [name for name in activations.NAMES if name not in activations.OUTPUT_ONLY]
#: pre-activations from the saturated tails through the origin
Z_GRID = np.array([-1e4, -710.0, -100.0, -30.0, -1.0, -1e-8, 0.0, 1e-8, 1.0, 30.0, 100.0,
                   710.0, 1e4])


@contextlib.contextmanager
def no_warnings():
    """Every warning is an error, NumPy's floating-point ones included (underflow to 0 is
    the right answer for exp(-1e4), so only it is allowed)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="warn", invalid="warn", divide="warn", under="ignore"):
            yield


def finite(*arrays) -> bool:
    return all(np.all(np.isfinite(np.asarray(a, dtype=np.float64))) for a in arrays)


def _z(dtype, shape=(13, 3)):
    """A (13, 3) batch: column 0 the grid, then the grid reversed, then alternating signs."""
    g = Z_GRID.astype(dtype)
    return np.stack([g, g[::-1], np.where(np.arange(13) % 2, 1e4, -1e4).astype(dtype)],
                    axis=1)[:, :shape[1]].copy()


# --- activations ----------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("name", activations.NAMES)
def test_activation_at_extremes(name, dtype):
    act = activations.get(name)
    z = _z(dtype)
    with no_warnings():
        a = act.f(z)
        d = act.df(z)
        assert a.dtype == dtype and finite(a, d), (a, d)
        if act.elementwise:
            assert d.dtype == dtype and d.shape == z.shape
            out = act.apply(z.copy(), np.empty_like(z))
            np.testing.assert_array_equal(out, a)
            grad = act.grad_inplace(z.copy(), out)
            assert finite(grad)
            np.testing.assert_allclose(grad, d, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_activation_values_against_scipy(dtype):
    from scipy import special

    z = _z(dtype)
    z64 = z.astype(np.float64)
    expected = {
        "identity": z64,
        "sigmoid": special.expit(z64),
        "tanh": np.tanh(z64),
        "relu": np.maximum(z64, 0),
        "softplus": np.logaddexp(0.0, z64),
        "silu": z64 * special.expit(z64),
        "elu": np.where(z64 > 0, z64, np.expm1(np.minimum(z64, 0))),
        "softmax": special.softmax(z64, axis=1),
    }
    rtol = 1e-6 if dtype == np.float32 else 1e-12
    # glassnet's sigmoid is (1 + tanh(z/2)) / 2: it never overflows, and it is accurate to
    # an absolute eps; in the far negative tail (values below eps) it rounds toward 0
    # instead of keeping e^z's relative precision, so sigmoid and silu get an absolute eps
    eps = float(np.finfo(dtype).eps)
    with no_warnings():
        for name, want in expected.items():
            got = activations.get(name).f(z)
            atol = eps * np.maximum(np.abs(z64), 1) if name in ("sigmoid", "silu") else 1e-30
            error = np.abs(got.astype(np.float64) - want)
            assert np.all(error <= rtol * np.abs(want) + atol), (name, error.max())
        s = activations.get("sigmoid").f(z)
        assert s[0, 0] == 0.0 and s[-1, 0] == 1.0          # saturated exactly, not NaN
        p = activations.get("softmax").f(z)
        np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)
        # derivatives: sigmoid' = s(1 - s), tanh' = 1 - tanh^2 -> exactly 0 in the tails
        ds = activations.get("sigmoid").df(z)
        np.testing.assert_allclose(ds, special.expit(z64) * special.expit(-z64), rtol=1e-5,
                                   atol=eps)
        assert ds[0, 0] == 0.0 and activations.get("tanh").df(z)[0, 0] == 0.0


# --- losses ---------------------------------------------------------------------------------------

def _targets(dtype, k=3, n=13):
    labels = np.arange(n) % k
    return np.eye(k, dtype=dtype)[labels], labels


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("loss_name", losses.NAMES)
@pytest.mark.parametrize("output", ["softmax", "sigmoid", "identity", "tanh"])
def test_loss_on_saturated_outputs(loss_name, output, dtype):
    """value and gradient of every loss on the outputs of every output activation at 1e4."""
    loss = losses.get(loss_name)
    z = _z(dtype)
    y, _ = _targets(dtype)
    with no_warnings():
        a = activations.get(output).f(z)
        per = loss.per_sample(a, y)
        g = loss.grad(a, y)
    assert per.shape == (13,) and finite(per, g), (per, g)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_losses_from_logits_against_scipy(dtype):
    """The fused paths compute the loss from the logits: exact where the naive form is inf."""
    from scipy import special

    z = _z(dtype)
    z64 = z.astype(np.float64)
    y, labels = _targets(dtype)
    with no_warnings():
        ce = losses.get("cross_entropy").per_sample_from_logits(z, y)
        bce = losses.get("binary_cross_entropy").per_sample_from_logits(z, y)
    want_ce = -special.log_softmax(z64, axis=1)[np.arange(13), labels]
    # -[y log s(z) + (1 - y) log(1 - s(z))] = logaddexp(0, z) - y z
    want_bce = (np.logaddexp(0.0, z64) - y.astype(np.float64) * z64).sum(axis=1)
    rtol = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(ce, want_ce, rtol=rtol)
    np.testing.assert_allclose(bce, want_bce, rtol=rtol)
    assert finite(ce, bce)
    assert want_ce.max() >= 2e4 - 1         # the check reaches the extreme: a loss of 2e4


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_probability_losses_clip_instead_of_log_zero(dtype):
    """On probabilities that are exactly 0 or 1 the losses stay finite (clipped)."""
    a = np.array([[0.0, 1.0], [1.0, 0.0]], dtype)
    y = np.array([[1.0, 0.0], [1.0, 0.0]], dtype)
    with no_warnings():
        for name in ("binary_cross_entropy", "cross_entropy"):
            loss = losses.get(name)
            per, g = loss.per_sample(a, y), loss.grad(a, y)
            assert finite(per, g) and per[0] > 10 and per[1] < 1e-3, (name, per)


# --- a whole network with huge weights --------------------------------------------------------------

def _pairs():
    """Every (output, loss) pair the Network accepts, from the registries."""
    pairs = []
    for output in activations.NAMES:
        for loss in losses.NAMES:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    gn.Network([3, 2, 3], output=output, loss=loss)
            except GlassnetError:
                continue
            pairs.append((output, loss))
    return pairs


PAIRS = _pairs()


def _huge(hidden, output, loss, dtype, n_out=3):
    """A [3, 4, 4, n_out] network whose pre-activations reach about 1e4 at every layer."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", gn.SymmetryWarning)
        net = gn.Network([3, 4, 4, n_out], activation=hidden, output=output, loss=loss,
                         dtype=dtype, seed=0)
    rng = np.random.default_rng(1)
    for l, W in enumerate(net.weights):
        # +-1e4 / fan_in per weight: one unit of input gives |z| up to 1e4, but bounded
        # activations (tanh, sigmoid) feed the next layer values of about 1
        signs = np.sign(rng.standard_normal(W.shape))
        net.weights[l] = signs * (1e4 / W.shape[0])
        net.biases[l] = np.zeros(W.shape[1])
    return net


def _data(dtype, n_out=3, n=8):
    rng = np.random.default_rng(2)
    X = np.sign(rng.standard_normal((n, 3))).astype(dtype)
    labels = rng.integers(0, n_out, n)
    return X, labels


def test_pairs_cover_the_fused_and_chain_rule_paths():
    assert ("softmax", "cross_entropy") in PAIRS and ("sigmoid", "binary_cross_entropy") in PAIRS
    assert ("identity", "squared_error") in PAIRS and len(PAIRS) >= 5


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("output, loss", PAIRS, ids=[f"{o}-{l}" for o, l in PAIRS])
@pytest.mark.parametrize("hidden", HIDDEN)
def test_network_forward_backward_with_huge_weights(hidden, output, loss, dtype):
    net = _huge(hidden, output, loss, dtype)
    X, labels = _data(dtype)
    y = labels if loss == "cross_entropy" else np.eye(3, dtype=dtype)[labels]
    with no_warnings():
        trace = net.trace(X)
        z_max = max(float(np.abs(z).max()) for z in trace.pre)
        try:
            out = net.forward(X)
            grads = net.backward(X, y)
        except GlassnetError as exc:
            # only an unbounded hidden activation can push |z| past what the dtype holds,
            # and then the error says so instead of returning NaN
            assert "overflows" in str(exc) and hidden not in ("tanh", "sigmoid"), exc
            return
    assert z_max >= 1e3, "the weights should drive the pre-activations to the extremes"
    assert out.dtype == dtype and finite(out, grads.loss, *grads.weights, *grads.biases)
    assert all(g.dtype == dtype for g in grads.weights)
    if output in ("softmax", "sigmoid"):
        assert np.all((out >= 0) & (out <= 1))


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.parametrize("hidden", ["tanh", "sigmoid", "relu"])
def test_huge_logits_loss_matches_scipy(hidden, dtype):
    """The network's loss at |z| ~ 1e4 equals the log-softmax of its own logits (float64)."""
    from scipy import special

    net = _huge(hidden, "softmax", "cross_entropy", dtype)
    X, labels = _data(dtype)
    with no_warnings():
        z = net.trace(X).pre[-1].astype(np.float64)
        loss = net.loss_value(X, labels)
        grads = net.backward(X, labels)
    want = float(np.mean(-special.log_softmax(z, axis=1)[np.arange(len(labels)), labels]))
    assert np.abs(z).max() > 1e3
    np.testing.assert_allclose(loss, want, rtol=1e-6 if dtype == np.float32 else 1e-12)
    np.testing.assert_allclose(grads.loss, want, rtol=1e-6 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("output, loss, n_out", [("softmax", "cross_entropy", 3),
                                                 ("sigmoid", "binary_cross_entropy", 1)])
def test_huge_weight_gradients_match_torch(output, loss, n_out):
    """Gradients at saturated logits against PyTorch's autograd (float64, stable losses)."""
    import torch
    import torch.nn.functional as F

    net = _huge("tanh", output, loss, np.float64, n_out=n_out)
    X, labels = _data(np.float64, n_out=max(n_out, 2))
    y = labels if n_out > 1 else labels.reshape(-1, 1).astype(np.float64)
    with no_warnings():
        grads = net.backward(X, y)
    Ws = [torch.tensor(W.copy(), requires_grad=True) for W in net.weights]
    bs = [torch.tensor(b.copy(), requires_grad=True) for b in net.biases]
    a = torch.tensor(X)
    for l, (W, b) in enumerate(zip(Ws, bs)):
        z = a @ W + b
        a = torch.tanh(z) if l < len(Ws) - 1 else z
    if n_out > 1:
        value = F.cross_entropy(a, torch.tensor(labels))
    else:
        value = F.binary_cross_entropy_with_logits(a, torch.tensor(y))
    value.backward()
    assert abs(a.detach().numpy()).max() > 1e3
    np.testing.assert_allclose(grads.loss, value.item(), rtol=1e-12)
    for mine, theirs in zip(grads.weights + grads.biases, Ws + bs):
        np.testing.assert_allclose(mine, theirs.grad.numpy(), rtol=1e-9, atol=1e-12)
    assert any(np.abs(g).max() > 0 for g in grads.weights), "a gradient that is all 0 proves little"


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_training_steps_at_huge_logits_stay_finite(dtype):
    """A few epochs from saturated logits: finite, or a clean DivergenceError, never a warning."""
    net = _huge("tanh", "softmax", "cross_entropy", dtype)
    X, labels = _data(dtype, n=32)
    with no_warnings():
        try:
            history = net.fit(X, labels, epochs=3, batch_size=8, learning_rate=1e-3)
        except gn.DivergenceError:
            assert finite(net.params)
        else:
            assert finite(net.params, history.loss) and len(history.loss) == 3
        proba = net.predict_proba(X)
    assert finite(proba) and np.allclose(proba.sum(axis=1), 1.0)


# --- values too large for the dtype ------------------------------------------------------------------

@pytest.mark.parametrize("value", [1e308, -1e39, 3.5e38])
def test_float64_values_too_big_for_float32_are_refused(value):
    """1e308 into a float32 network: a GlassnetError naming X and float32, not inf or a
    'overflow encountered in cast' warning."""
    net = gn.Network([2, 3, 2], dtype="float32", seed=0)
    X = np.array([[0.5, 1.0], [value, 0.0]])
    with no_warnings():
        for call in (net.predict, net.predict_proba, lambda X: net.fit(X, [0, 1], epochs=1),
                     lambda X: net.evaluate(X, [0, 1])):
            with pytest.raises(GlassnetError, match=r"X holds values too large for float32") as info:
                call(X)
            assert "first rows: [1]" in str(info.value)
    with no_warnings():                       # the same values are fine in float64
        assert finite(gn.Network([2, 3, 2], seed=0, activation="tanh").predict_proba(X))


def test_float64_inputs_that_overflow_the_network_are_refused():
    """Finite inputs whose products overflow even float64: an error naming X, not NaN."""
    net = gn.Network([2, 3, 2], activation="relu", seed=0)
    net.weights[0] = np.full((2, 3), 10.0)           # 1e308 * 10 + 1e308 * 10 = inf
    X = np.array([[1e308, 1e308], [0.0, 1.0]])
    with no_warnings():
        with pytest.raises(GlassnetError, match=r"overflows float64 on X \(first rows: \[0\]\)"):
            net.predict(X)
        with pytest.raises(GlassnetError, match="overflows"):
            net.backward(X, [0, 1])
        assert finite(net.predict(X[1:]))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_weights_too_big_for_the_dtype_are_refused_and_leave_the_network_unchanged(dtype):
    net = gn.Network([2, 3, 2], dtype=dtype, seed=0)
    before = net.params.copy()
    big = np.full((2, 3), 1e308 if dtype == "float32" else np.inf)
    with no_warnings():
        with pytest.raises(GlassnetError, match=r"weights\[0\]"):
            net.weights[0] = big
        with pytest.raises(GlassnetError, match=r"weights\[0\]"):
            net.set_weights([big, np.zeros((3, 2))], [np.ones(3), np.ones(2)])
    np.testing.assert_array_equal(net.params, before)
