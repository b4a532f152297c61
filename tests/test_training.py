"""The fit loop: parity with MLPClassifier, history and metrics, validation, early stopping,
callbacks, partial_fit, Ctrl-C, divergence, progress output, float32, sample weights, errors."""
from __future__ import annotations

import doctest
import math
import inspect
import io
import os
import signal
import sys
import warnings

import numpy as np
import pytest

import glassnet as gn
from glassnet.callbacks import Callback, LambdaCallback


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits
    X, y = load_digits(return_X_y=True)
    return X[:310] / 16.0, y[:310]


@pytest.fixture(scope="module")
def iris(iris_scaled):
    return iris_scaled


def sklearn_initial_weights(mlp, units):
    """The weights MLPClassifier(random_state=0) starts from, drawn by its own _init_coef."""
    from sklearn.neural_network import MLPClassifier
    probe = MLPClassifier(**mlp.get_params())
    probe._random_state = np.random.RandomState(mlp.random_state)
    return [probe._init_coef(a, b, np.float64) for a, b in zip(units[:-1], units[1:])]


# --- parity with scikit-learn -----------------------------------------------------------------------

PARITY = {
    "sgd": (dict(solver="sgd", momentum=0.0, learning_rate_init=0.1),
            lambda: gn.optimizers.sgd(0.1)),
    "momentum": (dict(solver="sgd", momentum=0.9, nesterovs_momentum=False,
                      learning_rate_init=0.05), lambda: gn.optimizers.momentum(0.05, 0.9)),
    "nesterov": (dict(solver="sgd", momentum=0.9, nesterovs_momentum=True,
                      learning_rate_init=0.05), lambda: gn.optimizers.nesterov(0.05, 0.9)),
    "adam": (dict(solver="adam", learning_rate_init=0.01),
             lambda: gn.optimizers.adam(0.01, eps_mode="sklearn")),
}


