#!/usr/bin/env python
"""Where an epoch of glassnet's training goes: GEMM, elementwise work, softmax, optimizer, Python.

    python benchmarks/profile_step.py                    # large regime, float32
    python benchmarks/profile_step.py --regime small --dtype float64

Each part of a step is timed on its own, many times over, on the network's real workspace
buffers after one real step (the library's own functions, not a re-implementation):

  GEMM            the matrix products of a step alone (as bench_speed.py's limit)
  bias add        z += b, every layer
  activations     the hidden activations' apply (forward) and grad_inplace + multiply
                  into delta (backward)
  output          fused softmax + cross-entropy (value and probabilities) and dL/dz
  bias gradients  the column sums of delta (a GEMV with a ones vector), every layer
  optimizer       the step as fit takes it: for plain SGD params += grads (the learning
                  rate is folded into the backward pass), else update() and params += grads
  data            gathering each batch's rows in the epoch's order (fit's own _Batches)

then the whole ``compute_gradients`` loop and the whole ``fit`` (1 epoch large, 20 small) are
timed, and what is left,
``fit`` minus the parts, is the fit loop's own Python and NumPy call overhead.  Times are
the best of ``--repeats`` and are reported per step and as a share of the fit.  On a busy
machine ``OPENBLAS_NUM_THREADS=1 ... --clock cpu`` gives steadier shares (of a one-thread run).

``--backend numba`` profiles the compiled path instead: the fused kernels on the same
buffers (each call includes Numba's dispatch, about 0.4 us), and where it applies the
whole step (one compiled call: gather, forward, loss, backward and the step, the products
through NumPy's own BLAS) and fit's runs of steps (many steps per compiled call).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import glassnet  # noqa: E402
from glassnet import optimizers as _opt  # noqa: E402
from glassnet import training as _training  # noqa: E402


CLOCK = time.perf_counter


def best_time(fn, reps: int, repeats: int) -> float:
    """Seconds per call: the best of ``repeats`` rounds of ``reps`` calls."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        start = CLOCK()
        for _ in range(reps):
            fn()
        best = min(best, (CLOCK() - start) / reps)
    return best


def regime_data(regime: str, dtype: str):
    if regime == "large":
        rng = np.random.default_rng(0)
        X = rng.standard_normal((60_000, 784), dtype=np.float32).astype(dtype)
        y = rng.integers(0, 10, X.shape[0])
        return X, y, [784, 256, 128, 10], 128
    from sklearn.datasets import load_digits
    X, y = load_digits(return_X_y=True)
    return (X / 16.0).astype(dtype), y, [64, 32, 10], 32


def products(net, x, ws):
    """A step's matrix products alone, on the network's own buffers (workspace ``ws``)."""
    L = net.n_layers

    def gemm():
        a = x
        for l in range(L):
            np.dot(a, net.weights[l], out=ws.z[l])
            a = ws.a[l]
        for l in range(L - 1, -1, -1):
            np.dot((ws.a[l - 1] if l else x).T, ws.delta[l], out=net._grad_w[l])
            if l:
                np.dot(ws.delta[l], net.weights[l].T, out=ws.delta[l - 1])
    return gemm


