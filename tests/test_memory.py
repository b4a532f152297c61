"""Memory: a training step allocates nothing parameter-sized, and fit does not copy the data.

Both are measured with tracemalloc, which sees NumPy's array buffers (NumPy reports every
data allocation to it).  Speed itself is measured in benchmarks/bench_speed.py, never here.
"""
from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

import glassnet
from glassnet import activations, optimizers
from glassnet.callbacks import Callback

# [64, 512, 256, 10]: 167,178 parameters, a batch of 8 keeps activations ~50x smaller
SIZES = [64, 512, 256, 10]
BATCH = 8


@pytest.fixture
def traced():
    """tracemalloc running for the test only (it may already be on under some runners)."""
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    yield
    if not was_tracing:
        tracemalloc.stop()


class StepWindow(Callback):
    """The peak memory allocated during the steps of one epoch, beyond what was live before.

    The window opens before batch ``first`` of epoch ``epoch`` (the workspaces and the
    optimizer's state exist by then) and closes after the epoch's last batch, before the
    epoch's bookkeeping, so it holds forward, backward, the optimizer update and
    ``params += grads`` of every step in between, and nothing else.
    """

    def __init__(self, epoch: int = 1, first: int = 2):
        self.epoch, self.first = epoch, first
        self.start = None
        self.peak = 0
        self.steps = 0

    def on_batch_begin(self, ctx, logs):
        if ctx.epoch == self.epoch and ctx.batch == self.first:
            tracemalloc.reset_peak()
            self.start = tracemalloc.get_traced_memory()[0]

    def on_batch_end(self, ctx, logs):
        if self.start is not None and ctx.epoch == self.epoch:
            self.peak = max(self.peak, tracemalloc.get_traced_memory()[1] - self.start)
            self.steps += 1


def _data(n, d, k, dtype="float64", seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)).astype(dtype)
    y = rng.integers(0, k, n)
    return X, y


def _step_peak(net, X, y, **fit_kwargs) -> StepWindow:
    window = StepWindow()
    net.fit(X, y, epochs=2, batch_size=BATCH, callbacks=[window], **fit_kwargs)
    assert window.steps >= 8, "the window must cover several steps"
    return window


def _assert_no_parameter_sized_allocation(net, window):
    # any temporary the size of the parameters, or of the largest weight matrix (78% of
    # them), would lift the peak above this
    limit = net.params.nbytes // 4
    assert window.peak < limit, (
        f"a training step allocated {window.peak:,} bytes at its peak; the parameters take "
        f"{net.params.nbytes:,} bytes, so something parameter-sized is allocated per step")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("optimizer", optimizers.NAMES)
def test_a_training_step_allocates_nothing_parameter_sized(traced, optimizer, dtype):
    X, y = _data(BATCH * 12 + 3, SIZES[0], SIZES[-1], dtype)      # a smaller last batch too
    net = glassnet.Network(SIZES, activation="relu", dtype=dtype, seed=0)
    window = _step_peak(net, X, y, optimizer=optimizer, learning_rate=1e-3)
    _assert_no_parameter_sized_allocation(net, window)


HIDDEN = [name for name in activations.NAMES if name not in activations.OUTPUT_ONLY]


@pytest.mark.parametrize("hidden", HIDDEN)
def test_no_parameter_sized_allocation_for_any_hidden_activation(traced, hidden):
    X, y = _data(BATCH * 12, SIZES[0], SIZES[-1])
    net = glassnet.Network(SIZES, activation=hidden, seed=0)
    window = _step_peak(net, X, y, optimizer="sgd", learning_rate=1e-3)
    _assert_no_parameter_sized_allocation(net, window)


@pytest.mark.parametrize("output, loss, k", [
    ("softmax", "cross_entropy", 10),
    ("sigmoid", "binary_cross_entropy", 1),
    ("identity", "squared_error", 3),
    ("sigmoid", "squared_error", 3),
])
def test_no_parameter_sized_allocation_for_each_output_and_loss(traced, output, loss, k):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((BATCH * 12, SIZES[0]))
    if loss == "cross_entropy":
        y = rng.integers(0, k, X.shape[0])
    elif loss == "binary_cross_entropy":
        y = rng.integers(0, 2, X.shape[0])
    else:
        y = rng.standard_normal((X.shape[0], k))
    net = glassnet.Network(SIZES[:-1] + [k], output=output, loss=loss, seed=0)
    window = _step_peak(net, X, y, optimizer="sgd", learning_rate=1e-3)
    _assert_no_parameter_sized_allocation(net, window)


