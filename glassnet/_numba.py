"""Compiled kernels for the Numba backend (``pip install glassnet[fast]``).

Imported only when a network with ``backend="numba"`` takes its first training step (see
:mod:`glassnet.backend`); the functions are compiled then, or loaded from Numba's disk
cache (``cache=True``: next to this file, or under ``NUMBA_CACHE_DIR``).

What NumPy cannot fuse is fused here, with NumPy's arithmetic, operation for operation:

* ``bias_act``: ``z += b`` and ``a = f(z)`` in one pass (identity, sigmoid, tanh, relu,
  leaky_relu, elu);
* ``grad_delta``: ``delta *= f'(z)`` in one pass, from z or from a as the NumPy code does;
* ``output_*``: the output activation, the batch's mean loss and ``delta = (a - y) * c``
  for the three fused output/loss pairs (softmax + cross-entropy with the same batch-max
  shift and per-row fallback, identity + squared error, sigmoid + binary cross-entropy);
* ``sgd_update`` / ``adam_update``: the whole optimizer step, weight decay, momentum or
  Adam's moments, the learning rate and ``params += step``, one pass over the parameters;
* ``whole_step``: the forward pass, the loss and the backward pass in one call, for plain
  SGD with the step taken inside the weight products; ``fit_step`` adds the batch's
  gather and ``fit_steps`` runs many steps per call.  A small step is dominated by the
  cost of each Python and NumPy call, a large one by its products, which go through
  NumPy's own BLAS (:func:`numpy_gemm`: the same library and threads as ``np.dot``).

Scalars reach the kernels already converted to the arrays' dtype, as NumPy converts a
Python float operand, and Numba does not contract a * b + c into a fused multiply-add
(no fastmath), so in float64 the results equal NumPy's up to the order of the sums (row
sums, the loss), to about 1e-15 relative per step; in float32 also up to the last bit
of exp/tanh, whose NumPy SIMD versions round differently.

The kernels are serial.  On two cores the BLAS uses both for the products and the
elementwise passes between them are memory-bound and short; Numba's ``parallel=True``
threads beside the BLAS's threads ran slower (docs/performance.md has the numbers), and a
second thread pool would oversubscribe the cores.
"""
from __future__ import annotations

import functools
import math
import time
import weakref

import numba
import numpy as np

from . import activations as _act
from . import optimizers as _opt

_jit = numba.njit(cache=True, nogil=True)

#: activation codes (the ids of :mod:`glassnet.activations`)
IDENTITY, SIGMOID, TANH, RELU, LEAKY_RELU, ELU = 0, 1, 2, 3, 4, 5
KINDS = {"identity": IDENTITY, "sigmoid": SIGMOID, "tanh": TANH, "relu": RELU,
         "leaky_relu": LEAKY_RELU, "elu": ELU}
#: the parameter each kernel reads from ``Activation.params``
PARAM = {"leaky_relu": "slope", "elu": "alpha"}
#: fused output/loss pairs with a kernel: (output activation, loss) -> code
SOFTMAX_CE, IDENTITY_SE, SIGMOID_BCE = 0, 1, 2
OUTPUTS = {("softmax", "cross_entropy"): SOFTMAX_CE, ("identity", "squared_error"): IDENTITY_SE,
           ("sigmoid", "binary_cross_entropy"): SIGMOID_BCE}
#: the whole step in one call below this many multiply-adds in a layer's product (where the
#: BLAS runs one thread anyway, and the cost of a step is calls, not arithmetic)
WHOLE_STEP_MACS = 1 << 20
#: fit without per-batch callbacks takes its steps in runs of about this many multiply-adds
#: (products) per compiled call, and at most RUN_STEPS steps: Ctrl-C and the loss checks
#: wait for the end of a run, a few milliseconds
RUN_MACS = 1 << 28
RUN_STEPS = 256


def consts(dtype, param: float = 0.0) -> np.ndarray:
    """The constants a kernel needs, in ``dtype``: param, 1, 1/2, 1/4, 2, 0."""
    return np.array([param, 1.0, 0.5, 0.25, 2.0, 0.0], dtype)


# --- elementwise kernels ------------------------------------------------------------------------