def gathers(net, Xc, Y, bs: int, repeats: int):
    """(batches, index, seconds per batch): one epoch's shuffled batch gathers, as fit's."""
    n = Xc.shape[0]
    batches = _training._Batches(Xc, Y, None, None, True, bs)
    index = batches.arrange(batches.draw(net.rng))

    def gather():
        for start in range(0, n, bs):
            batches.batch(index, start, min(start + bs, n))
    return batches, index, best_time(gather, 1, repeats) / -(-n // bs)


def profile(regime: str, dtype: str, repeats: int, backend: str = "numpy") -> list:
    if backend == "numba":
        return profile_numba(regime, dtype, repeats)
    X, y, sizes, bs = regime_data(regime, dtype)
    net = glassnet.Network(sizes, activation="relu", dtype=dtype, seed=0, backend="numpy")
    Xc, Y, _ = net.check_data(X, y)
    n, steps = Xc.shape[0], -(-Xc.shape[0] // bs)
    x, yb = Xc[:bs], Y[:bs]
    net.compute_gradients(x, yb)                        # fills the workspace with real values
    ws = net._workspaces[bs]
    L = net.n_layers
    reps = max(20, 20_000 // (sizes[1] * bs // 32))
    parts = {}

    # the matrix products alone, on the same buffers
    gemm = products(net, x, ws)
    parts["GEMM (all products of a step)"] = best_time(gemm, reps, repeats)
    net.compute_gradients(x, yb)

    def bias_add():
        for l in range(L):
            ws.z[l] += net.biases[l]
    parts["bias add"] = best_time(bias_add, reps, repeats)

    hidden = net.activations[:-1]

    def act_forward():
        for l, act in enumerate(hidden):
            act.apply(ws.z[l], ws.a[l])
    parts["activations forward"] = best_time(act_forward, reps, repeats)

    def act_backward():
        for l, act in enumerate(hidden):
            ws.delta[l] *= act.grad_inplace(ws.z[l], ws.a[l])
            act.apply(ws.z[l], ws.a[l])            # put a back (timed separately, subtracted)
    parts["activations backward"] = (best_time(act_backward, reps, repeats)
                                     - parts["activations forward"])

    def output():
        net._output_delta(ws.z[-1], ws.a[-1], yb, None, ws.delta[-1], ws)
    parts["softmax + cross-entropy + dL/dz"] = best_time(output, reps, repeats)

    def bias_grads():
        for l in range(L):
            np.dot(ws.ones, ws.delta[l], out=net._grad_b[l])
    parts["bias gradients (GEMV)"] = best_time(bias_grads, reps, repeats)

    opt = _opt.get("sgd", 1.0)                    # lr 1: repeated steps keep their size
    state = [opt.init(net.params)]
    saved = net.params.copy()

    def optimizer():
        # as fit runs plain SGD: -lr is folded into the backward pass (Optimizer.linear),
        # which leaves the state's step count and params += grads
        if opt.linear is not None:
            state[0] = opt.linear(state[0])[1]
        else:
            state[0] = opt.update(net.grads, state[0], net.params)
        net.params += net.grads
    parts["optimizer step (sgd: params += grads)"] = best_time(optimizer, reps, repeats)
    net.params[...] = saved

    batches, index, parts["data: gathering each batch's rows"] = gathers(
        net, Xc, Y, bs, repeats)

    def train_batches():
        for start in range(0, n, bs):
            net.compute_gradients(Xc[start:start + bs], Y[start:start + bs])
    whole_tb = best_time(train_batches, 1, repeats) / steps

    epochs = 1 if regime == "large" else 20        # setting up a fit is amortised as it is in use

    def fit():
        net.fit(Xc, y, epochs=epochs, batch_size=bs, learning_rate=1e-3, optimizer="sgd")
    whole_fit = best_time(fit, 1, repeats) / (steps * epochs)

    rows = [(name, t) for name, t in parts.items()]
    in_step = sum(t for name, t in rows if not name.startswith(("optimizer", "data")))
    rows.append(("compute_gradients: Python and call overhead", whole_tb - in_step))
    rows.append(("fit loop: Python, callbacks, per-epoch work", whole_fit - whole_tb
                 - parts["optimizer step (sgd: params += grads)"]
                 - parts["data: gathering each batch's rows"]))
    return rows, whole_tb, whole_fit, parts["GEMM (all products of a step)"], steps


def profile_numba(regime: str, dtype: str, repeats: int) -> list:
    """The compiled path's parts, on the real buffers after one real step."""
    from glassnet import _numba as K
    X, y, sizes, bs = regime_data(regime, dtype)
    net = glassnet.Network(sizes, activation="relu", dtype=dtype, seed=0, backend="numba")
    Xc, Y, _ = net.check_data(X, y)
    n, steps = Xc.shape[0], -(-Xc.shape[0] // bs)
    x, yb = Xc[:bs].copy(), Y[:bs].copy()
    net.compute_gradients(x, yb)                        # compiles (or loads) the kernels
    kernels = net._kernels
    whole = kernels.whole_fits(bs)
    net.layer_pass(x, yb, None, 1.0)              # fills the numpy-layout workspace
    ws = net._workspaces[bs]
    L = net.n_layers
    reps = max(20, 20_000 // (sizes[1] * bs // 32))
    parts = {}

    gemm = products(net, x, ws)
    parts["GEMM (all products of a step, from Python)"] = best_time(gemm, reps, repeats)
    net.layer_pass(x, yb, None, 1.0)

    def forward():
        for l in range(L - 1):
            K.bias_act(ws.z[l], net.biases[l], ws.a[l], kernels.kinds[l], kernels.consts[l])
    parts["bias + activation, fused (kernel)"] = best_time(forward, reps, repeats)

    def backward():
        for l in range(L - 1):
            K.grad_delta(ws.delta[l], ws.z[l], ws.a[l], kernels.kinds[l], kernels.consts[l])
    saved = [d.copy() for d in ws.delta]
    parts["activation derivative * delta (kernel)"] = best_time(backward, reps, repeats)
    for d, s in zip(ws.delta, saved):
        d[...] = s

    def output():
        ws.z[-1] += net.biases[-1]
        K.output(ws.z[-1], ws.a[-1], yb, ws.delta[-1], kernels.out_kind,
                 kernels.scalar(1.0 / bs), kernels.safe, kernels._cs[-1])
    parts["output bias + softmax + CE + dL/dz (kernel)"] = best_time(output, reps, repeats)

    def bias_grads():
        for l in range(L):
            np.dot(ws.ones, ws.delta[l], out=net._grad_b[l])
    parts["bias gradients (GEMV)"] = best_time(bias_grads, reps, repeats)
    saved = net.params.copy()
    net.grads[...] = 0
    parts["optimizer step (sgd: params += grads)"] = best_time(
        lambda: net.params.__iadd__(net.grads), reps, repeats)
    net.params[...] = saved
    batches, index, parts["data: gathering each batch's rows"] = gathers(
        net, Xc, Y, bs, repeats)
    if whole:
        no_step = lambda state: (0.0, state)        # noqa: E731  (a zero step: params stay)
        step = kernels.fit_step(batches, no_step)
        many = kernels.fit_steps(batches, no_step)
        net.params[...] = saved
        full = n // bs

        def whole_steps(order=index):
            for start in range(0, n, bs):
                step(order, start, min(start + bs, n), None)

        def runs():
            first = 0
            while first < full:
                first += len(many(index, first, full, None, float("inf"))[0])
        parts = {"GEMM (all products of a step, from Python)":
                 parts["GEMM (all products of a step, from Python)"],
                 "kernels alone: bias + act, derivative, output (each from Python)":
                 parts["bias + activation, fused (kernel)"]
                 + parts["activation derivative * delta (kernel)"]
                 + parts["output bias + softmax + CE + dL/dz (kernel)"]}
        whole_tb = best_time(whole_steps, 1, repeats) / steps
        parts["of which gathering the batch (whole step minus the same on unshuffled rows)"] = \
            whole_tb - best_time(lambda: whole_steps(None), 1, repeats) / steps
        run_tb = best_time(runs, 1, repeats) / full
    else:
        def train_batches():
            for start in range(0, n, bs):
                net.compute_gradients(Xc[start:start + bs], Y[start:start + bs])
        whole_tb = best_time(train_batches, 1, repeats) / steps
    epochs = 1 if regime == "large" else 20

    def fit():
        net.fit(Xc, y, epochs=epochs, batch_size=bs, learning_rate=1e-3, optimizer="sgd")
    whole_fit = best_time(fit, 1, repeats) / (steps * epochs)
    rows = list(parts.items())
    if whole:
        rows.insert(-1, ("whole step: one compiled call (gather, forward, loss, backward, "
                         "step)", whole_tb))
        rows.append(("runs of steps: many per compiled call (fit, no per-batch callback)",
                     run_tb))
        rows.append(("fit loop: Python, the epoch's check of X, per-epoch work",
                     whole_fit - run_tb))
        return rows, run_tb, whole_fit, parts["GEMM (all products of a step, from Python)"], \
            steps
    in_step = sum(t for name, t in rows if not name.startswith(("optimizer", "data")))
    rows.append(("compute_gradients: Python and call overhead", whole_tb - in_step))
    rows.append(("fit loop: Python, callbacks, per-epoch work", whole_fit - whole_tb
                 - parts["optimizer step (sgd: params += grads)"]
                 - parts["data: gathering each batch's rows"]))
    return rows, whole_tb, whole_fit, parts["GEMM (all products of a step, from Python)"], steps


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--regime", choices=("large", "small"), default="large")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--backend", choices=("numpy", "numba"), default="numpy",
                   help="the NumPy reference path (default) or the compiled kernels")
    p.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                   help="cpu: this process's CPU time, steadier on a busy machine; only "
                        "meaningful with one BLAS thread (OPENBLAS_NUM_THREADS=1)")
    args = p.parse_args(argv)
    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    rows, tb, fit, gemm, steps = profile(args.regime, args.dtype, args.repeats, args.backend)
    print(f"{args.regime} regime, {args.dtype}, backend {args.backend}: {steps} steps per "
          "epoch; times per step")
    width = max(46, *(len(name) + 2 for name, _ in rows))
    print(f"  {'part':{width}s}{'us/step':>10s}{'share of fit':>14s}")
    for name, t in rows:
        print(f"  {name:{width}s}{t * 1e6:10.1f}{t / fit:14.1%}")
    whole = "= a step, whole (compute_gradients, or a compiled run)"
    print(f"  {whole:{width}s}{tb * 1e6:10.1f}{tb / fit:14.1%}")
    print(f"  {'= fit, whole':{width}s}{fit * 1e6:10.1f}{1:14.1%}")
    print(f"  fit / GEMM alone = {fit / gemm:.2f};  "
          f"step / GEMM alone = {tb / gemm:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
