"""The Numba backend against the NumPy reference, side by side, and choosing a backend.

Every activation, output/loss pair and optimizer with a kernel is trained for about 100
steps on each backend from the same seed: in float64 the weights and losses agree to
1e-12 relative, in float32 to float32 rounding.  Parts without a kernel fall back to the
NumPy code and still agree.  The kernels are compiled once per dtype for all of these
(the activation, output and optimizer are runtime arguments, not specializations) and
cached on disk, so the first run of this file compiles for about half a minute and later
runs load in about a second.
"""
from __future__ import annotations

import pickle
import subprocess
import sys

import numpy as np
import pytest

import glassnet
from glassnet import backend as _backend
from glassnet import optimizers as _opt
from glassnet._validation import GlassnetError

needs_numba = pytest.mark.skipif(not _backend.numba_available(),
                                 reason="Numba is not installed (pip install glassnet[fast])")

#: hidden activations with a kernel, and some without (they fall back to NumPy's code)
KERNEL_ACTIVATIONS = ["identity", "sigmoid", "tanh", "relu", "leaky_relu", "elu"]
FALLBACK_ACTIVATIONS = ["selu", "softplus", "gelu", "silu"]
#: (output, loss, targets) pairs with a kernel
OUTPUTS = [("softmax", "cross_entropy", "labels"), ("identity", "squared_error", "values"),
           ("sigmoid", "binary_cross_entropy", "binary")]
#: optimizers with a fused kernel (plain sgd folds into the backward pass)
KERNEL_OPTIMIZERS = {
    "sgd": lambda: _opt.sgd(0.05),
    "sgd_wd": lambda: _opt.sgd(0.05, weight_decay=1e-3),
    "momentum": lambda: _opt.momentum(0.01, 0.9),
    "nesterov_wd": lambda: _opt.nesterov(0.01, 0.9, weight_decay=1e-3),
    "adam": lambda: _opt.adam(0.005),
    "adam_sklearn_wd": lambda: _opt.adam(0.005, eps_mode="sklearn", weight_decay=1e-3),
    "adamw": lambda: _opt.adamw(0.005, n_weights=None),
}
STEPS_DATA = 330          # rows: 11 batches of 32 per epoch, the last one of 10
EPOCHS = 9                # 99 steps


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits
    X, y = load_digits(return_X_y=True)
    return X[:STEPS_DATA] / 16.0, y[:STEPS_DATA]


def _targets(kind: str, X, y):
    if kind == "labels":
        return y
    if kind == "binary":
        return (y[:, None] == np.array([[0, 1, 2]])).astype(float)   # 3 labels per row
    return np.stack([X[:, :3].sum(axis=1), y / 9.0, X[:, 10]], axis=1)  # 3 values


def _train(backend, X, Y, *, dtype="float64", activation="relu", output="softmax",
           loss="cross_entropy", optimizer=None, sizes=(64, 24, 16), **fit):
    n_out = 10 if loss == "cross_entropy" else 3
    net = glassnet.Network([*sizes, n_out], activation=activation, output=output, loss=loss,
                           dtype=dtype, seed=3, backend=backend)
    fit.setdefault("epochs", EPOCHS)
    history = net.fit(X, Y, batch_size=32, optimizer=optimizer or _opt.sgd(0.1), **fit)
    return net, np.array(history.loss)


def _assert_same(a, b, dtype):
    """Weights and losses of two runs: 1e-12 relative in float64, float32 rounding in float32."""
    (net_a, loss_a), (net_b, loss_b) = a, b
    tol = 1e-12 if dtype == "float64" else 2e-5
    scale = np.max(np.abs(net_b.params))
    np.testing.assert_allclose(net_a.params, net_b.params, rtol=tol, atol=tol * scale)
    np.testing.assert_allclose(loss_a, loss_b, rtol=tol)


def _force_layer_by_layer(monkeypatch):
    """As where the whole step does not apply (no NumPy BLAS to call from compiled code,
    and a network above WHOLE_STEP_MACS): products through NumPy, elementwise kernels."""
    from glassnet import _numba
    monkeypatch.setattr(_numba, "WHOLE_STEP_MACS", 0)
    monkeypatch.setattr(_numba, "numpy_gemm", lambda dtype: None)