@_jit
def bias_act(z, b, a, kind, c):
    """``z += b`` and ``a = f(z)``, one pass; z and a (batch, fan_out), b (fan_out,).

    One loop per kind (not a branch per element), so that the compiler vectorizes them."""
    n, m = z.shape
    p, half, zero = c[0], c[2], c[5]
    if kind == RELU:
        for i in range(n):
            for j in range(m):
                v = z[i, j] + b[j]
                z[i, j] = v
                a[i, j] = zero if v < zero else v
    elif kind == IDENTITY:
        for i in range(n):
            for j in range(m):
                v = z[i, j] + b[j]
                z[i, j] = v
                a[i, j] = v
    elif kind == TANH:
        for i in range(n):
            for j in range(m):
                v = z[i, j] + b[j]
                z[i, j] = v
                a[i, j] = math.tanh(v)
    elif kind == SIGMOID:
        for i in range(n):
            for j in range(m):
                v = z[i, j] + b[j]
                z[i, j] = v
                a[i, j] = math.tanh(v * half) * half + half
    elif kind == LEAKY_RELU:
        for i in range(n):
            for j in range(m):
                v = z[i, j] + b[j]
                z[i, j] = v
                a[i, j] = v if v > zero else p * v
    else:  # ELU
        for i in range(n):
            for j in range(m):
                v = z[i, j] + b[j]
                z[i, j] = v
                a[i, j] = v if v > zero else p * math.expm1(v if v < zero else zero)
    return half


@_jit
def grad_delta(delta, z, a, kind, c):
    """``delta *= f'(z)``, from a (sigmoid, tanh, relu) or z (leaky_relu, elu) as NumPy."""
    n, m = delta.shape
    p, one, quarter, two, zero = c[0], c[1], c[3], c[4], c[5]
    if kind == RELU:
        for i in range(n):
            for j in range(m):
                delta[i, j] *= one if a[i, j] > zero else zero
    elif kind == TANH:
        for i in range(n):
            for j in range(m):
                delta[i, j] *= one - a[i, j] * a[i, j]
    elif kind == SIGMOID:
        for i in range(n):
            for j in range(m):
                t = a[i, j] * two - one
                delta[i, j] *= (one - t * t) * quarter
    elif kind == LEAKY_RELU:
        for i in range(n):
            for j in range(m):
                delta[i, j] *= one if z[i, j] > zero else p
    elif kind == ELU:
        for i in range(n):
            for j in range(m):
                v = z[i, j]
                delta[i, j] *= one if v > zero else p * math.exp(v if v < zero else zero)
    return one


@_jit
def output(z, a, y, delta, kind, mult, safe, c):
    """The output activation of z into a, ``delta = (a - y) * mult`` and the batch's mean
    loss (float64); ``mult`` is the 1/n scale times the optimizer's factor."""
    n, k = z.shape
    half, zero = c[2], c[5]
    if kind == SOFTMAX_CE:
        # as network._softmax_ce: shift by the batch's largest logit; a row whose sum
        # falls below ``safe`` sends every row to its own maximum
        shift = z[0, 0]
        for i in range(n):
            for j in range(k):
                if z[i, j] > shift:
                    shift = z[i, j]
        total = 0.0
        low = False
        for i in range(n):
            r = zero
            for j in range(k):
                s = z[i, j] - shift
                total -= y[i, j] * s
                e = math.exp(s)
                a[i, j] = e
                r += e
            if r < safe:
                low = True
                break
            for j in range(k):
                a[i, j] /= r
            total += math.log(r)
        if low:
            total = 0.0
            for i in range(n):
                top = z[i, 0]
                for j in range(k):
                    if z[i, j] > top:
                        top = z[i, j]
                r = zero
                for j in range(k):
                    s = z[i, j] - top
                    total -= y[i, j] * s
                    e = math.exp(s)
                    a[i, j] = e
                    r += e
                for j in range(k):
                    a[i, j] /= r
                total += math.log(r)
    elif kind == IDENTITY_SE:
        total = 0.0
        for i in range(n):
            for j in range(k):
                a[i, j] = z[i, j]
                d = z[i, j] - y[i, j]
                total += 0.5 * d * d
    else:  # SIGMOID_BCE, the loss from the logits: max(z, 0) - z y + log1p(exp(-|z|))
        total = 0.0
        for i in range(n):
            for j in range(k):
                v = z[i, j]
                a[i, j] = math.tanh(v * half) * half + half
                total += (v if v > zero else zero) - v * y[i, j] + math.log1p(math.exp(-abs(v)))
    for i in range(n):
        for j in range(k):
            delta[i, j] = (a[i, j] - y[i, j]) * mult
    return total / n


# --- the whole step ----------------------------------------------------------------------------

@_jit
def column_sums(delta, out):
    """``out = ones @ delta``: the bias gradient, (fan_out,)."""
    n, m = delta.shape
    for j in range(m):
        out[j] = delta[0, j]
    for i in range(1, n):
        for j in range(m):
            out[j] += delta[i, j]


