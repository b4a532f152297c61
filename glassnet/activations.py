"""Activation functions as ``(f, df)`` pairs held in one registry.

Every derivative ``df`` is taken with respect to the pre-activation ``z``, so each pair
can be checked by central differences.  Besides the pure pair, each activation has two
allocation-free fast paths used by the training loop:

* ``apply(z, out)`` writes ``f(z)`` into ``out``;
* ``grad_inplace(z, a)`` returns ``f'(z)`` and may overwrite ``a`` (the layer output) to
  hold it, because the backward pass no longer needs ``a`` once the weight gradient
  above it has been taken.

============  ====  ===================================================================
name          id    formula
============  ====  ===================================================================
identity      0     f(z) = z
sigmoid       1     f(z) = 1 / (1 + exp(-z)), computed as (1 + tanh(z / 2)) / 2
tanh          2     f(z) = tanh(z)
relu          3     f(z) = max(z, 0)
leaky_relu    4     f(z) = z if z > 0 else slope * z        (slope = 0.01)
elu           5     f(z) = z if z > 0 else alpha * (exp(z) - 1)   (alpha = 1)
selu          6     f(z) = scale * elu(z, alpha) with SELU's fixed scale and alpha
softplus      7     f(z) = log(1 + exp(z)), computed as max(z, 0) + log1p(exp(-|z|))
gelu          8     tanh form: z/2 * (1 + tanh(sqrt(2/pi) * (z + 0.044715 z^3)))
                    (PyTorch's ``gelu(approximate="tanh")``; NumPy has no vectorised erf)
silu          9     f(z) = z * sigmoid(z)
softmax       10    f(z)_i = exp(z_i) / sum_j exp(z_j), along the last axis (output only)
============  ====  ===================================================================

The integer ids keep the hand-written API working: ``activator(1)`` is the sigmoid.
"""
from __future__ import annotations

import inspect
import math
from typing import Callable, NamedTuple

import numpy as np

from ._registry import Registry
from ._validation import GlassnetError, check_float

Array = np.ndarray


class Activation(NamedTuple):
    """One activation: the pure pair ``f``/``df`` plus in-place fast paths."""

    name: str
    f: Callable[[Array], Array]
    df: Callable[[Array], Array]
    apply: Callable[[Array, Array], Array]
    grad_inplace: Callable[[Array, Array], Array]
    params: dict
    elementwise: bool = True

    def vjp(self, g: Array, z: Array, a: Array) -> Array:
        """Return ``g`` pulled back through the activation: dL/dz given dL/da."""
        if self.elementwise:
            return g * self.df(z)
        # softmax: J^T g with J = diag(a) - a a^T, row by row
        return a * (g - np.sum(g * a, axis=-1, keepdims=True))

    # the hand-written API: ``activator(1).function()(z)``
    def function(self) -> Callable[[Array], Array]:
        return self.f

    def derivative(self) -> Callable[[Array], Array]:
        return self.df

    def __repr__(self) -> str:
        extra = "".join(f", {k}={v!r}" for k, v in self.params.items())
        return f"Activation({self.name!r}{extra})"

    def __reduce__(self):  # pickle by name: the functions may be closures or lambdas
        if self.name in _FACTORIES:
            return (from_spec, (to_spec(self),))
        return (Activation, tuple(self))


def _generic(name, f, df, params=None, elementwise=True) -> Activation:
    """An activation whose fast paths simply call the pure pair."""

    def apply(z, out):
        out[...] = f(z)
        return out

    def grad_inplace(z, a):
        return df(z)

    return Activation(name, f, df, apply, grad_inplace, dict(params or {}), elementwise)


# --- identity -------------------------------------------------------------------------

def _identity_apply(z, out):
    np.copyto(out, z)
    return out


def _identity_grad(z, a):
    a.fill(1.0)
    return a


IDENTITY = Activation("identity", lambda z: np.array(z, copy=True), np.ones_like,
                      _identity_apply, _identity_grad, {})


# --- sigmoid: (1 + tanh(z/2)) / 2 never overflows --------------------------------------

def sigmoid(z: Array) -> Array:
    return sigmoid_apply(z, np.empty_like(z))


def sigmoid_apply(z, out):
    np.multiply(z, 0.5, out=out)
    np.tanh(out, out=out)
    out *= 0.5
    out += 0.5
    return out


def _sigmoid_df(z):
    s = sigmoid(z)
    return s * (1.0 - s)


def _from_output_sigmoid(z, a):
    # s (1 - s) = (1 - (2s - 1)^2) / 4, written into a without a temporary and without
    # touching z (the contract: only the layer output may be overwritten)
    a *= 2.0
    a -= 1.0
    np.multiply(a, a, out=a)
    np.subtract(1.0, a, out=a)
    a *= 0.25
    return a


