"""Optimizers: each step against the formula written by hand and against torch.optim.

Every optimizer in the registry is also run on a quadratic and on the Rosenbrock function
(driven by ``optimizers.NAMES``, so a new optimizer is tested without a new test).
"""
from __future__ import annotations

import math
import pickle
import tracemalloc

import numpy as np
import pytest
import torch

import glassnet as gn
from glassnet import optimizers as O

P = 37          # parameters
STEPS = 20


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(0)
    return rng.normal(size=P), rng.normal(size=(STEPS, P))


def run_ours(opt, p0, grads):
    """Feed the fixed gradient sequence through ``opt``; the loop adds the rewritten grads."""
    p = p0.copy()
    state = opt.init(p)
    g = np.empty_like(p)
    trajectory = []
    for t in range(len(grads)):
        g[...] = grads[t]
        state = opt.update(g, state, p)
        p += g
        trajectory.append(p.copy())
    return np.array(trajectory), state


def run_torch(cls, p0, grads, **kwargs):
    p = torch.tensor(p0.copy(), dtype=torch.float64, requires_grad=True)
    opt = cls([p], **kwargs)
    trajectory = []
    for t in range(len(grads)):
        p.grad = torch.tensor(grads[t].copy(), dtype=torch.float64)
        opt.step()
        trajectory.append(p.detach().numpy().copy())
    return np.array(trajectory)


# --- the formulas, written out by hand, one step at a time ---------------------------------------

def hand_sgd(p0, grads, lr, momentum=0.0, nesterov=False, wd=0.0):
    p, buf, out = p0.copy(), np.zeros_like(p0), []
    for g in grads:
        g = g + wd * p
        if momentum:
            buf = momentum * buf + g
            g = g + momentum * buf if nesterov else buf
        p = p - lr * g
        out.append(p)
    return np.array(out)


def hand_adam(p0, grads, lr, b1=0.9, b2=0.999, eps=1e-8, wd=0.0, decoupled=False,
              sklearn=False):
    p, m, v, out = p0.copy(), np.zeros_like(p0), np.zeros_like(p0), []
    for t, g in enumerate(grads, start=1):
        if wd and not decoupled:
            g = g + wd * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        if sklearn:
            lr_t = lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
            step = lr_t * m / (np.sqrt(v) + eps)
        else:
            m_hat, v_hat = m / (1 - b1 ** t), v / (1 - b2 ** t)
            step = lr * m_hat / (np.sqrt(v_hat) + eps)
        if decoupled:
            p = p * (1 - lr * wd)
        p = p - step
        out.append(p)
    return np.array(out)


def hand_rmsprop(p0, grads, lr, alpha=0.99, eps=1e-8, centered=False, momentum=0.0):
    p, v, mg, buf, out = p0.copy(), np.zeros_like(p0), np.zeros_like(p0), np.zeros_like(p0), []
    for g in grads:
        v = alpha * v + (1 - alpha) * g * g
        if centered:
            mg = alpha * mg + (1 - alpha) * g
            denom = np.sqrt(v - mg * mg) + eps
        else:
            denom = np.sqrt(v) + eps
        if momentum:
            buf = momentum * buf + g / denom
            p = p - lr * buf
        else:
            p = p - lr * g / denom
        out.append(p)
    return np.array(out)


def hand_adagrad(p0, grads, lr, eps=1e-10, initial=0.0):
    p, G, out = p0.copy(), np.full_like(p0, initial), []
    for g in grads:
        G = G + g * g
        p = p - lr * g / (np.sqrt(G) + eps)
        out.append(p)
    return np.array(out)