# --- NumPy's BLAS from compiled code ------------------------------------------------------

#: CBLAS constants: row-major storage, no transpose, transpose
ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112
def numpy_gemm(dtype):
    """NumPy's own ``cblas_sgemm`` / ``cblas_dgemm`` as a ctypes function, or None.

    The compiled steps call the products through it: the library and the thread pool that
    ``np.dot`` uses in Python, so the step runs the same BLAS kernels on the same threads,
    and no second pool (SciPy's, which Numba's own ``np.dot`` calls) spins beside it.
    Found in the ``numpy.libs`` folder of a NumPy wheel (scipy-openblas, with the 64-bit
    integer interface its ``64_`` suffix names), checked once on a small product; None
    elsewhere (then the kernels use Numba's ``np.dot``, see :data:`WHOLE_STEP_MACS`)."""
    return _find_gemm(np.dtype(dtype))


@functools.cache
def _find_gemm(dtype):
    import ctypes
    import glob
    import os
    letter = {"f": "s", "d": "d"}.get(dtype.char)
    folder = os.path.join(os.path.dirname(os.path.dirname(np.__file__)), "numpy.libs")
    if letter is None:
        return None
    real = ctypes.c_float if letter == "s" else ctypes.c_double
    for path in sorted(glob.glob(os.path.join(folder, "*openblas*"))):
        try:
            lib = ctypes.CDLL(path)          # already loaded by NumPy: the same handle
        except OSError:
            continue
        for name in (f"scipy_cblas_{letter}gemm64_", f"cblas_{letter}gemm64_"):
            if not hasattr(lib, name):
                continue
            index = ctypes.c_int64
            gemm = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_int, ctypes.c_int, index,
                                    index, index, real, ctypes.c_void_p, index,
                                    ctypes.c_void_p, index, real, ctypes.c_void_p,
                                    index)((name, lib))
            a = np.arange(6, dtype=dtype).reshape(2, 3)
            b = np.arange(12, dtype=dtype).reshape(3, 4)
            c = np.ones((2, 4), dtype)
            gemm(ROW_MAJOR, NO_TRANS, NO_TRANS, 2, 4, 3, 1.0, a.ctypes.data, 3, b.ctypes.data,
                 4, 1.0, c.ctypes.data, 4)
            if np.array_equal(c, a @ b + 1):
                return gemm
    return None


@functools.cache
def c_memcpy():
    """The C library's ``memcpy`` as a ctypes function (the compiled gather copies each
    row of X with it), or None where ctypes cannot find it."""
    import ctypes
    try:
        return ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
                                ctypes.c_size_t)(("memcpy", ctypes.CDLL(None)))
    except (OSError, AttributeError, TypeError):
        return None


@_jit
def product(gemm, a, b, c, ta, tb, accumulate):
    """``c = op(a) @ op(b)``, or ``c += op(a) @ op(b)`` with ``accumulate``; op transposes
    the stored (C-ordered) array when ``ta`` / ``tb``.  Through ``gemm`` (NumPy's BLAS) or,
    with ``gemm`` None, Numba's ``np.dot``."""
    if gemm is None:                     # one branch per layout, so that each is typed
        if ta:
            if accumulate:
                c += np.dot(a.T, b)
            else:
                np.dot(a.T, b, c)
        elif tb:
            np.dot(a, b.T, c)
        else:
            np.dot(a, b, c)
    else:
        m, n = c.shape
        k = a.shape[0] if ta else a.shape[1]
        gemm(ROW_MAJOR, TRANS if ta else NO_TRANS, TRANS if tb else NO_TRANS, m, n, k, 1.0,
             a.ctypes.data, a.shape[1], b.ctypes.data, b.shape[1], 1.0 if accumulate else 0.0,
             c.ctypes.data, n)