@pytest.fixture
def layer_by_layer(monkeypatch):
    """The layer-by-layer path on small data."""
    _force_layer_by_layer(monkeypatch)


# --- the compiled path equals the NumPy path --------------------------------------------------

@needs_numba
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("activation", KERNEL_ACTIVATIONS)
def test_numba_equals_numpy_for_every_kernel(digits, dtype, activation, monkeypatch):
    X, y = digits
    for output, loss, kind in OUTPUTS:
        Y = _targets(kind, X, y)
        for name, make in KERNEL_OPTIMIZERS.items():
            common = dict(dtype=dtype, activation=activation, output=output, loss=loss)
            ref = _train("numpy", X, Y, optimizer=make(), **common)
            fast = _train("numba", X, Y, optimizer=make(), **common)
            assert fast[0].backend == "numba" and ref[0].backend == "numpy"
            _assert_same(fast, ref, dtype)
    # the layer-by-layer path, on a deeper network
    _force_layer_by_layer(monkeypatch)
    Y = _targets("labels", X, y)
    for name in ("sgd", "momentum", "adam"):
        common = dict(dtype=dtype, activation=activation, sizes=(64, 20, 12))
        _assert_same(_train("numba", X, Y, optimizer=KERNEL_OPTIMIZERS[name](), **common),
                     _train("numpy", X, Y, optimizer=KERNEL_OPTIMIZERS[name](), **common), dtype)


@needs_numba
def test_whole_step_is_used_for_a_small_network(digits):
    """The small network's step is one compiled call (what makes it fast): its parts report
    numba, and the per-layer path is never entered."""
    X, y = digits
    net = glassnet.Network([64, 24, 10], seed=0, backend="numba")
    net.fit(X, y, epochs=1)
    kernels = net._kernels
    assert kernels.whole and kernels.parts() == {"hidden": ["relu: numba"],
                                                 "output": "softmax + cross_entropy: numba"}

    layer_pass = net.layer_pass

    def refuse(x, y, *args, **kwargs):
        if y is not None:                          # forward-only passes may use it
            raise AssertionError("the layer-by-layer path ran")
        return layer_pass(x, y, *args, **kwargs)
    net.layer_pass = refuse
    net.fit(X, y, epochs=1)                                     # plain sgd: fit_step
    net.fit(X, y, epochs=1, optimizer="adam")                   # whole_step + fused update


@needs_numba
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_numpy_gemm_is_numpys_own_blas(dtype):
    """The products the compiled steps make go through the BLAS NumPy itself calls (found
    in the NumPy wheel this suite runs on), and give np.dot's results bit for bit, with
    either operand transposed and accumulating into the output."""
    from glassnet import _numba
    gemm = _numba.numpy_gemm(dtype)
    assert gemm is not None
    rng = np.random.default_rng(0)
    a = rng.normal(size=(130, 70)).astype(dtype)
    b = rng.normal(size=(70, 300)).astype(dtype)
    c = np.empty((130, 300), dtype)
    _numba.product(gemm, a, b, c, False, False, False)
    assert np.array_equal(c, a @ b)
    d = rng.normal(size=(130, 300)).astype(dtype)
    g = np.empty((70, 300), dtype)
    _numba.product(gemm, a, d, g, True, False, False)            # a.T @ d
    assert np.array_equal(g, a.T @ d)
    w = b.copy()
    _numba.product(gemm, a, d, w, True, False, True)             # w += a.T @ d
    assert np.array_equal(w, b + a.T @ d)
    p = np.empty((130, 70), dtype)
    _numba.product(gemm, d, b, p, False, True, False)            # d @ b.T
    assert np.array_equal(p, d @ b.T)
    # and without it, Numba's np.dot: the same products
    for ta, tb, out, want in ((False, False, c, a @ b), (True, False, g, a.T @ d),
                              (False, True, p, d @ b.T)):
        _numba.product(None, d if tb else a, d if ta else b, out, ta, tb, False)
        np.testing.assert_allclose(out, want, rtol=1e-5 if dtype == "float32" else 1e-12)


