"""PyTorch as an oracle: the same initial weights and batches, 20 SGD steps, equal weights.

Our squared error is the per-sample 1/2 * sum of squares averaged over the batch, which is
``MSELoss(reduction="sum") / 2 / batch`` in torch; our cross-entropy on a softmax output is
``F.cross_entropy`` on the logits.  glassnet stores W as (fan_in, fan_out), torch as the
transpose.
"""
from __future__ import annotations

import copy

import numpy as np
import pytest

from glassnet import Network, Neuro

N, BATCH, EPOCHS = 18, 4, 4   # five batches per epoch (4, 4, 4, 4, 2): 20 steps in all
SIZES = [5, 7, 6, 3]
LR = 0.5


def _torch_model(net, dtype):
    import torch
    layers = []
    for l, (W, b, act) in enumerate(zip(net.weights, net.biases, net.activations)):
        linear = torch.nn.Linear(W.shape[0], W.shape[1], dtype=dtype)
        with torch.no_grad():
            linear.weight.copy_(torch.tensor(W.T.copy(), dtype=dtype))
            linear.bias.copy_(torch.tensor(b.copy(), dtype=dtype))
        layers.append(linear)
        # the output activation is applied in the loss (softmax is inside cross_entropy)
        if l < net.n_layers - 1:
            layers.append({"sigmoid": torch.nn.Sigmoid(), "tanh": torch.nn.Tanh(),
                           "relu": torch.nn.ReLU()}[act.name])
    return torch.nn.Sequential(*layers)


def _torch_loss(logits, target, output, loss, weights=None):
    import torch
    import torch.nn.functional as F
    if loss == "cross_entropy":
        per = F.cross_entropy(logits, target, reduction="none")
    else:
        a = torch.sigmoid(logits) if output == "sigmoid" else logits
        if weights is None:
            return torch.nn.MSELoss(reduction="sum")(a, target) / 2 / logits.shape[0]
        per = 0.5 * ((a - target) ** 2).sum(dim=1)
    return per.mean() if weights is None else (per * weights).sum() / weights.sum()


def _torch_train(model, X, y, output, loss, dtype, orders, sw=None):
    """SGD in torch over the given per-epoch sample orders; returns the per-epoch mean loss."""
    import torch
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    Xt = torch.tensor(X, dtype=dtype)
    yt = torch.tensor(y) if loss == "cross_entropy" else torch.tensor(y, dtype=dtype)
    wt = None if sw is None else torch.tensor(sw, dtype=dtype)
    epoch_losses = []
    for order in orders:
        total = 0.0
        for start in range(0, len(order), BATCH):
            idx = torch.tensor(order[start:start + BATCH])
            opt.zero_grad()
            value = _torch_loss(model(Xt[idx]), yt[idx], output, loss,
                                None if wt is None else wt[idx])
            value.backward()
            opt.step()
            total += value.item() * (len(idx) if wt is None else wt[idx].sum().item())
        epoch_losses.append(total / (len(order) if wt is None else float(sw.sum())))
    return epoch_losses


def _weights_from_torch(model):
    import torch
    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    return ([m.weight.detach().numpy().T for m in linears],
            [m.bias.detach().numpy() for m in linears])


def _data(loss, output, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, SIZES[0]))
    if loss == "cross_entropy":
        return X, rng.integers(0, SIZES[-1], N)
    if output == "sigmoid":
        return X, rng.uniform(0, 1, size=(N, SIZES[-1]))
    return X, rng.normal(size=(N, SIZES[-1]))


CASES = [(hidden, output, loss)
         for hidden in ("sigmoid", "tanh", "relu")
         for output, loss in (("identity", "squared_error"), ("sigmoid", "squared_error"),
                              ("softmax", "cross_entropy"))]