@_jit
def whole_step(gemm, x, y, params, grads, meta, cs, work, mult, apply):
    """Forward, loss and backward of one batch; returns the mean loss.

    ``apply`` False: the gradients (times the optimizer's factor, folded into ``mult``) go
    to ``grads``.  ``apply`` True (plain SGD, whose factor is -learning_rate): the step is
    taken as the backward pass goes, ``W += below.T @ delta`` straight into the weights by
    the product itself (after ``delta @ W.T`` has used the old ones) and ``b += column
    sums``; ``grads`` then holds only the bias steps.  Each weight gets ``W + step`` once,
    as ``params += grads`` would give it, without a pass over all the parameters whose
    gradients the BLAS's threads left in the other core's cache.

    The products go through ``gemm``, NumPy's own BLAS (:func:`numpy_gemm`: the same
    library and thread pool as ``np.dot`` in Python), or with ``gemm`` None through Numba's
    ``np.dot`` (SciPy's BLAS, which a small network's single-thread products can use).

    ``meta[l]`` = (fan_in, fan_out, weight offset, bias offset, workspace offset, kind,
    block) of layer l, the output layer's kind being its output/loss code; ``cs[l]`` its
    constants (the output's first one is the softmax's ``safe``); ``work`` holds z, a and
    delta of every layer (3 blocks of ``block`` values, each layer's (batch, fan_out) at
    its offset).  Bias sums are sequential loops rather than BLAS GEMVs: on a small
    network a BLAS call costs more than the sum."""
    n = x.shape[0]
    last = meta.shape[0] - 1
    size = meta[0, 6]
    zf, af, df = work[:size], work[size:2 * size], work[2 * size:3 * size]
    a = x
    for l in range(last + 1):
        fi, fo, wo, bo, oo = meta[l, 0], meta[l, 1], meta[l, 2], meta[l, 3], meta[l, 4]
        z = zf[oo:oo + n * fo].reshape((n, fo))
        out = af[oo:oo + n * fo].reshape((n, fo))
        product(gemm, a, params[wo:wo + fi * fo].reshape((fi, fo)), z, False, False, False)
        if l < last:
            bias_act(z, params[bo:bo + fo], out, meta[l, 5], cs[l])
        else:
            b = params[bo:bo + fo]
            for i in range(n):
                for j in range(fo):
                    z[i, j] += b[j]
        a = out
    fo, oo = meta[last, 1], meta[last, 4]
    delta = df[oo:oo + n * fo].reshape((n, fo))
    loss = output(zf[oo:oo + n * fo].reshape((n, fo)), af[oo:oo + n * fo].reshape((n, fo)),
                  y, delta, meta[last, 5], mult, cs[last, 0], cs[last])
    for l in range(last, -1, -1):
        fi, fo, wo, bo = meta[l, 0], meta[l, 1], meta[l, 2], meta[l, 3]
        W = params[wo:wo + fi * fo].reshape((fi, fo))
        if l:
            po = meta[l - 1, 4]
            below = af[po:po + n * fi].reshape((n, fi))
            prev = df[po:po + n * fi].reshape((n, fi))
            product(gemm, delta, W, prev, False, True, False)      # with the old weights
        else:
            below = x
        gw = grads[wo:wo + fi * fo]
        if apply and gemm is not None:
            product(gemm, below, delta, W, True, False, True)      # W += below.T @ delta
        else:
            product(gemm, below, delta, gw.reshape((fi, fo)), True, False, False)
            if apply:
                w = params[wo:wo + fi * fo]
                for i in range(fi * fo):
                    w[i] += gw[i]
        column_sums(delta, grads[bo:bo + fo])
        if apply:
            for j in range(fo):
                params[bo + j] += grads[bo + j]
        if l:
            grad_delta(prev, zf[po:po + n * fi].reshape((n, fi)), below, meta[l - 1, 5],
                       cs[l - 1])
            delta = prev
    return loss


@_jit
def fit_step(gemm, copy, X, Y, rows, start, stop, params, grads, meta, cs, work, mult):
    """The whole step of ``fit`` for plain SGD: rows ``start:stop`` of the epoch gathered
    from X and Y (through ``rows`` unless it is empty: then the data's own order) into the
    end of ``work``, then :func:`whole_step` taking the step; returns the mean loss.
    ``copy``: the C library's ``memcpy`` (:func:`c_memcpy`), which copies a row of X
    faster than a loop, or None."""
    m = stop - start
    if rows.shape[0]:
        f, k = X.shape[1], Y.shape[1]
        at = 3 * meta[0, 6]
        bx = work[at:at + m * f].reshape((m, f))
        by = work[at + m * f:at + m * (f + k)].reshape((m, k))
        if copy is None:
            for i in range(m):
                r = rows[start + i]
                for j in range(f):
                    bx[i, j] = X[r, j]
        else:
            size = f * X.itemsize
            for i in range(m):
                copy(bx.ctypes.data + i * size, X.ctypes.data + rows[start + i] * size, size)
        for i in range(m):
            r = rows[start + i]
            for j in range(k):
                by[i, j] = Y[r, j]
        return whole_step(gemm, bx, by, params, grads, meta, cs, work, mult, True)
    return whole_step(gemm, X[start:stop], Y[start:stop], params, grads, meta, cs, work,
                      mult, True)