@needs_numba
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_large_network_takes_the_whole_step(digits, dtype):
    """Above WHOLE_STEP_MACS the step is still one compiled call (its products through
    NumPy's BLAS, plain SGD's step taken inside the weight products) and equals the
    NumPy path: plain SGD through fit's runs of steps, adam through train_step."""
    from glassnet import _numba
    X, y = digits
    sizes = (64, 640, 96)
    assert 32 * 64 * 640 > _numba.WHOLE_STEP_MACS
    for make in (KERNEL_OPTIMIZERS["sgd"], KERNEL_OPTIMIZERS["adam"]):
        ref = _train("numpy", X, y, dtype=dtype, sizes=sizes, optimizer=make(), epochs=3)
        net = glassnet.Network([*sizes, 10], dtype=dtype, seed=3, backend="numba")
        net.layer_pass = _refuse_training_passes(net.layer_pass)
        history = net.fit(X, y, batch_size=32, optimizer=make(), epochs=3)
        assert net._kernels.whole_fits(32)
        _assert_same((net, np.array(history.loss)), ref, dtype)


@needs_numba
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_whole_step_without_numpys_blas_uses_numbas_dot(digits, dtype, monkeypatch):
    """Where NumPy's BLAS cannot be called from compiled code, a small network's whole
    step makes its products with Numba's np.dot, and without the C library's memcpy the
    batch is gathered by a loop, with the same results."""
    from glassnet import _numba
    monkeypatch.setattr(_numba, "numpy_gemm", lambda dtype: None)
    monkeypatch.setattr(_numba, "c_memcpy", lambda: None)
    X, y = digits
    for name in ("sgd", "adam"):
        fast = _train("numba", X, y, dtype=dtype, optimizer=KERNEL_OPTIMIZERS[name]())
        assert fast[0]._kernels.gemm is None and fast[0]._kernels.whole_fits(32)
        _assert_same(fast, _train("numpy", X, y, dtype=dtype,
                                  optimizer=KERNEL_OPTIMIZERS[name]()), dtype)


class _EveryBatch(glassnet.callbacks.Callback):
    """Looks at every batch: fit then takes its steps one compiled call each."""

    def __init__(self):
        self.seen = 0

    def on_batch_end(self, ctx, logs):
        self.seen += 1


@needs_numba
@pytest.mark.parametrize("shuffle", [True, False])
def test_runs_of_steps_equal_single_steps(digits, shuffle, monkeypatch):
    """Without per-batch callbacks fit takes its SGD steps many per compiled call; the
    weights, losses and generator are those of one step per call, bit for bit, with a
    learning-rate schedule, a short last batch and runs cut at any length."""
    from glassnet import _numba
    X, y = digits
    lr = glassnet.schedules.cosine(0.2, total_steps=60, warmup_steps=5)
    calls = []
    real = _numba.fit_steps
    monkeypatch.setattr(_numba, "fit_steps", lambda *a: calls.append(1) or real(*a))
    nets = []
    for steps_per_call, callbacks in ((7, []), (256, []), (256, [_EveryBatch()])):
        monkeypatch.setattr(_numba, "RUN_STEPS", steps_per_call)
        net = glassnet.Network([64, 24, 10], seed=5, backend="numba")
        history = net.fit(X, y, epochs=5, batch_size=32, optimizer=_opt.sgd(lr),
                          shuffle=shuffle, callbacks=callbacks)
        nets.append((net, history.loss, net.rng.bit_generator.state))
    assert callbacks[0].seen == 5 * 11
    # 10 full batches a run: the first epoch's first is a single step; 7 a call: 2 calls
    assert len(calls) == (1 + 1 + 4 * 2) + (1 + 4 * 1)
    for net, loss, rng in nets[:2]:
        assert np.array_equal(net.params, nets[2][0].params)
        assert loss == nets[2][1] and rng == nets[2][2]


@needs_numba
def test_divergence_inside_a_run_of_steps(digits):
    """A loss past the limit in the middle of a run of steps stops the run there: the
    same epoch and batch are named, and the weights put back, as with one step per call."""
    X, y = digits
    caught = []
    for callbacks in ([], [_EveryBatch()]):
        net = glassnet.Network([64, 16, 1], activation="identity", loss="squared_error",
                               seed=0, backend="numba")
        start = net.params.copy()
        with pytest.raises(glassnet.DivergenceError) as info:
            net.fit(X, y * 1.0, epochs=3, optimizer=_opt.sgd(0.5), callbacks=callbacks)
        assert np.array_equal(net.params, start)
        caught.append((info.value.epoch, info.value.batch, info.value.value))
    assert caught[0] == caught[1] and caught[0][1] > 0


