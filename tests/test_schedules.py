"""Learning-rate schedules: the formulas, and scikit-learn's invscaling and adaptive rules."""
from __future__ import annotations

import math
import pickle
import warnings

import numpy as np
import pytest

import glassnet as gn
from glassnet import schedules as S


def test_constant():
    s = S.constant(0.3)
    assert [s(t) for t in (0, 1, 10 ** 6)] == [0.3, 0.3, 0.3]


def test_step_decay_is_torchs_steplr():
    import torch
    s = S.step_decay(0.2, step_size=3, gamma=0.5)
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=0.2)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)
    for t in range(12):
        assert math.isclose(s(t), opt.param_groups[0]["lr"], rel_tol=1e-15)
        opt.step()
        sched.step()


def test_exponential_is_torchs_exponentiallr_and_staircase_floors():
    import torch
    s = S.exponential(0.1, gamma=0.9)
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=0.1)
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.9)
    for t in range(15):
        assert math.isclose(s(t), opt.param_groups[0]["lr"], rel_tol=1e-12)
        opt.step()
        sched.step()
    smooth = S.exponential(1.0, 0.5, decay_steps=4)
    stairs = S.exponential(1.0, 0.5, decay_steps=4, staircase=True)
    assert smooth(2) == pytest.approx(0.5 ** 0.5) and stairs(2) == 1.0 and stairs(4) == 0.5


def test_inverse_scaling_per_step_and_per_sample():
    s = S.inverse_scaling(1.0, power_t=0.5)
    assert [s(t) for t in (0, 3, 8)] == [1.0, 0.5, 1 / 3]
    # scikit-learn's clock: samples seen at the end of the previous epoch, + 1
    s = S.inverse_scaling(0.8, power_t=0.25, steps_per_epoch=4, samples_per_epoch=100)
    assert [s(t) for t in range(4)] == [0.8] * 4
    assert s(4) == pytest.approx(0.8 / 101 ** 0.25) and s(7) == s(4)
    assert s(8) == pytest.approx(0.8 / 201 ** 0.25)


def test_cosine_with_warmup_is_nanogpts_get_lr():
    lr, warmup, total, final = 0.6, 10, 110, 0.06

    def get_lr(it):  # nanoGPT train.py
        if it < warmup:
            return lr * (it + 1) / (warmup + 1)
        if it > total:
            return final
        ratio = (it - warmup) / (total - warmup)
        return final + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (lr - final)

    s = S.cosine(lr, total_steps=total, warmup_steps=warmup, final_lr=final)
    for t in range(0, 130, 3):
        assert s(t) == pytest.approx(get_lr(t), rel=1e-14)
    assert s(warmup) == pytest.approx(lr, rel=1e-15) and s(total) == final == s(10 ** 6)
    values = [s(t) for t in range(warmup, total + 1)]
    assert all(a >= b for a, b in zip(values, values[1:]))   # decays monotonically


def test_per_epoch_and_registry():
    s = S.per_epoch(S.step_decay(1.0, step_size=2, gamma=0.1), steps_per_epoch=5)
    assert [s(t) for t in (0, 9, 10, 19, 20)] == pytest.approx([1.0, 1.0, 0.1, 0.1, 0.01])
    assert S.get("invscaling", learning_rate=0.1)(3) == pytest.approx(0.05)
    assert S.get("cosine", learning_rate=0.1, total_steps=10)(10) == 0.0
    assert S.reduce_on_plateau is gn.callbacks.ReduceLROnPlateau


def test_schedules_pickle_compare_and_print():
    s = S.cosine(0.1, total_steps=50, warmup_steps=5)
    t = pickle.loads(pickle.dumps(s))
    assert t == s and hash(t) == hash(s) and [t(i) for i in range(60)] == [s(i) for i in range(60)]
    assert repr(s) == "cosine(learning_rate=0.1, total_steps=50, warmup_steps=5, final_lr=0.0)"
    assert S.constant(0.1) != S.constant(0.2)


