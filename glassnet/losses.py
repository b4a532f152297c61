"""Losses as ``(value, grad)`` pairs, and which output activation pairs with which loss.

All values are averaged over the batch (rows).  ``grad(a, y)`` is the gradient of that
mean with respect to the network's output ``a``, so it can be checked by central
differences.

===================== ============================================== ==================
name                  per-sample loss                                fused output
===================== ============================================== ==================
squared_error         1/2 * sum_k (a_k - y_k)^2  (gradient a - y)    identity (a - y)
binary_cross_entropy  -sum_k y_k log a_k + (1 - y_k) log(1 - a_k)     sigmoid
cross_entropy         -sum_k y_k log a_k  (categorical)              softmax
===================== ============================================== ==================

For the fused pairs the gradient with respect to the logits is exactly ``a - y`` and the
value is computed from the logits (log-sum-exp, softplus), so neither overflows nor takes
``log(0)``.  Any other output/loss pair goes through the chain rule: ``dL/da`` pulled back
through the output activation.
"""
from __future__ import annotations

from typing import Callable, NamedTuple, Optional

import numpy as np

from ._registry import Registry
from ._validation import GlassnetError

Array = np.ndarray


class Loss(NamedTuple):
    name: str
    #: per-sample losses, shape (batch,)
    per_sample: Callable[[Array, Array], Array]
    #: gradient of the batch mean with respect to the output ``a``
    grad: Callable[[Array, Array], Array]
    #: the output activation with which the gradient w.r.t. the logits is ``a - y``
    fused_output: Optional[str]
    #: per-sample losses computed from the logits, for the fused output
    per_sample_from_logits: Optional[Callable[[Array, Array], Array]]
    #: the output activation used when the user names only the loss
    default_output: str

    def value(self, a: Array, y: Array) -> float:
        """The mean loss over the batch."""
        return float(np.mean(self.per_sample(a, y)))


def _eps(a):
    return np.finfo(a.dtype).eps if a.dtype.kind == "f" else 1e-15


def _tiny(a):
    return np.finfo(a.dtype).tiny if a.dtype.kind == "f" else 1e-300


def _rows(x):
    return x.reshape(x.shape[0], -1)


# --- squared error ---------------------------------------------------------------------------

def _se(a, y):
    d = _rows(a - y)
    return 0.5 * np.einsum("ij,ij->i", d, d)


def _se_grad(a, y):
    return (a - y) / a.shape[0]


SQUARED_ERROR = Loss("squared_error", _se, _se_grad, "identity", _se, "identity")


# --- binary cross-entropy ----------------------------------------------------------------------

def _bce(a, y):
    a = np.clip(a, _eps(a), 1 - _eps(a))
    return -_rows(y * np.log(a) + (1 - y) * np.log1p(-a)).sum(axis=1)


def _bce_grad(a, y):
    a = np.clip(a, _eps(a), 1 - _eps(a))
    return (a - y) / (a * (1 - a)) / a.shape[0]


def _bce_from_logits(z, y):
    # max(z, 0) - z*y + log(1 + exp(-|z|))  ==  -[y log s(z) + (1-y) log(1 - s(z))]
    return _rows(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))).sum(axis=1)


BINARY_CROSS_ENTROPY = Loss("binary_cross_entropy", _bce, _bce_grad, "sigmoid",
                            _bce_from_logits, "sigmoid")


# --- categorical cross-entropy -------------------------------------------------------------------

def _ce(a, y):
    return -_rows(y * np.log(np.maximum(a, _tiny(a)))).sum(axis=1)


def _ce_grad(a, y):
    return -y / np.maximum(a, _tiny(a)) / a.shape[0]


def _ce_from_logits(z, y):
    m = z.max(axis=1, keepdims=True)
    lse = np.log(np.exp(z - m).sum(axis=1, keepdims=True)) + m  # (batch, 1)
    return np.sum(y * (lse - z), axis=1)


CROSS_ENTROPY = Loss("cross_entropy", _ce, _ce_grad, "softmax", _ce_from_logits, "softmax")


_ALIASES = {"mse": "squared_error", "squared_loss": "squared_error", "log_loss": "cross_entropy",
            "categorical_cross_entropy": "cross_entropy", "bce": "binary_cross_entropy"}
_REGISTRY = Registry("loss", {loss.name: loss for loss in (SQUARED_ERROR, BINARY_CROSS_ENTROPY,
                                                           CROSS_ENTROPY)}, _ALIASES)
NAMES = _REGISTRY.names

#: the loss chosen when only the output activation is named
DEFAULT_LOSS_FOR_OUTPUT = {"softmax": "cross_entropy", "sigmoid": "binary_cross_entropy"}


def get(key) -> Loss:
    """Resolve a loss name (or a :class:`Loss`), naming the valid keys on error.

    >>> get("mse").name
    'squared_error'
    >>> round(get("cross_entropy").value(np.array([[0.9, 0.1]]), np.array([[1.0, 0.0]])), 4)
    0.1054
    """
    if isinstance(key, Loss):
        return key
    return _REGISTRY.lookup(key)[1]