@pytest.mark.parametrize("name", sorted(PARITY))
@pytest.mark.parametrize("alpha", [0.0, 1e-2])
def test_same_weights_as_mlpclassifier_after_10_epochs(name, alpha, digits):
    """From MLPClassifier's own initial weights, no shuffling, the same batches (the last one
    smaller: 310 = 4 * 64 + 54), the same alpha: the same weights after 10 epochs."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    X, y = digits
    params, make = PARITY[name]
    mlp = MLPClassifier(hidden_layer_sizes=(16,), alpha=alpha, batch_size=64, shuffle=False,
                        tol=0.0, n_iter_no_change=1000, max_iter=10, random_state=0, **params)
    init = sklearn_initial_weights(mlp, [64, 16, 10])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp.fit(X, y)
    net = gn.Network([64, 16, 10], activation="relu", weights=[w for w, _ in init],
                     biases=[b for _, b in init])
    history = net.fit(X, y, epochs=10, batch_size=64, optimizer=make(), alpha=alpha,
                      shuffle=False)
    assert np.abs(net.weights[0] - init[0][0]).max() > 0.05          # training did move them
    for ours, theirs in zip(list(net.weights) + list(net.biases), mlp.coefs_ + mlp.intercepts_):
        np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-8)
    np.testing.assert_allclose(history.loss, mlp.loss_curve_, rtol=1e-9)   # penalty included


# --- history, metrics, validation ---------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("alpha, weighted, schedule, output, loss", [
    (0.0, False, False, "softmax", "cross_entropy"),
    (1e-2, False, False, "softmax", "cross_entropy"),
    (0.0, True, False, "softmax", "cross_entropy"),
    (1e-2, True, True, "softmax", "cross_entropy"),
    (0.0, True, False, "sigmoid", "binary_cross_entropy"),
    (1e-2, False, True, "identity", "squared_error")])
def test_plain_sgd_folded_into_the_backward_pass_equals_the_update(dtype, alpha, weighted,
                                                                   schedule, output, loss,
                                                                   digits):
    """Plain SGD's step is folded into the backward pass (Optimizer.linear): the weights and
    the losses must be those of calling ``update`` on the gradients, step for step."""
    X, y = digits
    sw = np.random.default_rng(3).uniform(0.5, 2.0, len(y)) if weighted else None
    lr = gn.schedules.exponential(0.2, 0.99) if schedule else 0.2
    folded = gn.optimizers.sgd(lr)
    assert folded.linear is not None
    unfolded = folded._replace(linear=None)
    runs = []
    for opt in (folded, unfolded):
        net = gn.Network([64, 16, 10], activation="tanh", output=output, loss=loss, seed=4,
                         dtype=dtype)
        history = net.fit(X, y, epochs=3, batch_size=24, optimizer=opt, alpha=alpha,
                          sample_weight=sw, callbacks=[gn.callbacks.ReduceLROnPlateau(
                              patience=1, factor=0.5, min_delta=1.0)])
        runs.append((net.params.copy(), history.loss, history.learning_rate))
    rtol = 1e-12 if dtype == "float64" else 2e-5
    np.testing.assert_allclose(runs[0][0], runs[1][0], rtol=rtol, atol=rtol * 1e-2)
    np.testing.assert_allclose(runs[0][1], runs[1][1], rtol=rtol)
    assert runs[0][2] == runs[1][2] and runs[0][2][-1] < runs[0][2][0]   # the rate was cut
    assert not np.allclose(runs[0][0], gn.Network([64, 16, 10], activation="tanh", seed=4,
                                                  dtype=dtype).params)


def test_history_records_every_metric(iris):
    from sklearn.metrics import accuracy_score, log_loss
    X, y = iris
    net = gn.Network([4, 8, 3], seed=0)
    h = net.fit(X, y, epochs=4, optimizer="adam", learning_rate=0.02, validation_split=0.2,
                metrics=["accuracy", "log_loss"])
    assert set(h.keys()) == {"loss", "accuracy", "log_loss", "val_loss", "val_accuracy",
                             "val_log_loss", "learning_rate"}
    assert all(len(v) == 4 for v in h.history.values()) and h.epochs == [0, 1, 2, 3]
    assert h["acc"] is h.accuracy and h["val_acc"] is h.val_accuracy  # aliases
    assert h.val_loss == h.val_log_loss                                # same quantity
    assert h.learning_rate == [0.02] * 4
    # the last epoch's numbers are the metrics of the final weights
    with pytest.raises(KeyError, match="was not recorded"):
        h["r2"]


def test_metrics_equal_scikit_learns(iris):
    from sklearn.metrics import accuracy_score, log_loss, mean_squared_error, r2_score
    X, y = iris
    net = gn.Network([4, 8, 3], seed=0)
    val = (X[::3], y[::3])
    h = net.fit(X, y, epochs=3, optimizer="adam", learning_rate=0.05, validation_data=val,
                metrics=["accuracy", "log_loss"])
    proba = net.predict_proba(val[0])
    assert h.val_accuracy[-1] == pytest.approx(accuracy_score(val[1], proba.argmax(1)))
    assert h.val_log_loss[-1] == pytest.approx(log_loss(val[1], proba, labels=[0, 1, 2]),
                                               rel=1e-10)
    reg = gn.Network([4, 6, 2], loss="squared_error", seed=0)
    Y = np.column_stack([X[:, 0] - X[:, 1], X[:, 2]])
    h = reg.fit(X, Y, epochs=3, learning_rate=0.05, metrics=["mse", "r2", "mae"],
                validation_data=(X, Y))
    pred = reg.forward(X)
    assert h.val_mse[-1] == pytest.approx(mean_squared_error(Y, pred), rel=1e-10)
    assert h.val_r2[-1] == pytest.approx(r2_score(Y, pred), rel=1e-10)
    assert h.r2[-1] == pytest.approx(h.val_r2[-1], rel=1e-10)   # same data, end-of-epoch weights
    assert gn.metrics.r2([1.0, 1.0], [1.0, 2.0]) == 0.0 and gn.metrics.r2([1, 1], [1, 1]) == 1.0


def test_validation_split_is_stratified_and_reproducible(iris):
    X, y = iris
    seen = []

    class Grab(Callback):
        def on_train_begin(self, ctx, logs):
            seen.append(ctx.validation)

    for _ in range(2):
        gn.Network([4, 5, 3], seed=7).fit(X, y, epochs=1, validation_split=0.2,
                                          callbacks=[Grab()])
    (Xa, Ya, _), (Xb, Yb, _) = seen
    np.testing.assert_array_equal(Xa, Xb)
    assert Xa.shape[0] == 30 and np.bincount(Ya.argmax(1)).tolist() == [10, 10, 10]


def test_validation_data_with_weights_and_bad_validation_data(iris):
    X, y = iris
    net = gn.Network([4, 5, 3], seed=0)
    w = np.where(y == 0, 3.0, 1.0)
    h = net.fit(X, y, epochs=1, validation_data=(X, y, w))
    z = net.trace(X).pre[-1]
    expected = np.average(net.loss_per_sample(z, net.encode_targets(y)), weights=w)
    assert h.val_loss[-1] == pytest.approx(expected, rel=1e-12)
    with pytest.raises(gn.GlassnetError, match="validation_data: X has 3 features"):
        net.fit(X, y, epochs=1, validation_data=(X[:, :3], y))
    with pytest.raises(gn.GlassnetError, match="validation_data must be a tuple"):
        net.fit(X, y, epochs=1, validation_data=X)
    with pytest.raises(gn.GlassnetError, match="not both"):
        net.fit(X, y, epochs=1, validation_data=(X, y), validation_split=0.1)


# --- early stopping and callbacks ---------------------------------------------------------------

class Recorder(Callback):
    def __init__(self):
        self.events, self.params = [], []

    def on_train_begin(self, ctx, logs):
        self.events.append("train_begin")

    def on_epoch_begin(self, ctx, logs):
        self.events.append(f"epoch_begin {ctx.epoch}")

    def on_batch_begin(self, ctx, logs):
        self.events.append(f"batch_begin {ctx.epoch}.{logs['batch']}")

    def on_batch_end(self, ctx, logs):
        assert np.isfinite(logs["loss"])
        self.events.append(f"batch_end {ctx.epoch}.{logs['batch']}")

    def on_epoch_end(self, ctx, logs):
        self.params.append(ctx.net.params.copy())
        self.events.append(f"epoch_end {ctx.epoch}")

    def on_train_end(self, ctx, logs):
        self.events.append("train_end")


def test_callback_hooks_run_in_order(iris):
    X, y = iris
    rec = Recorder()
    gn.Network([4, 5, 3], seed=0).fit(X, y, epochs=2, batch_size=75, callbacks=[rec])
    assert rec.events == ["train_begin", "epoch_begin 0", "batch_begin 0.0", "batch_end 0.0",
                          "batch_begin 0.1", "batch_end 0.1", "epoch_end 0", "epoch_begin 1",
                          "batch_begin 1.0", "batch_end 1.0", "batch_begin 1.1", "batch_end 1.1",
                          "epoch_end 1", "train_end"]


def test_a_callback_can_stop_training(iris):
    X, y = iris
    stop_after_epoch = LambdaCallback(on_epoch_end=lambda ctx, logs: setattr(ctx, "stop",
                                                                            ctx.epoch == 2))
    h = gn.Network([4, 5, 3], seed=0).fit(X, y, epochs=10, callbacks=[stop_after_epoch])
    assert len(h) == 3 and not h.interrupted
    # stopping mid-epoch: the unfinished epoch is not recorded
    mid = LambdaCallback(on_batch_end=lambda ctx, logs: setattr(ctx, "stop",
                                                                (ctx.epoch, ctx.batch) == (1, 2)))
    h = gn.Network([4, 5, 3], seed=0).fit(X, y, epochs=10, batch_size=10, callbacks=[mid])
    assert len(h) == 1


def test_early_stopping_restores_the_best_weights(iris):
    X, y = iris
    rec = Recorder()
    net = gn.Network([4, 32, 3], seed=0)
    h = net.fit(X, y, epochs=300, optimizer="adam", learning_rate=0.05, validation_split=0.3,
                early_stopping=True, patience=5, callbacks=[rec])
    assert h.stopped_early and len(h) < 300
    best = int(np.argmin(h.val_loss))
    # the guard: it stops after exactly `patience` epochs without improvement, here epoch
    # 17 (index 16) after the best epoch 12 (index 11)
    assert h.best_epoch == best == 11
    assert len(h) - 1 - best == 5 and len(h) == 17
    np.testing.assert_array_equal(net.params, rec.params[best])
    # without restore_best the last weights stay
    net2 = gn.Network([4, 32, 3], seed=0)
    h2 = net2.fit(X, y, epochs=300, optimizer="adam", learning_rate=0.05, validation_split=0.3,
                  early_stopping=True, patience=5, restore_best=False)
    assert len(h2) == len(h)
    np.testing.assert_array_equal(net2.params, rec.params[-1])


def test_early_stopping_on_a_metric_maximises_it(iris):
    X, y = iris
    stopper = gn.callbacks.EarlyStopping("val_accuracy", patience=3)
    h = gn.Network([4, 8, 3], seed=0).fit(X, y, epochs=200, optimizer="adam",
                                          learning_rate=0.05, validation_split=0.3,
                                          metrics=["accuracy"], callbacks=[stopper])
    assert h.best_epoch == int(np.argmax(h.val_accuracy))
    with pytest.raises(gn.GlassnetError, match="monitors 'val_r2'"):
        gn.Network([4, 8, 3], seed=0).fit(
            X, y, epochs=2, validation_split=0.3,
            callbacks=[gn.callbacks.EarlyStopping("val_r2", patience=3)])


# --- partial_fit and warm start -------------------------------------------------------------------

def test_partial_fit_continues_the_optimizer_like_one_run(iris):
    X, y = iris
    a = gn.Network([4, 8, 3], seed=3)
    ha = a.fit(X, y, epochs=3, optimizer="adam", learning_rate=0.01, batch_size=16)
    b = gn.Network([4, 8, 3], seed=3)
    losses = [b.partial_fit(X, y, optimizer="adam", learning_rate=0.01, batch_size=16).loss[0]]
    for _ in range(2):
        losses += b.partial_fit(X, y, batch_size=16).loss
    np.testing.assert_array_equal(a.params, b.params)
    assert losses == ha.loss
    assert b._training.step == 3 * 10 and b._training.optimizer.name == "adam"
    with pytest.raises(gn.GlassnetError, match="pass optimizer= as well"):
        b.partial_fit(X, y, learning_rate=0.1)
    c = gn.Network([4, 8, 3], seed=3)          # naming the same optimizer again continues too
    for _ in range(3):
        c.partial_fit(X, y, optimizer="adam", learning_rate=0.01, batch_size=16)
    np.testing.assert_array_equal(a.params, c.params)


def test_fit_again_continues_from_the_trained_weights(iris):
    X, y = iris
    net = gn.Network([4, 8, 3], seed=0)
    first = net.fit(X, y, epochs=5, optimizer="adam", learning_rate=0.01)
    second = net.fit(X, y, epochs=5, optimizer="adam", learning_rate=0.01)
    assert second.loss[0] < first.loss[0] and second.loss[-1] < first.loss[-1]


# --- Ctrl-C ------------------------------------------------------------------------------------

def test_keyboard_interrupt_from_a_callback_keeps_the_weights(iris):
    X, y = iris

    class Boom(Callback):
        def on_batch_end(self, ctx, logs):
            if (ctx.epoch, ctx.batch) == (2, 3):
                raise KeyboardInterrupt

    stop = LambdaCallback(on_batch_end=lambda ctx, logs: setattr(ctx, "stop",
                                                                 (ctx.epoch, ctx.batch) == (2, 3)))
    net = gn.Network([4, 8, 3], seed=0)
    h = net.fit(X, y, epochs=10, batch_size=16, callbacks=[Boom()])
    ref = gn.Network([4, 8, 3], seed=0)
    ref.fit(X, y, epochs=10, batch_size=16, callbacks=[stop])
    assert h.interrupted and h.stopped_at == (2, 3) and len(h) == 2
    np.testing.assert_array_equal(net.params, ref.params)   # trained through batch (2, 3)


def test_ctrl_c_signal_stops_after_the_current_batch(iris, capsys, ctrl_c):
    X, y = iris
    batches = []

    class PressCtrlC(Callback):
        def on_batch_begin(self, ctx, logs):
            if (ctx.epoch, ctx.batch) == (1, 4):
                os.kill(os.getpid(), signal.SIGINT)   # arrives while this batch trains

        def on_batch_end(self, ctx, logs):
            batches.append((ctx.epoch, ctx.batch))

    net = gn.Network([4, 8, 3], seed=0)
    h = net.fit(X, y, epochs=10, batch_size=16, callbacks=[PressCtrlC()])
    assert h.interrupted and batches[-1] == (1, 4) and h.stopped_at == (1, 4)
    assert len(h) == 1 and np.isfinite(net.params).all()
    assert "Interrupted: stopped after batch 5 of epoch 2" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler   # handler put back


def test_second_ctrl_c_aborts_at_once(iris, ctrl_c):
    X, y = iris

    class PressTwice(Callback):
        def on_batch_end(self, ctx, logs):
            if (ctx.epoch, ctx.batch) == (0, 2):
                os.kill(os.getpid(), signal.SIGINT)
                os.kill(os.getpid(), signal.SIGINT)   # the default handler: raises here
                raise AssertionError("the second Ctrl-C did not interrupt")

    h = gn.Network([4, 8, 3], seed=0).fit(X, y, epochs=3, batch_size=16,
                                          callbacks=[PressTwice()])
    assert h.interrupted and h.stopped_at == (0, 2)


# --- divergence -----------------------------------------------------------------------------------

def test_divergence_restores_finite_weights_and_explains(monkeypatch):
    # the NaN/inf rule alone: the finite limits (LOSS_GROWTH_LIMIT, WEIGHT_GROWTH_LIMIT)
    # would stop this run earlier, as the test below shows
    monkeypatch.setattr(gn.history, "LOSS_GROWTH_LIMIT", math.inf)
    monkeypatch.setattr(gn.history, "WEIGHT_GROWTH_LIMIT", math.inf)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 3))
    y = X @ np.array([1.0, 2.0, 3.0])
    starts = {}
    keep = LambdaCallback(on_epoch_begin=lambda ctx, logs: starts.__setitem__(
        ctx.epoch, ctx.net.params.copy()))
    net = gn.Network([3, 8, 1], activation="tanh", loss="squared_error", seed=0)
    with pytest.raises(gn.DivergenceError) as info:
        net.fit(X, y, epochs=50, learning_rate=5.0, batch_size=10, callbacks=[keep])
    err = info.value
    assert isinstance(err, gn.GlassnetError) and isinstance(err, ValueError)
    assert np.isfinite(net.params).all()
    np.testing.assert_array_equal(net.params, starts[err.epoch])
    assert len(err.history) == err.epoch and np.isfinite(err.history.loss).all()
    message = str(err)
    # the exact batch whose loss became inf (the 4th of epoch 13), found independently
    assert (err.epoch, err.batch) == (12, 3)
    assert "epoch 13/50, batch 4/10: the loss became inf" in message
    assert "learning rate was 5" in message and "try 0.5 (divided by 10)" in message
    assert err.learning_rate == 5.0 and net._training is None


def test_a_finite_explosion_stops_the_same_run_earlier():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 3))
    y = X @ np.array([1.0, 2.0, 3.0])
    net = gn.Network([3, 8, 1], activation="tanh", loss="squared_error", seed=0)
    start = net.params.copy()
    with pytest.raises(gn.DivergenceError, match="blowing up, though still finite") as info:
        net.fit(X, y, epochs=50, learning_rate=5.0, batch_size=10)
    err = info.value
    assert err.epoch < 12 and math.isfinite(err.value) and err.value > 1e6
    if err.epoch == 0:
        np.testing.assert_array_equal(net.params, start)


def test_an_infinite_first_loss_is_divergence():
    X = np.ones((4, 2)) * 1e200
    net = gn.Network([2, 3, 1], output="identity", loss="squared_error", seed=0)
    with pytest.raises(gn.DivergenceError, match="batch 1/1: the loss became inf"), \
            warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", gn.UnscaledInputWarning)
        net.fit(X, np.ones(4) * 1e300, epochs=1, batch_size=4)
    assert np.isfinite(net.params).all()


def test_divergence_of_a_weight_is_caught_at_the_end_of_the_epoch(iris):
    X, y = iris

    def poison(ctx, logs):
        if (ctx.epoch, ctx.batch) == (1, ctx.n_batches - 1):
            ctx.net.params[0] = np.inf            # the last batch of epoch 2

    net = gn.Network([4, 5, 3], seed=0)
    with pytest.raises(gn.DivergenceError, match="a weight became non-finite") as info:
        net.fit(X, y, epochs=5, callbacks=[LambdaCallback(on_batch_end=poison)])
    assert info.value.epoch == 1 and np.isfinite(net.params).all()
    assert info.value.batch == 4 and "epoch 2/5, batch 5/5" in str(info.value)   # 150 rows / 32


def test_unscaled_inputs_are_named_when_training_diverges():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(60, 3)) * 1e4
    y = X[:, 0] * 1e-4
    with pytest.raises(gn.DivergenceError, match=r"inputs X reach \|x\|"), \
            pytest.warns(gn.UnscaledInputWarning, match="3 of 3 input columns"):
        gn.Network([3, 8, 1], loss="squared_error", seed=0).fit(X, y, epochs=20,
                                                                learning_rate=0.1)


# --- progress output ---------------------------------------------------------------------------

def test_verbose_1_is_quiet_off_a_terminal_and_2_prints_plain_epoch_lines(iris, capsys):
    X, y = iris
    gn.Network([4, 5, 3], seed=0).fit(X, y, epochs=3, verbose=1, validation_split=0.2,
                                      metrics=["accuracy"])
    assert capsys.readouterr().out == ""
    gn.Network([4, 5, 3], seed=0).fit(X, y, epochs=3, verbose=2, validation_split=0.2,
                                      metrics=["accuracy"])
    out = capsys.readouterr().out
    lines = out.strip().splitlines()
    assert len(lines) == 3 and "\r" not in out and "\x1b" not in out
    assert lines[0].startswith("epoch 1/3 - ") and "loss: " in lines[0]
    assert "val_accuracy: " in lines[2] and "lr: 0.01" in lines[2]
    gn.Network([4, 5, 3], seed=0).fit(X, y, epochs=3, verbose=0)
    assert capsys.readouterr().out == ""


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_verbose_on_a_terminal_draws_a_rich_bar(iris, monkeypatch):
    X, y = iris
    screen = FakeTerminal()
    monkeypatch.setattr(sys, "stdout", screen)
    gn.Network([4, 5, 3], seed=0).fit(X, y, epochs=3, verbose=1, batch_size=16)
    out = screen.getvalue()
    assert "epoch 3/3" in out and "30/30" in out and "loss: " in out
    from glassnet.progress import make, RichBar, EpochLines
    assert isinstance(make(1, 3, 10, screen), RichBar)
    assert isinstance(make(2, 3, 10, screen), EpochLines)
    assert make(0, 3, 10, screen) is None


# --- dtypes, sample weights, errors ------------------------------------------------------------

@pytest.mark.parametrize("optimizer", ["sgd", "adam", "rmsprop"])
def test_float32_stays_float32_end_to_end(optimizer, iris):
    X, y = iris
    net = gn.Network([4, 8, 3], seed=0, dtype="float32")
    h = net.fit(X.astype(np.float32), y, epochs=3, optimizer=optimizer, alpha=1e-3,
                validation_split=0.2, metrics=["accuracy"])
    assert net.params.dtype == np.float32 and net.grads.dtype == np.float32
    for leaf in gn.optimizers.state_leaves(net._training.state):
        if isinstance(leaf, np.ndarray) and leaf.ndim:
            assert leaf.dtype == np.float32
    assert net.predict_proba(X).dtype == np.float32
    assert all(isinstance(v, float) for v in h.loss) and np.isfinite(h.loss).all()


def test_integer_sample_weights_equal_repeated_rows(iris):
    X, y = iris
    w = np.random.default_rng(0).integers(1, 4, size=len(y))
    a = gn.Network([4, 6, 3], seed=0)
    b = gn.Network([4, 6, 3], seed=0)
    ha = a.fit(X, y, epochs=5, batch_size=len(y), sample_weight=w, shuffle=False,
               learning_rate=0.1, alpha=1e-2)
    hb = b.fit(np.repeat(X, w, axis=0), np.repeat(y, w), epochs=5, batch_size=int(w.sum()),
               shuffle=False, learning_rate=0.1, alpha=1e-2)
    np.testing.assert_allclose(a.params, b.params, rtol=0, atol=1e-12)
    assert np.abs(a.params - gn.Network([4, 6, 3], seed=0).params).max() > 1e-3


@pytest.mark.parametrize("kwargs, match", [
    (dict(epochs="2"), "epochs must be an integer"),
    (dict(epochs=-1), "epochs must be >= 0"),
    (dict(batch_size=0), "batch_size must be >= 1"),
    (dict(optimizer="adamm"), "'optimizer' parameter must be one of"),
    (dict(learning_rate=-0.1), "learning_rate must be > 0"),
    (dict(learning_rate=[0.1]), "learning_rate must be a positive number"),
    (dict(alpha=-1.0), "alpha must be >= 0"),
    (dict(validation_split=1.0), r"validation_split must be in \[0, 1\)"),
    (dict(shuffle="yes"), "shuffle must be True or False"),
    (dict(metrics=["r2", "precision"]), "Unknown metric 'precision' in metrics"),
    (dict(callbacks=[object()]), r"callbacks\[0\] must be a glassnet.callbacks.Callback"),
    (dict(resume=True), "resume=True needs checkpoint"),
    (dict(resume="yes", checkpoint="x.ckpt"), "resume must be True, False or 'auto'"),
    (dict(sample_weight=[1.0, 2.0]), "sample_weight has 2 entries"),
    (dict(patience=0, early_stopping=True), "patience must be >= 1"),
])
def test_errors_name_the_argument(kwargs, match, iris):
    X, y = iris
    net = gn.Network([4, 5, 3], seed=0)
    before = net.params.copy()
    with pytest.raises(gn.GlassnetError, match=match):
        net.fit(X, y, epochs=kwargs.pop("epochs", 2), **kwargs)
    np.testing.assert_array_equal(net.params, before)   # refused before any step


def test_classifier_metric_on_a_regressor_is_refused(iris):
    X, y = iris
    with pytest.raises(gn.GlassnetError, match="metric 'accuracy' needs a classifier"):
        gn.Network([4, 3, 1], loss="squared_error").fit(X, X[:, 0], metrics=["accuracy"])


@pytest.mark.parametrize("module", ["_registry", "activations", "losses", "initializers",
                                    "network", "neuro", "training", "optimizers", "schedules",
                                    "metrics", "callbacks", "sklearn"])
def test_docstring_examples(module):
    """Every example in the docstrings runs as written, without a warning."""
    import importlib
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = doctest.testmod(importlib.import_module(f"glassnet.{module}"))
    assert result.failed == 0 and result.attempted > 0


# --- the input-scale check when fit starts ---------------------------------------------------

def _fit_warnings(X, y, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        net = gn.Network([X.shape[1], 16, len(set(y))], seed=0)
        net.fit(X, y, epochs=1, **kwargs)
    return [w for w in caught if issubclass(w.category, gn.UnscaledInputWarning)], net


def test_raw_wine_warns_once_naming_the_worst_columns_and_the_fix():
    from sklearn.datasets import load_wine
    wine = load_wine(as_frame=True)
    found, _ = _fit_warnings(wine.data, wine.target.to_numpy())
    assert len(found) == 1
    w = found[0]
    assert issubclass(gn.UnscaledInputWarning, UserWarning)
    assert w.filename == __file__                      # the user's line, not glassnet's
    text = str(w.message)
    assert text.index("'proline' (mean 746.9") < text.index("'magnesium' (mean 99.74")
    assert "2 of 13 input columns" in text and "Standardize" in text
    assert "GlassClassifier" in text and "UnscaledInputWarning" in text
    # without column names, the columns are numbered
    found, _ = _fit_warnings(wine.data.to_numpy(), wine.target.to_numpy())
    assert "column 12 (mean 746.9" in str(found[0].message)


def test_no_scale_warning_on_data_that_trains(digits):
    from sklearn.datasets import load_digits, load_iris, load_wine
    X, y = load_digits(return_X_y=True)
    Xi, yi = load_iris(return_X_y=True)
    Xw, yw = load_wine(return_X_y=True)
    for data in [(X / 16, y), (X, y), (Xi, yi), ((Xw - Xw.mean(0)) / Xw.std(0), yw)]:
        assert _fit_warnings(*data)[0] == []          # pixels 0..16 reach size 12.9 < 20
    from glassnet.sklearn import GlassClassifier       # standardizes the inputs itself
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")                # ConvergenceWarning after 2 epochs
        warnings.simplefilter("error", gn.UnscaledInputWarning)
        GlassClassifier(hidden_layer_sizes=(8,), max_iter=2).fit(Xw, yw)


def test_partial_fit_stream_is_checked_on_its_first_call_only():
    from sklearn.datasets import load_wine
    X, y = load_wine(return_X_y=True)
    net = gn.Network([13, 8, 3], seed=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for start in range(0, 178, 60):
            net.partial_fit(X[start:start + 60], y[start:start + 60])
    assert sum(issubclass(w.category, gn.UnscaledInputWarning) for w in caught) == 1


def test_the_scale_check_reads_a_bounded_sample_without_copying_x():
    import tracemalloc

    from glassnet._validation import SCALE_ROWS, input_scale_message
    X = np.ones((200_000, 50), np.float32)              # 40 MB
    X[:, 7] = 1000.0
    tracemalloc.start()
    message = input_scale_message(X)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert "column 7 (mean 1000" in message
    assert peak < SCALE_ROWS * 50 * 8        # at most the sample's size in float64: 1.6 MB


# --- the settings and the divergence hook -------------------------------------------------------

def test_fit_settings_are_shared_and_frozen():
    import dataclasses
    from glassnet import training
    defaults = training.DEFAULTS
    fit_params = inspect.signature(training.fit).parameters
    assert [p for p in fit_params if p not in ("net", "X", "y")] == list(training.FIT_ARGUMENTS)
    for name in training.FIT_ARGUMENTS:           # fit's defaults are the dataclass's
        assert fit_params[name].default is getattr(defaults, name), name
    for name, p in inspect.signature(training.partial_fit).parameters.items():
        if name not in ("net", "X", "y", "optimizer"):
            assert p.default is getattr(defaults, name), name
    with pytest.raises(dataclasses.FrozenInstanceError):
        defaults.epochs = 3
    with pytest.raises(TypeError, match=r"fit\(\) got an unexpected keyword argument 'epoch'"):
        gn.Network([4, 3], seed=0).fit(np.zeros((4, 4)), [0, 1, 2, 0], epoch=3)


def test_the_divergence_explainer_is_a_hook_the_caller_gives():
    from dataclasses import replace
    from glassnet import training
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 3))
    y = X @ np.array([1.0, 2.0, 3.0])
    seen = []

    def explain(net, Xs, Ys, optimizer, batch_size):
        seen.append((Xs.shape, Ys.shape, optimizer.name, batch_size))
        return "my diagnosis", "my explanation"

    settings = replace(training.DEFAULTS, epochs=50, learning_rate=5.0, batch_size=10)
    net = gn.Network([3, 8, 1], activation="tanh", loss="squared_error", seed=0)
    with pytest.raises(gn.DivergenceError) as info:
        training.train(net, X, y, replace(settings, explain_divergence=explain))
    assert seen == [((100, 3), (100, 1), "sgd", 10)]
    assert info.value.diagnosis == "my diagnosis" and str(info.value).endswith("my explanation")
    # without a hook the loop explains alone; Network.fit gives it the doctor's
    net = gn.Network([3, 8, 1], activation="tanh", loss="squared_error", seed=0)
    with pytest.raises(gn.DivergenceError) as bare:
        training.train(net, X, y, settings)
    assert bare.value.diagnosis is None and "glassnet.doctor" not in str(bare.value)
    net = gn.Network([3, 8, 1], activation="tanh", loss="squared_error", seed=0)
    with pytest.raises(gn.DivergenceError) as full:
        net.fit(X, y, epochs=50, learning_rate=5.0, batch_size=10)
    assert isinstance(full.value.diagnosis, gn.doctor.Report)
    assert str(full.value).startswith(str(bare.value))
    # the run now stops at a finite explosion, before NaN: the doctor names the cause
    assert "glassnet.doctor: learning_rate_too_high" in str(full.value)
    net = gn.Network([3, 8, 1], activation="tanh", loss="squared_error", seed=0)
    with pytest.raises(gn.DivergenceError) as function:      # glassnet.fit is net.fit
        gn.fit(net, X, y, epochs=50, learning_rate=5.0, batch_size=10)
    assert str(function.value) == str(full.value)