def _refuse_training_passes(layer_pass):
    def refuse(x, y, *args, **kwargs):
        if y is not None:                          # forward-only passes may use it
            raise AssertionError("the layer-by-layer path ran")
        return layer_pass(x, y, *args, **kwargs)
    return refuse


@needs_numba
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_same_seed_same_result_on_the_numba_backend(digits, dtype):
    X, y = digits
    for opt in ("sgd", "adam"):
        a = _train("numba", X, y, dtype=dtype, optimizer=_opt.get(opt))
        b = _train("numba", X, y, dtype=dtype, optimizer=_opt.get(opt))
        assert np.array_equal(a[0].params, b[0].params) and np.array_equal(a[1], b[1])
        assert a[0].params.dtype == np.dtype(dtype)


@needs_numba
def test_unshuffled_data_and_a_short_last_batch(digits):
    X, y = digits
    _assert_same(_train("numba", X, y, shuffle=False), _train("numpy", X, y, shuffle=False),
                 "float64")
    # validation rows held out: the batches are gathered through a row index
    _assert_same(_train("numba", X, y, validation_split=0.2),
                 _train("numpy", X, y, validation_split=0.2), "float64")


# --- parts without a kernel fall back to NumPy's code -------------------------------------------

@needs_numba
@pytest.mark.parametrize("activation", FALLBACK_ACTIVATIONS)
def test_activation_without_a_kernel_falls_back(digits, activation):
    X, y = digits
    fast = _train("numba", X, y, activation=[activation, "relu"], optimizer=_opt.adam(0.01))
    assert fast[0]._kernels.parts()["hidden"] == [f"{activation}: numpy", "relu: numba"]
    _assert_same(fast, _train("numpy", X, y, activation=[activation, "relu"],
                              optimizer=_opt.adam(0.01)), "float64")


@needs_numba
def test_output_and_loss_without_a_kernel_fall_back(digits):
    X, y = digits
    Y = _targets("binary", X, y)
    common = dict(output="sigmoid", loss="squared_error")        # not a fused pair
    fast = _train("numba", X, Y, **common)
    assert fast[0]._kernels.parts()["output"] == "sigmoid + squared_error: numpy"
    _assert_same(fast, _train("numpy", X, Y, **common), "float64")


@needs_numba
@pytest.mark.parametrize("option", ["sample_weight", "alpha", "schedule", "rmsprop", "adagrad",
                                    "chain", "plateau"])
def test_options_without_a_kernel_fall_back(digits, option):
    X, y = digits
    fit, opt = {}, None
    if option == "sample_weight":
        fit["sample_weight"] = np.linspace(0.5, 2.0, X.shape[0])
    elif option == "alpha":
        fit["alpha"] = 1e-2
    elif option == "schedule":
        opt = lambda: _opt.momentum(glassnet.schedules.cosine(0.1, 99), 0.9)  # noqa: E731
    elif option in ("rmsprop", "adagrad"):
        opt = lambda: _opt.get(option, 0.01)  # noqa: E731
    elif option == "chain":
        opt = lambda: _opt.chain(_opt.clip_by_global_norm(0.5),  # noqa: E731
                                 _opt.scale_by_learning_rate(0.1))
    elif option == "plateau":
        fit["callbacks"] = [glassnet.callbacks.ReduceLROnPlateau(monitor="loss", patience=1,
                                                                  factor=0.5)]
    fast = _train("numba", X, y, optimizer=opt() if opt else None, **fit)
    if option == "plateau":
        fit["callbacks"] = [glassnet.callbacks.ReduceLROnPlateau(monitor="loss", patience=1,
                                                                  factor=0.5)]
    _assert_same(fast, _train("numpy", X, y, optimizer=opt() if opt else None, **fit),
                 "float64")