SIGMOID = Activation("sigmoid", sigmoid, _sigmoid_df, sigmoid_apply, _from_output_sigmoid, {})


# --- tanh --------------------------------------------------------------------------------

def _tanh_apply(z, out):
    return np.tanh(z, out=out)


def _tanh_df(z):
    t = np.tanh(z)
    return 1.0 - t * t


def _tanh_grad(z, a):
    np.multiply(a, a, out=a)
    np.subtract(1.0, a, out=a)
    return a


TANH = Activation("tanh", np.tanh, _tanh_df, _tanh_apply, _tanh_grad, {})


# --- relu ----------------------------------------------------------------------------------

def _relu(z):
    return np.maximum(z, 0.0)


def _relu_apply(z, out):
    # max against an array of zeros rather than the scalar 0: NumPy's float32 maximum only
    # takes its SIMD loop when both operands are arrays (about 2.5x faster at 128 x 256).
    # Batch-sized zeros are kept; bigger arrays (predicting on a whole data set) fill out.
    if z.size > _ZEROS_KEPT:
        out.fill(0)
        return np.maximum(z, out, out=out)
    return np.maximum(z, _zeros(z.shape, z.dtype), out=out)


_ZEROS: dict = {}
_ZEROS_KEPT = 1 << 16      # elements: 256 KB in float32


def _zeros(shape, dtype) -> Array:
    """A read-only array of zeros, kept per shape and dtype (a training run needs a few)."""
    key = (shape, dtype)
    zeros = _ZEROS.get(key)
    if zeros is None:
        if len(_ZEROS) > 16:
            _ZEROS.clear()
        zeros = _ZEROS[key] = np.zeros(shape, dtype)
        zeros.flags.writeable = False
    return zeros


def _relu_df(z):
    return (z > 0).astype(z.dtype)


def _relu_grad(z, a):
    # a = max(z, 0), so (a > 0) is exactly the 0/1 derivative (z > 0); the comparison
    # written straight into a as 0.0/1.0 is ~10x faster than np.sign(a, out=a) in place
    return np.greater(a, 0.0, out=a)


RELU = Activation("relu", _relu, _relu_df, _relu_apply, _relu_grad, {})


# --- parametrised families -----------------------------------------------------------------

def leaky_relu(slope: float = 0.01) -> Activation:
    """``z`` for z > 0, ``slope * z`` otherwise."""
    slope = check_float("slope", slope)

    def f(z):
        return np.where(z > 0, z, slope * z)

    def df(z):
        return np.where(z > 0, 1.0, slope).astype(z.dtype)

    return _generic("leaky_relu", f, df, {"slope": slope})


def elu(alpha: float = 1.0) -> Activation:
    """``z`` for z > 0, ``alpha * (exp(z) - 1)`` otherwise."""
    alpha = check_float("alpha", alpha)

    def f(z):
        return np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0.0)))

    def df(z):
        return np.where(z > 0, 1.0, alpha * np.exp(np.minimum(z, 0.0))).astype(z.dtype)

    return _generic("elu", f, df, {"alpha": alpha})


SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _selu(z):
    return SELU_SCALE * np.where(z > 0, z, SELU_ALPHA * np.expm1(np.minimum(z, 0.0)))


def _selu_df(z):
    return (SELU_SCALE * np.where(z > 0, 1.0, SELU_ALPHA * np.exp(np.minimum(z, 0.0)))).astype(z.dtype)


def _softplus(z):
    return np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))


_GELU_C = math.sqrt(2.0 / math.pi)


# tanh(sqrt(2/pi) * (z + 0.044715 z^3)) is exactly +-1 in float64 once |z| > 10, so the cubic
# is evaluated on z clipped to [-10, 10]: the same values, and no overflow of z^3 for huge z
_GELU_CLIP = 10.0


def _gelu(z):
    zc = np.clip(z, -_GELU_CLIP, _GELU_CLIP)
    return 0.5 * z * (1.0 + np.tanh(_GELU_C * (zc + 0.044715 * zc ** 3)))


def _gelu_df(z):
    zc = np.clip(z, -_GELU_CLIP, _GELU_CLIP)
    t = np.tanh(_GELU_C * (zc + 0.044715 * zc ** 3))
    # d/dz [z/2 (1 + t)] = (1 + t)/2 + z/2 (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 z^2);
    # where |z| > 10 the second term is exactly 0 (t = +-1), so zc stands in for z there
    return 0.5 * (1.0 + t) + 0.5 * zc * (1.0 - t * t) * _GELU_C * (1.0 + 3 * 0.044715 * zc * zc)