@_jit
def fit_steps(gemm, copy, X, Y, rows, first, size, params, grads, meta, cs, work, mults,
              limit, losses):
    """Steps ``first``, ``first + 1``, ... of the epoch, each of ``size`` rows (:func:`fit_step`
    with ``mults[j]``), their losses into ``losses``; stops after a step whose loss is not
    at most ``limit`` (that step applied, as fit's per-batch loop does).  Returns the
    number of steps taken."""
    for j in range(mults.shape[0]):
        start = (first + j) * size
        loss = fit_step(gemm, copy, X, Y, rows, start, start + size, params, grads, meta, cs,
                        work, mults[j])
        losses[j] = loss
        if not loss <= limit:
            return j + 1
    return mults.shape[0]


# --- optimizer steps: update and params += step in one pass -------------------------------------

@_jit
def sgd_update(params, grads, k, wd, buf, decay, nesterov, factor):
    """torch's SGD: ``g += wd p`` (first k entries), ``b = decay b + g`` (when buf has
    entries), the step ``g`` or ``b`` (Nesterov ``g + decay b``) times ``factor``."""
    momentum = buf.shape[0] > 0
    for i in range(params.shape[0]):
        g = grads[i]
        if i < k:
            g = g + params[i] * wd
        if momentum:
            b = buf[i] * decay + g
            buf[i] = b
            g = g + b * decay if nesterov else b
        g = g * factor
        grads[i] = g
        params[i] += g


@_jit
def adam_update(params, grads, mu, nu, k_pre, wd_pre, b1, omb1, b2, omb2, eps_root, corr,
                k_post, wd_post, factor):
    """Adam (``scale_by_adam``'s arithmetic): coupled decay before, decoupled (AdamW) after."""
    for i in range(params.shape[0]):
        g = grads[i]
        if i < k_pre:
            g = g + params[i] * wd_pre
        m = mu[i] * b1 + g * omb1
        v = nu[i] * b2 + (g * g) * omb2
        mu[i] = m
        nu[i] = v
        g = m / (math.sqrt(v) + eps_root)
        g = g * corr
        if i < k_post:
            g = g + params[i] * wd_post
        g = g * factor
        grads[i] = g
        params[i] += g


# --- the plan for one network -----------------------------------------------------------

_PREPARED: dict = {}        # dtype name -> seconds the first compile (or cache load) took


def _compiled_forward(kind: int, c):
    def forward(z, b, out):              # z += b and f(z) into out, one pass
        bias_act(z, b, out, kind, c)
        return out
    return forward


def _compiled_backward(kind: int, c):
    def backward(delta, z, a):           # delta *= f'(z), one pass
        grad_delta(delta, z, a, kind, c)
    return backward


def _compiled_output(numpy_output, kind: int, scalar, safe, c):
    def output_delta(net, z, a, y, sw, delta, ws, factor):
        if sw is not None:               # weighted rows: NumPy's code
            return numpy_output(net, z, a, y, sw, delta, ws, factor)
        return output(z, a, y, delta, kind, scalar(factor / z.shape[0]), safe, c)
    return output_delta