@needs_numba
def test_partial_fit_and_resume_keep_the_fused_optimizer_state(digits, tmp_path):
    X, y = digits
    nets = {}
    for backend in ("numba", "numpy"):
        net = glassnet.Network([64, 16, 10], seed=1, backend=backend)
        for _ in range(3):
            net.partial_fit(X, y, optimizer=_opt.adam(0.01) if _ == 0 else None)
        nets[backend] = net
    _assert_same((nets["numba"], np.zeros(1)), (nets["numpy"], np.zeros(1)), "float64")
    # a checkpointed numba run equals an uninterrupted one
    ckpt = tmp_path / "run.ckpt"

    class Crash(glassnet.callbacks.Callback):
        def on_batch_end(self, ctx, logs):
            if (ctx.epoch, ctx.batch) == (2, 3):
                raise SystemExit("killed")
    with pytest.raises(SystemExit):
        glassnet.Network([64, 16, 10], seed=1, backend="numba").fit(
            X, y, epochs=4, optimizer="adam", checkpoint=ckpt, callbacks=[Crash()])
    a = glassnet.Network([64, 16, 10], seed=1, backend="numba")
    a.fit(X, y, epochs=4, optimizer="adam", checkpoint=ckpt)
    b = glassnet.Network([64, 16, 10], seed=1, backend="numba")
    b.fit(X, y, epochs=4, optimizer="adam")
    assert np.array_equal(a.params, b.params)


@needs_numba
def test_divergence_is_caught_on_the_numba_backend(digits):
    X, y = digits
    caught = {}
    for backend in ("numba", "numpy"):
        net = glassnet.Network([64, 16, 1], activation="identity", loss="squared_error",
                               seed=0, backend=backend)
        start = net.params.copy()
        with pytest.raises(glassnet.DivergenceError) as info:
            net.fit(X, y * 1.0, epochs=3, optimizer=_opt.sgd(0.5))
        assert np.all(np.isfinite(net.params)) and np.array_equal(net.params, start)
        caught[backend] = (info.value.epoch, info.value.batch)
    assert caught["numba"] == caught["numpy"]


# --- choosing the backend ---------------------------------------------------------------------

def _without_numba(monkeypatch):
    """As if Numba were not installed: find_spec finds nothing and importing it fails."""
    real = _backend._find
    monkeypatch.setattr(_backend, "_find", lambda name: False if name == "numba" else real(name))
    monkeypatch.setitem(sys.modules, "numba", None)


def test_numba_requested_without_numba_is_a_clear_error(monkeypatch):
    _without_numba(monkeypatch)
    with pytest.raises(GlassnetError, match=r"backend='numba' needs the numba package.*"
                                            r"pip install 'glassnet\[fast\]'"):
        glassnet.Network([4, 3, 2], backend="numba")
    monkeypatch.setenv(_backend.ENV_VAR, "numba")
    with pytest.raises(GlassnetError, match="needs the numba package"):
        glassnet.Network([4, 3, 2])


def test_auto_without_numba_trains_with_numpy(monkeypatch, iris_scaled):
    _without_numba(monkeypatch)
    monkeypatch.delenv(_backend.ENV_VAR, raising=False)
    net = glassnet.Network([4, 8, 3], seed=0)
    assert net.backend == "numpy" and net._kernels is None
    history = net.fit(*iris_scaled, epochs=30, optimizer="adam", learning_rate=0.02)
    assert history.loss[-1] < 0.2
    assert "not installed" in _backend.describe()


def test_backend_argument_and_environment_variable(monkeypatch):
    monkeypatch.setenv(_backend.ENV_VAR, "numpy")
    assert glassnet.Network([4, 3, 2]).backend == "numpy"
    monkeypatch.setenv(_backend.ENV_VAR, "NumPy ")
    assert glassnet.Network([4, 3, 2]).backend == "numpy"
    monkeypatch.setenv(_backend.ENV_VAR, "fortran")
    with pytest.raises(GlassnetError, match=r"environment variable GLASSNET_BACKEND must be one "
                                            r"of \['auto', 'numpy', 'numba'\]. Got 'fortran'"):
        glassnet.Network([4, 3, 2])
    assert glassnet.Network([4, 3, 2], backend="numpy").backend == "numpy"   # argument wins
    monkeypatch.delenv(_backend.ENV_VAR)
    with pytest.raises(GlassnetError, match=r"The backend must be one of .* Got 'gpu'"):
        glassnet.Network([4, 3, 2], backend="gpu")
    with pytest.raises(GlassnetError, match="backend must be one of"):
        glassnet.Network([4, 3, 2], backend=1)
    expected = "numba" if _backend.numba_available() else "numpy"
    assert glassnet.Network([4, 3, 2], backend="auto").backend == expected


