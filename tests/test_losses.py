"""Losses: gradients against central differences, values against PyTorch, the fused
logit forms against the plain ones, and the numerics at |z| = 1e4."""
from __future__ import annotations

import numpy as np
import pytest

from glassnet import GlassnetError
from glassnet import activations as A
from glassnet import losses as L


def _batch(name: str, rng, n=6, k=4):
    """Outputs ``a`` in the loss's domain and matching targets ``y``."""
    if name == "cross_entropy":
        a = A.softmax(rng.normal(0, 1.5, size=(n, k)))
        y = np.eye(k)[rng.integers(0, k, n)]
    elif name == "binary_cross_entropy":
        a = rng.uniform(0.05, 0.95, size=(n, k))
        y = rng.integers(0, 2, size=(n, k)).astype(float)
        y[0] = [0.3, 0.7, 0.5, 1.0][:k]  # probabilities are valid targets too
    else:
        a = rng.normal(size=(n, k))
        y = rng.normal(size=(n, k))
    return a, y


def test_registry_holds_the_three_losses():
    assert set(L.NAMES) == {"squared_error", "binary_cross_entropy", "cross_entropy"}


@pytest.mark.parametrize("name", L.NAMES)
def test_grad_is_the_gradient_of_the_batch_mean(name, central_diff, rel_error):
    loss = L.get(name)
    a, y = _batch(name, np.random.default_rng(0))
    numeric = central_diff(lambda v: loss.value(v, y), a.copy())
    analytic = loss.grad(a, y)
    assert analytic.shape == a.shape
    assert rel_error(analytic, numeric) < 1e-6


@pytest.mark.parametrize("name", L.NAMES)
def test_value_is_the_mean_of_per_sample_losses(name):
    loss = L.get(name)
    a, y = _batch(name, np.random.default_rng(1))
    per = loss.per_sample(a, y)
    assert per.shape == (a.shape[0],)
    assert loss.value(a, y) == pytest.approx(per.mean(), rel=1e-15)
    # the same quantity written out literally
    literal = {
        "squared_error": lambda: 0.5 * ((a - y) ** 2).sum(axis=1),
        "binary_cross_entropy": lambda: -(y * np.log(a) + (1 - y) * np.log(1 - a)).sum(axis=1),
        "cross_entropy": lambda: -(y * np.log(a)).sum(axis=1),
    }[name]()
    np.testing.assert_allclose(per, literal, rtol=1e-13)


def test_squared_error_gradient_is_a_minus_y_per_sample():
    a, y = _batch("squared_error", np.random.default_rng(2))
    np.testing.assert_allclose(L.SQUARED_ERROR.grad(a, y) * a.shape[0], a - y, rtol=1e-15)


def test_values_match_torch():
    import torch
    import torch.nn.functional as F
    rng = np.random.default_rng(3)
    a, y = _batch("squared_error", rng)
    torch_se = F.mse_loss(torch.tensor(a), torch.tensor(y), reduction="sum") / 2 / a.shape[0]
    assert L.SQUARED_ERROR.value(a, y) == pytest.approx(torch_se.item(), rel=1e-14)

    a, y = _batch("binary_cross_entropy", rng)
    # torch's BCE is a mean over every element; ours sums the k outputs of a sample
    torch_bce = F.binary_cross_entropy(torch.tensor(a), torch.tensor(y)) * a.shape[1]
    assert L.BINARY_CROSS_ENTROPY.value(a, y) == pytest.approx(torch_bce.item(), rel=1e-13)

    z = rng.normal(0, 2, size=(6, 4))
    labels = rng.integers(0, 4, 6)
    torch_ce = F.cross_entropy(torch.tensor(z), torch.tensor(labels))
    assert L.CROSS_ENTROPY.value(A.softmax(z), np.eye(4)[labels]) == pytest.approx(
        torch_ce.item(), rel=1e-13)
    assert L.CROSS_ENTROPY.per_sample_from_logits(z, np.eye(4)[labels]).mean() == pytest.approx(
        torch_ce.item(), rel=1e-13)


@pytest.mark.parametrize("name", ["binary_cross_entropy", "cross_entropy"])
def test_fused_forms_agree_and_have_gradient_a_minus_y(name, central_diff, rel_error):
    """From the logits: the value equals the plain form, and d(mean)/dz = (f(z) - y) / n."""
    loss = L.get(name)
    out = A.get(loss.fused_output)
    rng = np.random.default_rng(4)
    _, y = _batch(name, rng)
    z = rng.normal(0, 2, size=y.shape)
    np.testing.assert_allclose(loss.per_sample_from_logits(z, y), loss.per_sample(out.f(z), y),
                               rtol=1e-12)
    numeric = central_diff(lambda v: loss.per_sample_from_logits(v, y).mean(), z.copy())
    assert rel_error((out.f(z) - y) / z.shape[0], numeric) < 1e-6


def test_fused_pairs_and_defaults():
    assert L.SQUARED_ERROR.fused_output == "identity"
    assert L.BINARY_CROSS_ENTROPY.fused_output == "sigmoid"
    assert L.CROSS_ENTROPY.fused_output == "softmax"
    assert L.DEFAULT_LOSS_FOR_OUTPUT == {"softmax": "cross_entropy",
                                         "sigmoid": "binary_cross_entropy"}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropies_from_logits_at_1e4(dtype):
    z = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0]], dtype)
    y = np.array([[1, 0, 0], [1, 0, 0]], dtype)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        ce = L.CROSS_ENTROPY.per_sample_from_logits(z, y)
        bce = L.BINARY_CROSS_ENTROPY.per_sample_from_logits(z, y)
    assert ce.dtype == dtype and bce.dtype == dtype
    np.testing.assert_allclose(ce, [0.0, 2e4], rtol=1e-6)
    # sample 0: logit 1e4 for y=1 (0), -1e4 for y=0 (0), 0 for y=0 (log 2); sample 1: 1e4 + 1e4 + log 2
    np.testing.assert_allclose(bce, [np.log(2), 2e4 + np.log(2)], rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", L.NAMES)
def test_plain_forms_are_finite_on_saturated_outputs(name, dtype):
    """Outputs of exactly 0 or 1 (a saturated sigmoid/softmax) give finite values and grads."""
    a = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], dtype)
    y = np.array([[0, 1, 0], [1, 0, 0]], dtype)
    loss = L.get(name)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        per = loss.per_sample(a, y)
        g = loss.grad(a, y)
    assert np.all(np.isfinite(per)) and np.all(np.isfinite(g))
    assert per.dtype == dtype and g.dtype == dtype
    if name != "squared_error":
        assert np.all(per > 10)  # confidently wrong costs a lot, not nothing


@pytest.mark.parametrize("key, name", [("mse", "squared_error"), ("bce", "binary_cross_entropy"),
                                       ("log_loss", "cross_entropy"), ("Cross_Entropy", "cross_entropy"),
                                       (L.CROSS_ENTROPY, "cross_entropy")])
def test_get_resolves_names_and_aliases(key, name):
    assert L.get(key).name == name


@pytest.mark.parametrize("key", ["hinge", 3, None, ["squared_error"]])
def test_unknown_loss_lists_the_valid_ones(key):
    with pytest.raises(GlassnetError,
                       match=r"Unknown loss .*\['binary_cross_entropy', 'cross_entropy', "
                             r"'squared_error'\]"):
        L.get(key)