class Kernels:
    """The Numba backend of one network: which parts have kernels, and the step itself.

    Parts without a kernel run NumPy's code: a hidden activation without a kernel (selu,
    softplus, gelu, silu, custom ones), an output/loss pair that is not fused, sample
    weights (the output part), optimizers other than sgd/momentum/nesterov/adam/adamw.
    """

    def __init__(self, net):
        self.net = weakref.proxy(net)      # the network holds its kernels: no cycle
        dt = net.dtype
        self.dtype = dt
        self.scalar = dt.type
        hidden = net.activations[:-1]
        self.kinds = [KINDS.get(a.name, -1) if a.elementwise else -1 for a in hidden]
        self.consts = [consts(dt, a.params.get(PARAM.get(a.name, ""), 0.0)) for a in hidden]
        pair = (net.output.name, net.loss.name)
        self.out_kind = OUTPUTS.get(pair, -1) if net.fused_loss else -1
        self.safe = self.scalar(np.sqrt(np.finfo(dt).tiny))
        sizes = net.layer_sizes
        self.whole = (self.out_kind >= 0 and all(k >= 0 for k in self.kinds))
        self.whole_macs = max(i * o for i, o in zip(sizes[:-1], sizes[1:]))
        self.gemm = numpy_gemm(dt)
        self._kinds = self.kinds + [0]
        self._cs = np.stack(self.consts + [consts(dt, self.safe)])   # output: safe first
        self._flat: dict = {}
        self._fused_for, self._fused = None, None
        self.prepare_seconds = 0.0
        forward, backward, output, numpy_forward = net._ops
        net._ops = (*self.layer_ops(forward, backward, output), numpy_forward)

    def parts(self) -> dict:
        """Which parts run compiled ("numba") and which run NumPy's code ("numpy")."""
        hidden = self.net.activations[:-1]
        return {
            "hidden": [f"{a.name}: {'numba' if k >= 0 else 'numpy'}"
                       for a, k in zip(hidden, self.kinds)],
            "output": f"{self.net.output.name} + {self.net.loss.name}: "
                      f"{'numba' if self.out_kind >= 0 else 'numpy'}",
        }

    # --- compiling --------------------------------------------------------------------------

    def prepare(self) -> float:
        """Compile (or load from the disk cache) this dtype's kernels once per process;
        returns the seconds it took, 0.0 when they were already loaded."""
        key = self.dtype.name
        if key in _PREPARED:
            return 0.0
        start = time.perf_counter()
        _warm(self.dtype, self.gemm)
        _PREPARED[key] = seconds = time.perf_counter() - start
        self.prepare_seconds = seconds
        return seconds

    # --- the step ---------------------------------------------------------------------------

    def step_gradients(self, x, y, sw=None, factor: float = 1.0) -> float:
        """The gradients of a training step (``Network.train_step``): for a small network
        the whole forward-backward in one compiled call, else :meth:`train_batch`."""
        return self.train_batch(x, y, sw, factor, whole=True)

    def train_batch(self, x, y, sw=None, factor: float = 1.0, whole: bool = False) -> float:
        """``Network.compute_gradients`` through the kernels, layer by layer, into the
        network's workspace (which ``trace`` reads); NumPy's code where there is no kernel.
        ``whole``: a small network's forward-backward in one call (its own buffers)."""
        if self.dtype.name not in _PREPARED:
            self.prepare()
        net = self.net
        if not (x.flags.c_contiguous and x.flags.writeable):   # one compiled layout
            x = np.array(x, order="C")
        if not (y.flags.c_contiguous and y.flags.writeable):
            y = np.array(y, order="C")
        n = x.shape[0]
        if whole and sw is None and self.whole_fits(n):
            meta, work = self._whole_workspace(n)
            return whole_step(self.gemm, x, y, net.params, net.grads, meta, self._cs, work,
                              self.scalar(factor / n), False)
        return float(net.layer_pass(x, y, sw, factor))

    def whole_fits(self, n: int) -> bool:
        """Whether batches of ``n`` rows take the whole step in one call: every part has a
        kernel, and either the products go through NumPy's BLAS (:func:`numpy_gemm`) or
        they are small enough for Numba's ``np.dot`` (SciPy's BLAS, one thread, below
        :data:`WHOLE_STEP_MACS`)."""
        return self.whole and (self.gemm is not None or n * self.whole_macs <= WHOLE_STEP_MACS)

    def _fits(self, batches) -> bool:
        """Whether fit's compiled steps apply to ``batches`` (no sample weights, the whole
        step for their size, data in the one compiled layout); prepares the kernels."""
        if not (batches.sw is None and self.whole_fits(batches.bx.shape[0]) and all(
                a.flags.c_contiguous and a.flags.writeable and a.ndim == 2
                for a in (batches.X, batches.Y, batches.bx, batches.by))):
            return False
        if self.dtype.name not in _PREPARED:
            self.prepare()
        return True

    def fit_step(self, batches, linear):
        """``step(index, start, stop, state) -> (loss, state)`` for fit's plain-SGD loop
        (``linear``: the optimizer's, see ``Optimizer.linear``): gather, forward, backward
        and the step in one compiled call; None where that does not apply (sample weights,
        a layer or output without a kernel, a large network without NumPy's BLAS to call,
        data NumPy holds in another layout).  Unlike ``Network.train_step`` the step is
        applied even when the loss is not finite; fit then restores the epoch's starting
        weights."""
        if not self._fits(batches):
            return None
        X, Y = batches.X, batches.Y
        params, grads, cs, scalar = self.net.params, self.net.grads, self._cs, self.scalar
        gemm, copy = self.gemm, c_memcpy()
        no_rows = np.empty(0, np.int64)
        # a fit has two batch sizes at most: the full one and the last; the step keeps the
        # arguments of the last call, so that a step costs one comparison and the call
        last = [None, None, None, None]           # (m, factor, meta, work) and mult below
        mult = [None]

        def step(index, start, stop, state):
            factor, state = linear(state)
            m = stop - start
            if m != last[0] or factor != last[1]:
                last[:] = m, factor, *self._whole_workspace(m)
                mult[0] = scalar(factor / m)
            return fit_step(gemm, copy, X, Y, no_rows if index is None else index, start,
                            stop, params, grads, last[2], cs, last[3], mult[0]), state
        return step

    def fit_steps(self, batches, linear):
        """``steps(index, first, stop, state, limit) -> (losses, state)`` for fit's plain-SGD
        loop when no callback looks at single batches: the full-size batches ``first``,
        ``first + 1``, ... before ``stop``, many per compiled call (about :data:`RUN_MACS`
        multiply-adds of products, at most :data:`RUN_STEPS` steps), each exactly
        :meth:`fit_step`'s step with the learning rate ``linear`` gives it; the run ends
        early after a step whose loss is not at most ``limit``.  None where
        :meth:`fit_step` is."""
        if not self._fits(batches):
            return None
        X, Y = batches.X, batches.Y
        size = batches.bx.shape[0]
        params, grads, cs, gemm = self.net.params, self.net.grads, self._cs, self.gemm
        copy = c_memcpy()
        meta, work = self._whole_workspace(size)
        macs = size * sum(i * o for i, o in zip(self.net.layer_sizes[:-1],
                                                self.net.layer_sizes[1:]))
        most = max(1, min(RUN_STEPS, RUN_MACS // max(1, macs)))
        losses = np.empty(most)
        no_rows = np.empty(0, np.int64)

        def steps(index, first, stop, state, limit):
            k = min(stop - first, most)
            mults = np.empty(k, self.dtype)
            after = []
            for j in range(k):              # the learning rate of each step, as fit_step
                factor, state = linear(state)
                mults[j] = factor / size
                after.append(state)
            done = fit_steps(gemm, copy, X, Y, no_rows if index is None else index, first,
                             size, params, grads, meta, cs, work, mults, float(limit), losses)
            return losses[:done].tolist(), after[done - 1]
        return steps

    def layer_ops(self, forward, backward, output):
        """``Network.layer_pass``'s per-layer operations with this backend's kernels in
        place of NumPy's where there is one (fused bias + activation, derivative x delta,
        the fused output/loss pairs without sample weights); NumPy's elsewhere."""
        forward, backward = list(forward), list(backward)
        for l, (kind, c) in enumerate(zip(self.kinds, self.consts)):
            if kind >= 0:
                forward[l], backward[l] = _compiled_forward(kind, c), _compiled_backward(kind, c)
        if self.out_kind >= 0:
            output = _compiled_output(output, self.out_kind, self.scalar, self.safe,
                                      self._cs[-1])
        return forward, backward, output

    def _whole_workspace(self, n: int):
        """(meta, work) for :func:`whole_step` on batches of ``n`` rows, kept per size."""
        flat = self._flat.get(n)
        if flat is not None:
            return flat
        if len(self._flat) > 4:
            self._flat.clear()
        sizes = self.net.layer_sizes
        meta = np.zeros((len(sizes) - 1, 7), np.int64)
        w = o = 0
        b = self.net.n_weights
        for l, (fi, fo) in enumerate(zip(sizes[:-1], sizes[1:])):
            meta[l, :6] = (fi, fo, w, b, o, self._kinds[l])
            w, b, o = w + fi * fo, b + fo, o + n * fo
        meta[:, 6] = o
        meta[-1, 5] = self.out_kind
        # z, a and delta blocks, then room for the batch's gathered rows (fit_step)
        work = np.empty(3 * o + n * (sizes[0] + sizes[-1]), self.dtype)
        flat = self._flat[n] = (meta, work)
        return flat

    # --- the optimizer ----------------------------------------------------------------------

    def fused_update(self, opt, state):
        """``step(grads, state, params) -> state`` doing ``update`` and ``params += grads``
        in one pass, or None when the optimizer has no kernel (or is linear: plain SGD's
        step is already folded into the backward pass).  Kept for the last optimizer."""
        if self._fused_for is not opt:
            self._fused_for, self._fused = opt, fused_update(opt, state, self.dtype)
        return self._fused


def fused_update(opt, state, dtype):
    """The compiled step for the optimizers glassnet names, else None."""
    if opt.linear is not None:
        return None
    cfg, name = opt.config, opt.name
    if name not in ("sgd", "momentum", "nesterov", "adam", "adamw") or not (
            isinstance(state, _opt.ChainState) and isinstance(state[-1], _opt.ScheduleState)):
        return None
    lr_step = _opt.scale_by_learning_rate(cfg.get("learning_rate", 0.0)).linear
    s = dtype.type
    if name in ("sgd", "momentum", "nesterov"):
        decay = float(cfg.get("momentum", 0.0))
        nesterov = bool(cfg.get("nesterov", name == "nesterov"))
        wd = float(cfg.get("weight_decay", 0.0))
        expect = (_opt.DecayState,) * bool(wd) + (_opt.TraceState,) * bool(decay)
        if tuple(type(t) for t in state[:-1]) != expect:
            return None
        empty = np.empty(0, dtype)

        def step(grads, state, params):
            factor, sched = lr_step(state[-1])
            buf = state[-2].trace if decay else empty
            k = params.size if wd else 0
            sgd_update(params, grads, k, s(wd), buf, s(decay), nesterov, s(factor))
            return _opt.ChainState((*state[:-1], sched))
        return step
    if name in ("adam", "adamw"):
        b1, b2, eps = float(cfg["b1"]), float(cfg["b2"]), float(cfg["eps"])
        wd = float(cfg.get("weight_decay", 0.0))
        torch_form = cfg.get("eps_mode", "torch") == "torch"
        if name == "adam":
            expect = (_opt.DecayState,) * bool(wd) + (_opt.AdamState,)
            adam_at = len(expect) - 1
        else:
            expect = (_opt.AdamState, _opt.DecayState)
            adam_at = 0
        if tuple(type(t) for t in state[:-1]) != expect:
            return None

        def step(grads, state, params):
            factor, sched = lr_step(state[-1])
            adam = state[adam_at]
            t = adam.count + 1
            root_c2 = math.sqrt(1.0 - b2 ** t)
            k_pre = params.size if name == "adam" and wd else 0
            k_post = state[1].scratch.size if name == "adamw" else 0
            adam_update(params, grads, adam.mu, adam.nu, k_pre, s(wd), s(b1), s(1.0 - b1),
                        s(b2), s(1.0 - b2), s(eps * root_c2 if torch_form else eps),
                        s(root_c2 / (1.0 - b1 ** t)), k_post, s(wd), s(factor))
            parts = list(state)
            parts[adam_at] = _opt.AdamState(t, adam.mu, adam.nu, adam.scratch)
            parts[-1] = sched
            return _opt.ChainState(parts)
        return step
    return None


def _warm(dtype, gemm) -> None:
    """Call every kernel once on tiny arrays of ``dtype``: compiles (or loads) exactly the
    specializations training uses."""
    s = dtype.type
    rng = np.random.default_rng(0)
    z = rng.standard_normal((2, 3)).astype(dtype)
    a, d, y = np.empty_like(z), np.ones_like(z), np.eye(2, 3, dtype=dtype)
    c = consts(dtype, 0.1)
    bias_act(z, np.zeros(3, dtype), a, RELU, c)
    grad_delta(d, z, a, RELU, c)
    output(z, a, y, d, SOFTMAX_CE, s(0.5), s(1e-30), c)
    p, g = np.zeros(8, dtype), np.ones(8, dtype)
    sgd_update(p, g, 8, s(0.1), np.zeros(8, dtype), s(0.9), False, s(-0.1))
    adam_update(p, g, np.zeros(8, dtype), np.zeros(8, dtype), 0, s(0.0), s(0.9), s(0.1),
                s(0.999), s(0.001), s(1e-8), s(1.0), 0, s(0.0), s(-0.1))
    net_meta = np.array([[3, 3, 0, 18, 0, RELU, 12], [3, 3, 9, 21, 6, SOFTMAX_CE, 12]],
                        np.int64)
    params = rng.standard_normal(24).astype(dtype)
    work = np.ones(3 * 12 + 2 * 6, dtype)
    cs = np.stack([c, consts(dtype, 1e-30)])
    X, Y = rng.standard_normal((4, 3)).astype(dtype), np.eye(4, 3, dtype=dtype)
    whole_step(gemm, X[:2], Y[:2], params, np.empty_like(params), net_meta, cs, work, s(0.5),
               False)
    for rows in (np.array([3, 1, 0, 2], np.int64), np.empty(0, np.int64)):
        fit_step(gemm, c_memcpy(), X, Y, rows, 0, 2, params, np.empty_like(params), net_meta,
                 cs, work, s(0.5))
        fit_steps(gemm, c_memcpy(), X, Y, rows, 0, 2, params, np.empty_like(params), net_meta,
                  cs, work, np.full(2, s(0.5)), 1e300, np.empty(2))