def test_a_numba_network_loads_without_numba(monkeypatch, tmp_path, iris_scaled):
    """The backend is a runtime choice: pickles and model files load where Numba is missing."""
    X, y = iris_scaled
    net = glassnet.Network([4, 8, 3], seed=0, backend="numpy")
    net.backend = "numba"                         # as pickled on a machine with Numba
    blob = pickle.dumps(net)
    net.backend = "numpy"
    net.save(tmp_path / "model.gnet")
    _without_numba(monkeypatch)
    monkeypatch.delenv(_backend.ENV_VAR, raising=False)
    back = pickle.loads(blob)
    assert back.backend == "numpy" and back._kernels is None
    np.testing.assert_array_equal(back.params, net.params)
    loaded = glassnet.io.load(tmp_path / "model.gnet")
    assert loaded.backend == "numpy"
    loaded.fit(X, y, epochs=2)


@needs_numba
def test_copies_and_pickles_keep_their_own_kernels(digits):
    X, y = digits
    net = glassnet.Network([64, 16, 10], seed=0, backend="numba")
    net.fit(X, y, epochs=1)
    for other in (net.copy(), pickle.loads(pickle.dumps(net))):
        assert other.backend == "numba" and other._kernels is not net._kernels
        other.fit(X, y, epochs=1)
        assert not np.array_equal(other.params, net.params)   # trained its own parameters


def test_importing_glassnet_imports_no_numba():
    code = ("import sys, glassnet; net = glassnet.Network([4, 3, 2], backend='auto'); "
            "print(sys.modules.get('numba') is not None, net.backend)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out[0] == "False"


@needs_numba
def test_verbose_fit_reports_the_compile_time_once(digits, capsys, monkeypatch):
    from glassnet import _numba
    monkeypatch.setattr(_numba, "_PREPARED", {})
    X, y = digits
    net = glassnet.Network([64, 16, 10], seed=0, backend="numba")
    net.fit(X, y, epochs=1, verbose=2)
    net.fit(X, y, epochs=1, verbose=2)
    out = capsys.readouterr()
    text = out.out + out.err
    assert text.count("backend numba: float64 kernels compiled") == 1
    assert _numba._PREPARED["float64"] > 0


def test_glassnet_info_prints_the_backend_here(tmp_path, iris_scaled):
    import os
    net = glassnet.Network([4, 8, 3], seed=0, backend="numpy")
    net.fit(*iris_scaled, epochs=1)
    net.save(tmp_path / "iris.gnet")
    env = {**os.environ, _backend.ENV_VAR: "numpy", "COLUMNS": "200"}
    proc = subprocess.run([sys.executable, "-m", "glassnet", "info", "iris.gnet"], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = " ".join(proc.stdout.split())
    assert "backend (here) numpy (from GLASSNET_BACKEND=numpy)" in out


@needs_numba
def test_profile_step_profiles_the_numba_path():
    import os
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.run([sys.executable, "benchmarks/profile_step.py", "--regime", "small",
                           "--dtype", "float64", "--repeats", "1", "--backend", "numba"],
                          cwd=root, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "whole step: one compiled call" in proc.stdout and "fit, whole" in proc.stdout


def test_a_network_and_its_kernels_hold_no_cycle(digits):
    """Networks are freed by reference counting alone (trace makes a twin per call: a
    cycle would keep each alive, with its buffers, until a garbage collection)."""
    import gc
    import weakref
    X, y = digits
    gc.disable()
    try:
        net = glassnet.Network([64, 16, 10], seed=0)
        net.fit(X, y, epochs=1)
        net.trace(X[:50], y[:50])
        ref = weakref.ref(net)
        del net
        assert ref() is None
    finally:
        gc.enable()