def test_no_parameter_sized_allocation_with_sample_weight_and_l2(traced):
    X, y = _data(BATCH * 12, SIZES[0], SIZES[-1])
    sw = np.random.default_rng(2).uniform(0.5, 2.0, X.shape[0])
    net = glassnet.Network(SIZES, seed=0)
    window = _step_peak(net, X, y, optimizer="momentum", learning_rate=1e-3, sample_weight=sw,
                        alpha=1e-3)
    _assert_no_parameter_sized_allocation(net, window)


def test_the_step_window_catches_a_parameter_sized_temporary(traced):
    """The measurement can fail: an optimizer written the naive way is caught."""
    def init(params):
        return None

    def update(grads, state, params):
        grads[...] = -1e-3 * grads              # allocates a parameter-sized temporary
        return state

    wasteful = optimizers.Optimizer("wasteful", init, update, {})
    X, y = _data(BATCH * 12, SIZES[0], SIZES[-1])
    net = glassnet.Network(SIZES, seed=0)
    window = _step_peak(net, X, y, optimizer=wasteful)
    assert window.peak >= net.params.nbytes


def test_training_keeps_weights_and_biases_views_of_the_flat_buffers():
    X, y = _data(BATCH * 6, SIZES[0], SIZES[-1])
    net = glassnet.Network(SIZES, seed=0)
    before = [w.copy() for w in net.weights]
    net.fit(X, y, epochs=2, batch_size=BATCH, optimizer="adam", learning_rate=1e-2)
    for l in range(net.n_layers):
        assert np.shares_memory(net.weights[l], net.params)
        assert np.shares_memory(net.biases[l], net.params)
        assert np.shares_memory(net._grad_w[l], net.grads)
        assert not np.array_equal(net.weights[l], before[l])      # they were trained
    net.weights[0] = np.zeros_like(before[0])                     # assignment copies in
    assert not net.params[:before[0].size].any()


# --- fit does not copy the training data ---------------------------------------------------------

def _fit_extra_bytes(X, y, net, **fit_kwargs) -> int:
    """The peak memory fit allocates beyond what was live before it, in bytes."""
    tracemalloc.reset_peak()
    start = tracemalloc.get_traced_memory()[0]
    net.fit(X, y, epochs=2, batch_size=256, learning_rate=1e-2, **fit_kwargs)
    return tracemalloc.get_traced_memory()[1] - start


N, D, K = 20_000, 64, 4

# What fit may hold besides the data: the one-hot targets, the sample order, a boolean mask
# of X while checking it for NaN (1/8 or 1/4 of X), one batch, the parameters' snapshot and
# bookkeeping.  Any copy of X (shuffled, gathered, converted) is a whole X more.
NO_COPY = 0.5


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shuffle", [True, False], ids=["shuffled", "in_order"])
def test_fit_does_not_copy_the_training_data(traced, dtype, shuffle):
    X, y = _data(N, D, K, dtype)
    net = glassnet.Network([D, 16, K], dtype=dtype, seed=0)
    extra = _fit_extra_bytes(X, y, net, shuffle=shuffle)
    assert extra < NO_COPY * X.nbytes, (
        f"fit allocated {extra / X.nbytes:.2f}x the size of X at its peak: a copy of X")


def test_fit_with_a_validation_split_copies_only_the_held_out_rows(traced):
    X, y = _data(N, D, K)
    net = glassnet.Network([D, 16, K], seed=0)
    extra = _fit_extra_bytes(X, y, net, validation_split=0.2)
    assert extra < (NO_COPY + 0.2) * X.nbytes, (
        f"fit(validation_split=0.2) allocated {extra / X.nbytes:.2f}x the size of X")


def test_fit_converting_float64_data_for_a_float32_network_copies_once(traced):
    """The float32 conversion (half of X's bytes) is the only copy."""
    X, y = _data(N, D, K, "float64")
    net = glassnet.Network([D, 16, K], dtype="float32", seed=0)
    extra = _fit_extra_bytes(X, y, net)
    assert extra < 0.5 * X.nbytes + NO_COPY * (0.5 * X.nbytes)


def test_the_fit_measurement_sees_a_copy_of_the_data(traced):
    """The measurement can fail: a fit that holds one copy of X is caught."""
    X, y = _data(N, D, K)
    net = glassnet.Network([D, 16, K], seed=0)

    class HoldsACopy(Callback):
        def on_train_begin(self, ctx, logs):
            self.copy = ctx.X.copy()

    extra = _fit_extra_bytes(X, y, net, callbacks=[HoldsACopy()])
    assert extra >= X.nbytes > NO_COPY * X.nbytes