def _silu(z):
    return z * sigmoid(z)


def _silu_df(z):
    s = sigmoid(z)
    return s * (1.0 + z * (1.0 - s))


# --- softmax (an output activation: its Jacobian is not diagonal) ---------------------------

def softmax(z: Array) -> Array:
    return softmax_apply(z, np.empty_like(z))


def softmax_apply(z, out):
    np.subtract(z, z.max(axis=-1, keepdims=True), out=out)
    np.exp(out, out=out)
    out /= out.sum(axis=-1, keepdims=True)
    return out


def _softmax_jacobian(z):
    """The full Jacobian da_i/dz_j, shape (batch, K, K)."""
    a = softmax(z)
    return a[..., :, None] * (np.eye(a.shape[-1], dtype=a.dtype) - a[..., None, :])


def _softmax_grad(z, a):
    raise GlassnetError("softmax is an output activation; use it only as the network's output")


SOFTMAX = Activation("softmax", softmax, _softmax_jacobian, softmax_apply, _softmax_grad, {},
                     elementwise=False)


# --- the registry ----------------------------------------------------------------------------

_TABLE: dict[str, Callable[..., Activation]] = {
    "identity": lambda: IDENTITY,
    "sigmoid": lambda: SIGMOID,
    "tanh": lambda: TANH,
    "relu": lambda: RELU,
    "leaky_relu": leaky_relu,
    "elu": elu,
    "selu": lambda: _generic("selu", _selu, _selu_df),
    "softplus": lambda: _generic("softplus", _softplus, sigmoid),  # d/dz log(1 + e^z) = sigmoid(z)
    "gelu": lambda: _generic("gelu", _gelu, _gelu_df, {"approximate": "tanh"}),
    "silu": lambda: _generic("silu", _silu, _silu_df),
    "softmax": lambda: SOFTMAX,
}

#: aliases users meet in other libraries
ALIASES = {"linear": "identity", "logistic": "sigmoid", "swish": "silu", "none": "identity"}

#: The hand-written API's integer ids (documented in the module docstring).
IDS = {0: "identity", 1: "sigmoid", 2: "tanh", 3: "relu", 4: "leaky_relu", 5: "elu",
       6: "selu", 7: "softplus", 8: "gelu", 9: "silu", 10: "softmax"}

_FACTORIES = Registry("activation", _TABLE, ALIASES, unknown=(
    "Unknown activation {key!r}. Valid names: {names}; valid ids: " + str(sorted(IDS))
    + " (1 is sigmoid)."))
NAMES = _FACTORIES.names
#: activations that may only be used on the output layer
OUTPUT_ONLY = frozenset({"softmax"})
RELU_FAMILY = frozenset({"relu", "leaky_relu", "elu", "gelu", "silu", "softplus"})


def get(key, **params) -> Activation:
    """Resolve a name, an integer id, ``(name, params)`` or an :class:`Activation`.

    >>> get("leaky_relu", slope=0.2).params
    {'slope': 0.2}
    >>> get(("elu", {"alpha": 0.5}))
    Activation('elu', alpha=0.5)
    """
    if isinstance(key, Activation):
        if params:
            raise GlassnetError("parameters cannot be given together with an Activation object")
        return key
    if isinstance(key, tuple) and len(key) == 2 and isinstance(key[1], dict) and not params:
        return get(key[0], **key[1])
    if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
        if int(key) not in IDS:
            raise GlassnetError(
                f"Unknown activation id {int(key)}; valid ids are "
                + ", ".join(f"{i}={n}" for i, n in IDS.items()) + "."
            )
        key = IDS[int(key)]
    if not isinstance(key, str):
        raise GlassnetError(
            "An activation must be a name, an integer id, (name, params) or an Activation; "
            f"got {key!r}."
        )
    name, factory = _FACTORIES.lookup(key)
    _FACTORIES.check_keywords(name, factory, params)
    try:
        return factory(**params)
    except GlassnetError as exc:
        raise GlassnetError(f"Bad parameters for activation {name!r}: {exc}") from None


def activator(key) -> Activation:
    """The hand-written API: ``activator(1).function()`` is the sigmoid, ``.derivative()`` its derivative."""
    return get(key)


def to_spec(act: Activation):
    """A JSON-ready description: the name alone, or ``[name, params]``."""
    return [act.name, dict(act.params)] if act.params and act.name != "gelu" else act.name


def from_spec(spec) -> Activation:
    if isinstance(spec, (list, tuple)) and len(spec) == 2 and isinstance(spec[1], dict):
        return get(spec[0], **spec[1])
    return get(spec)