CASES = [
    # id, our optimizer, hand formula, torch class and kwargs
    ("sgd", lambda: O.sgd(0.1), lambda p, g: hand_sgd(p, g, 0.1),
     torch.optim.SGD, dict(lr=0.1)),
    ("momentum", lambda: O.momentum(0.05, 0.9), lambda p, g: hand_sgd(p, g, 0.05, 0.9),
     torch.optim.SGD, dict(lr=0.05, momentum=0.9)),
    ("nesterov", lambda: O.nesterov(0.05, 0.9), lambda p, g: hand_sgd(p, g, 0.05, 0.9, True),
     torch.optim.SGD, dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("sgd_weight_decay", lambda: O.sgd(0.1, momentum=0.5, weight_decay=0.2),
     lambda p, g: hand_sgd(p, g, 0.1, 0.5, wd=0.2),
     torch.optim.SGD, dict(lr=0.1, momentum=0.5, weight_decay=0.2)),
    ("adam", lambda: O.adam(0.01), lambda p, g: hand_adam(p, g, 0.01),
     torch.optim.Adam, dict(lr=0.01)),
    ("adam_l2", lambda: O.adam(0.01, weight_decay=0.1),
     lambda p, g: hand_adam(p, g, 0.01, wd=0.1),
     torch.optim.Adam, dict(lr=0.01, weight_decay=0.1)),
    ("adamw", lambda: O.adamw(0.01, weight_decay=0.1),
     lambda p, g: hand_adam(p, g, 0.01, wd=0.1, decoupled=True),
     torch.optim.AdamW, dict(lr=0.01, weight_decay=0.1)),
    ("rmsprop", lambda: O.rmsprop(0.01), lambda p, g: hand_rmsprop(p, g, 0.01),
     torch.optim.RMSprop, dict(lr=0.01)),
    ("rmsprop_centered_momentum", lambda: O.rmsprop(0.01, centered=True, momentum=0.5),
     lambda p, g: hand_rmsprop(p, g, 0.01, centered=True, momentum=0.5),
     torch.optim.RMSprop, dict(lr=0.01, centered=True, momentum=0.5)),
    ("adagrad", lambda: O.adagrad(0.1), lambda p, g: hand_adagrad(p, g, 0.1),
     torch.optim.Adagrad, dict(lr=0.1)),
    ("adagrad_initial", lambda: O.adagrad(0.1, initial_accumulator_value=0.5),
     lambda p, g: hand_adagrad(p, g, 0.1, initial=0.5),
     torch.optim.Adagrad, dict(lr=0.1, initial_accumulator_value=0.5)),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_step_equals_hand_formula_and_torch(case, problem):
    name, make, hand, torch_cls, torch_kwargs = case
    p0, grads = problem
    ours, _ = run_ours(make(), p0, grads)
    by_hand = hand(p0, grads)
    by_torch = run_torch(torch_cls, p0, grads, **torch_kwargs)
    assert np.abs(ours[-1] - p0).max() > 1e-2, "the optimizer barely moved: the test proves little"
    np.testing.assert_allclose(ours, by_hand, rtol=0, atol=1e-9)
    np.testing.assert_allclose(ours, by_torch, rtol=0, atol=1e-9)


def test_adam_sklearn_form_is_scikit_learns_optimizer(problem):
    """eps_mode="sklearn" equals scikit-learn's own AdamOptimizer, step for step."""
    from sklearn.neural_network._stochastic_optimizers import AdamOptimizer
    p0, grads = problem
    ours, _ = run_ours(O.adam(0.01, eps_mode="sklearn"), p0, grads)
    np.testing.assert_allclose(ours, hand_adam(p0, grads, 0.01, sklearn=True), atol=1e-12)
    params = [p0.copy()]
    sk = AdamOptimizer(params, learning_rate_init=0.01)
    for t in range(STEPS):
        sk.update_params(params, [grads[t].copy()])
        np.testing.assert_allclose(ours[t], params[0], rtol=0, atol=1e-12)
    # torch's form differs only in where eps sits: far from the noise floor, they agree
    torch_form, _ = run_ours(O.adam(0.01), p0, grads)
    assert np.abs(torch_form - ours).max() < 1e-6


def test_sklearn_momentum_velocity_form_is_the_same_step(problem):
    """scikit-learn's v <- mu v - lr g (and Nesterov's mu v - lr g) at a constant rate."""
    from sklearn.neural_network._stochastic_optimizers import SGDOptimizer
    p0, grads = problem
    for nesterov, ours_opt in ((False, O.momentum(0.05, 0.9)), (True, O.nesterov(0.05, 0.9))):
        ours, _ = run_ours(ours_opt, p0, grads)
        params = [p0.copy()]
        sk = SGDOptimizer(params, learning_rate_init=0.05, momentum=0.9, nesterov=nesterov)
        for t in range(STEPS):
            sk.update_params(params, [grads[t].copy()])
        np.testing.assert_allclose(ours[-1], params[0], rtol=0, atol=1e-9)


def test_clip_by_global_norm(problem):
    p0, grads = problem
    big = grads[0] * 10
    norm = np.linalg.norm(big)
    opt = O.chain(O.clip_by_global_norm(1.5), O.scale_by_learning_rate(1.0))
    g = big.copy()
    opt.update(g, opt.init(p0), p0)
    clipped = -g
    np.testing.assert_allclose(clipped, big * 1.5 / norm, rtol=1e-13)
    assert math.isclose(np.linalg.norm(clipped), 1.5, rel_tol=1e-12)
    small = grads[0] / np.linalg.norm(grads[0])          # norm 1 < 1.5: untouched
    g = small.copy()
    opt.update(g, opt.init(p0), p0)
    np.testing.assert_array_equal(g, -small)
    # torch's clip_grad_norm_ divides by (norm + 1e-6): equal up to that
    t = torch.tensor(p0.copy(), requires_grad=True)
    t.grad = torch.tensor(big.copy())
    torch.nn.utils.clip_grad_norm_([t], 1.5)
    np.testing.assert_allclose(clipped, t.grad.numpy(), rtol=1e-6)


def test_add_decayed_weights_leaves_biases_alone():
    net = gn.Network([3, 4, 2], seed=0)
    params = net.params.copy()
    opt = O.add_decayed_weights(0.5, n_weights=net.n_weights)
    g = np.zeros_like(params)
    opt.update(g, opt.init(params), params)
    np.testing.assert_allclose(g[:net.n_weights], 0.5 * params[:net.n_weights])
    np.testing.assert_array_equal(g[net.n_weights:], 0.0)


def test_adamw_can_spare_the_biases(problem):
    p0, grads = problem
    k = 20
    ours, _ = run_ours(O.adamw(0.01, weight_decay=0.1, n_weights=k), p0, grads)
    decayed = hand_adam(p0, grads, 0.01, wd=0.1, decoupled=True)
    plain = hand_adam(p0, grads, 0.01)
    np.testing.assert_allclose(ours[:, :k], decayed[:, :k], atol=1e-12)
    np.testing.assert_allclose(ours[:, k:], plain[:, k:], atol=1e-12)


def test_schedule_drives_the_step(problem):
    p0, grads = problem
    schedule = gn.schedules.step_decay(0.1, step_size=5, gamma=0.5)
    ours, _ = run_ours(O.sgd(schedule), p0, grads)
    p, expected = p0.copy(), []
    for t, g in enumerate(grads):
        p = p - schedule(t) * g
        expected.append(p)
    np.testing.assert_allclose(ours, expected, atol=1e-12)
    assert schedule(0) == 0.1 and schedule(19) == 0.1 * 0.5 ** 3


# --- every optimizer in the registry minimises -----------------------------------------------------

A = np.array([1.0, 2.0, 4.0, 7.0, 10.0])
C = np.array([1.0, -2.0, 3.0, 0.5, -1.0])


def quadratic(p, g):
    d = p - C
    np.multiply(A, d, out=g)
    return 0.5 * float(d @ (A * d))


def rosenbrock(p, g):
    x, y = p
    g[0] = -2 * (1 - x) - 400 * x * (y - x * x)
    g[1] = 200 * (y - x * x)
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2


def minimise(opt, f, p0, steps):
    p = p0.copy()
    g = np.empty_like(p)
    state = opt.init(p)
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(steps):
            f(p, g)
            state = opt.update(g, state, p)
            p += g
            if not np.isfinite(p).all():
                return math.inf, p
        return f(p, g), p


@pytest.mark.parametrize("name", O.NAMES)
@pytest.mark.parametrize("objective", ["quadratic", "rosenbrock"])
def test_every_registered_optimizer_minimises(name, objective):
    """Some learning rate on a coarse grid reaches the minimum: the optimizer descends."""
    f, p0, steps, target, optimum = {
        "quadratic": (quadratic, np.zeros(5), 3000, 1e-4, C),
        "rosenbrock": (rosenbrock, np.array([-1.5, 2.0]), 12000, 1e-3, np.ones(2)),
    }[objective]
    start = f(p0, np.empty_like(p0))
    results = {}
    for lr in (0.3, 0.1, 0.03, 0.01, 0.003, 0.001):
        value, p = minimise(O.get(name, lr), f, p0, steps)
        results[lr] = value
        if value < target:
            assert np.linalg.norm(p - optimum) < 0.1
            assert value < start * 1e-3
            return
    pytest.fail(f"{name} did not minimise the {objective} function at any learning rate: "
                f"{results}")


# --- the contract: in place, no allocation, float32, pickling, errors ----------------------------

@pytest.mark.parametrize("name", O.NAMES)
def test_update_is_in_place_and_allocates_nothing_parameter_sized(name):
    n = 200_000                      # 1.6 MB of float64: any parameter-sized temporary shows
    rng = np.random.default_rng(1)
    params, grads = rng.normal(size=n), np.empty(n)
    opt = O.get(name, 1e-3)
    state = opt.init(params)
    arrays_before = [id(a) for a in O.state_leaves(state) if isinstance(a, np.ndarray)]
    grads[...] = rng.normal(size=n)
    state = opt.update(grads, state, params)         # warm up
    tracemalloc.start()
    try:
        for _ in range(3):
            grads[...] = 0.5
            state = opt.update(grads, state, params)
            params += grads
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < params.nbytes / 4, f"{name} allocated {peak} bytes during update"
    arrays_after = [id(a) for a in O.state_leaves(state) if isinstance(a, np.ndarray)]
    assert arrays_after == arrays_before, "state arrays must be updated in place"


@pytest.mark.parametrize("name", O.NAMES)
def test_float32_stays_float32(name):
    params = np.linspace(-1, 1, 50).astype(np.float32)
    grads = np.full(50, 0.1, np.float32)
    opt = O.get(name)
    state = opt.init(params)
    for _ in range(3):
        g = grads.copy()
        state = opt.update(g, state, params)
        assert g.dtype == np.float32
        params += g
    for leaf in O.state_leaves(state):
        if isinstance(leaf, np.ndarray) and leaf.ndim:
            assert leaf.dtype == np.float32


@pytest.mark.parametrize("name", O.NAMES)
def test_optimizers_pickle_with_their_state(name, problem):
    p0, grads = problem
    opt = O.get(name, gn.schedules.cosine(0.01, total_steps=30, warmup_steps=3))
    ours, state = run_ours(opt, p0, grads[:10])
    opt2, state2 = pickle.loads(pickle.dumps((opt, state)))
    assert repr(opt2) == repr(opt)
    p, q = ours[-1].copy(), ours[-1].copy()
    for t in range(10, STEPS):
        g, h = grads[t].copy(), grads[t].copy()
        state = opt.update(g, state, p)
        p += g
        state2 = opt2.update(h, state2, q)
        q += h
    np.testing.assert_array_equal(p, q)


def test_state_leaves_round_trip(problem):
    p0, grads = problem
    opt = O.chain(O.clip_by_global_norm(10.0), O.adam(0.01))
    _, state = run_ours(opt, p0, grads)
    leaves = O.state_leaves(state)
    fresh = O.load_state_leaves(opt.init(p0), [np.array(x) if isinstance(x, np.ndarray) else x
                                               for x in leaves])
    for a, b in zip(O.state_leaves(fresh), leaves):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(gn.GlassnetError, match="written for a different"):
        O.load_state_leaves(O.sgd(0.1, momentum=0.9).init(p0), leaves)


def test_current_learning_rate_and_scaling():
    params = np.zeros(3)
    opt = O.momentum(gn.schedules.step_decay(0.1, step_size=2, gamma=0.5))
    state = opt.init(params)
    assert O.current_learning_rate(opt, state) == 0.1
    for _ in range(2):
        state = opt.update(np.ones(3), state, params)
    assert O.current_learning_rate(opt, state) == 0.05
    assert O.scale_learning_rate(state, 0.2) == pytest.approx(0.2)
    assert O.current_learning_rate(opt, state) == pytest.approx(0.01)


@pytest.mark.parametrize("bad, match", [
    (dict(spec="rmsprob"), "'optimizer' parameter must be one of"),
    (dict(spec=3), "'optimizer' parameter must be one of"),
    (dict(spec="adam", learning_rate=-1.0), "learning_rate must be > 0"),
    (dict(spec="adam", learning_rate=float("nan")), "learning_rate must be finite"),
    (dict(spec="sgd", learning_rate="fast"), "learning_rate must be a positive number"),
    (dict(spec="sgd", learning_rate=None), None),
])
def test_get_names_what_is_wrong(bad, match):
    if match is None:
        assert O.get(**bad).config["learning_rate"] == 0.01
        return
    with pytest.raises(gn.GlassnetError, match=match):
        O.get(**bad)


def test_bad_hyperparameters_name_themselves():
    with pytest.raises(gn.GlassnetError, match="momentum must be in"):
        O.momentum(0.1, momentum=1.5)
    with pytest.raises(gn.GlassnetError, match="b2 must be in"):
        O.adam(b2=1.0)
    with pytest.raises(gn.GlassnetError, match="eps_mode"):
        O.adam(eps_mode="keras")
    with pytest.raises(gn.GlassnetError, match="nesterov=True needs momentum"):
        O.sgd(0.1, nesterov=True)
    with pytest.raises(gn.GlassnetError, match="transform 1 must be an Optimizer"):
        O.chain(O.sgd(), "adam")
    with pytest.raises(gn.GlassnetError, match="optimizer object"):
        O.get(O.adam(), learning_rate=0.1)