@pytest.mark.parametrize("make, match", [
    (lambda: S.constant(0.0), "learning_rate must be > 0"),
    (lambda: S.step_decay(0.1, step_size=0), "step_size must be >= 1"),
    (lambda: S.exponential(0.1, gamma=-1), "gamma must be > 0"),
    (lambda: S.cosine(0.1, total_steps=10, warmup_steps=10), "warmup_steps"),
    (lambda: S.cosine(0.1, total_steps=10, final_lr=1.0), "final_lr"),
    (lambda: S.inverse_scaling(0.1, steps_per_epoch=3), "both steps_per_epoch"),
    (lambda: S.get("one_cycle", learning_rate=0.1), "Unknown schedule 'one_cycle'"),
    (lambda: S.per_epoch(0.1, 3), "per_epoch needs a schedule"),
])
def test_bad_arguments_are_named(make, match):
    with pytest.raises(gn.GlassnetError, match=match):
        make()


# --- scikit-learn's MLP schedules, from MLPClassifier's own initial weights -------------------------

def _digits(n=310):
    from sklearn.datasets import load_digits
    X, y = load_digits(return_X_y=True)
    return X[:n] / 16.0, y[:n]


def _sklearn_run(X, y, **params):
    """MLPClassifier trained from scratch, and the initial weights it started from."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    mlp = MLPClassifier(hidden_layer_sizes=(16,), solver="sgd", momentum=0.0, batch_size=64,
                        shuffle=False, random_state=0, **params)
    probe = MLPClassifier(**mlp.get_params())
    probe._random_state = np.random.RandomState(0)       # what _fit draws the weights from
    init = [probe._init_coef(a, b, np.float64) for a, b in ((64, 16), (16, 10))]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp.fit(X, y)
    return mlp, init


def _glassnet_net(init):
    return gn.Network([64, 16, 10], activation="relu", weights=[c for c, _ in init],
                      biases=[b for _, b in init])


def test_inverse_scaling_matches_mlpclassifier_invscaling():
    X, y = _digits()
    mlp, init = _sklearn_run(X, y, learning_rate="invscaling", learning_rate_init=0.5,
                             power_t=0.5, alpha=1e-3, max_iter=10, tol=0.0,
                             n_iter_no_change=1000)
    net = _glassnet_net(init)
    schedule = S.inverse_scaling(0.5, 0.5, steps_per_epoch=5, samples_per_epoch=310)
    history = net.fit(X, y, epochs=10, batch_size=64, optimizer=gn.optimizers.sgd(schedule),
                      alpha=1e-3, shuffle=False)
    assert history.learning_rate[-1] == pytest.approx(mlp._optimizer.learning_rate)
    for ours, theirs in zip(list(net.weights) + list(net.biases),
                            mlp.coefs_ + mlp.intercepts_):
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-8)
    np.testing.assert_allclose(history.loss, mlp.loss_curve_, rtol=1e-9)
    assert np.abs(net.weights[0] - init[0][0]).max() > 0.05   # the weights did move


def test_reduce_on_plateau_matches_mlpclassifier_adaptive():
    """tol is large, so every epoch after the first 'fails to improve': the rate drops."""
    X, y = _digits()
    mlp, init = _sklearn_run(X, y, learning_rate="adaptive", learning_rate_init=0.3,
                             alpha=1e-4, max_iter=10, tol=0.5, n_iter_no_change=1)
    net = _glassnet_net(init)
    plateau = gn.callbacks.ReduceLROnPlateau("loss", factor=0.2, patience=2, min_delta=0.5,
                                             min_lr=1e-6, stop_at_min_lr=True)
    history = net.fit(X, y, epochs=10, batch_size=64, optimizer="sgd", learning_rate=0.3,
                      alpha=1e-4, shuffle=False, callbacks=[plateau])
    rates = history.learning_rate
    assert rates[0] == 0.3 and rates[-1] < 0.3 / 5          # it really did reduce
    final = gn.optimizers.current_learning_rate(net._training.optimizer, net._training.state)
    assert final == pytest.approx(mlp._optimizer.learning_rate, rel=1e-12)
    assert len(history) == mlp.n_iter_
    np.testing.assert_allclose(history.loss, mlp.loss_curve_, rtol=1e-9)
    for ours, theirs in zip(list(net.weights) + list(net.biases),
                            mlp.coefs_ + mlp.intercepts_):
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-8)