@pytest.mark.parametrize("hidden, output, loss", CASES)
def test_twenty_sgd_steps_match_torch_in_float64(hidden, output, loss):
    import torch
    X, y = _data(loss, output)
    net = Network(SIZES, activation=hidden, output=output, loss=loss, seed=1)
    start = net.params.copy()
    model = _torch_model(net, torch.float64)
    history = net.fit(X, y, epochs=EPOCHS, batch_size=BATCH, learning_rate=LR, shuffle=False)
    torch_losses = _torch_train(model, X, y, output, loss, torch.float64,
                                [np.arange(N)] * EPOCHS)
    tw, tb = _weights_from_torch(model)
    for ours, theirs in zip(list(net.weights) + list(net.biases), tw + tb):
        assert np.abs(ours - theirs).max() < 1e-9
    np.testing.assert_allclose(history.loss, torch_losses, rtol=1e-10)
    assert np.abs(net.params - start).max() > 0.05   # the weights really moved


def test_shuffled_epochs_and_sample_weights_match_torch():
    """Shuffled order (drawn from the network's generator) and weighted batches."""
    import torch
    X, y = _data("cross_entropy", "softmax", seed=3)
    sw = np.random.default_rng(4).uniform(0.1, 3.0, size=N)
    net = Network(SIZES, activation="tanh", seed=2)
    rng = copy.deepcopy(net.rng)
    orders = [rng.permutation(N) for _ in range(EPOCHS)]
    model = _torch_model(net, torch.float64)
    history = net.fit(X, y, epochs=EPOCHS, batch_size=BATCH, learning_rate=LR, sample_weight=sw)
    _torch_train(model, X, y, "softmax", "cross_entropy", torch.float64, orders, sw=sw)
    tw, tb = _weights_from_torch(model)
    for ours, theirs in zip(list(net.weights) + list(net.biases), tw + tb):
        assert np.abs(ours - theirs).max() < 1e-9
    assert len(history.loss) == EPOCHS


@pytest.mark.parametrize("hidden", ["tanh", "relu"])
def test_float32_matches_torch_float32(hidden):
    import torch
    X, y = _data("cross_entropy", "softmax", seed=5)
    net = Network(SIZES, activation=hidden, seed=6, dtype="float32")
    model = _torch_model(net, torch.float32)
    net.fit(X.astype(np.float32), y, epochs=EPOCHS, batch_size=BATCH, learning_rate=LR,
            shuffle=False)
    _torch_train(model, X.astype(np.float32), y, "softmax", "cross_entropy", torch.float32,
                 [np.arange(N)] * EPOCHS)
    tw, tb = _weights_from_torch(model)
    assert net.params.dtype == np.float32
    for ours, theirs in zip(list(net.weights) + list(net.biases), tw + tb):
        assert ours.dtype == np.float32
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("activators", [1, "tanh", ["relu", "sigmoid", "sigmoid"]])
def test_neuro_matches_torch(activators):
    """Neuro: squared error through the output activation, w -= lr/len(batch) * x^T delta."""
    import torch
    rng = np.random.default_rng(7)
    X = rng.normal(size=(N, SIZES[0]))
    Y = np.eye(SIZES[-1])[rng.integers(0, SIZES[-1], N)]
    n = Neuro(SIZES, learning_rate=LR, activators=activators, seed=8, quiet=True)
    order_rng = copy.deepcopy(n.rng)
    orders = [order_rng.permutation(N) for _ in range(EPOCHS)]

    acts = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu}
    names = [a.name for a in n.activations]
    params = [torch.tensor(p.copy(), requires_grad=True) for p in list(n.w) + list(n.b)]
    ws, bs = params[:len(names)], params[len(names):]
    Xt, Yt = torch.tensor(X), torch.tensor(Y)
    for order in orders:
        for start in range(0, N, BATCH):
            idx = torch.tensor(order[start:start + BATCH])
            a = Xt[idx]
            for W, b, name in zip(ws, bs, names):
                a = acts[name](a @ W + b)
            loss = 0.5 * ((a - Yt[idx]) ** 2).sum()
            loss.backward()
            with torch.no_grad():
                for p in params:
                    p -= LR / len(idx) * p.grad
                    p.grad.zero_()
    n.fit(X, Y, EPOCHS, BATCH)
    for ours, theirs in zip(list(n.w) + list(n.b), params):
        assert np.abs(ours - theirs.detach().numpy()).max() < 1e-9
