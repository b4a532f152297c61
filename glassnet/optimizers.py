"""Optimizers as ``(init, update)`` pairs with explicit state, composed rather than subclassed.

``init(params) -> state`` and ``update(grads, state, params) -> state``.  ``update``
rewrites ``grads`` *in place* into the step to **add** to the parameters, so the training
loop's last line is ``params += grads``.  ``params`` and ``grads`` are the network's flat
buffers (all weight matrices first, then all biases; ``net.n_weights`` is the size of the
weight part).  State arrays are updated in place and every scratch buffer is allocated in
``init``: a step allocates nothing parameter-sized.

Small transforms chain into the familiar optimizers (optax's design)::

    sgd       = scale_by_learning_rate(lr)
    momentum  = chain(trace(0.9), scale_by_learning_rate(lr))
    nesterov  = chain(trace(0.9, nesterov=True), scale_by_learning_rate(lr))
    adam      = chain(scale_by_adam(b1, b2, eps), scale_by_learning_rate(lr))
    adamw     = chain(scale_by_adam(...), add_decayed_weights(wd), scale_by_learning_rate(lr))
    rmsprop   = chain(scale_by_rms(decay, eps), scale_by_learning_rate(lr))
    adagrad   = chain(scale_by_adagrad(eps), scale_by_learning_rate(lr))

Each step matches ``torch.optim`` (SGD, momentum and Nesterov, Adam, AdamW, RMSprop,
Adagrad) in float64 to rounding.  ``scale_by_adam(eps_mode="sklearn")`` is scikit-learn's
Adam (epsilon added outside the bias correction); scikit-learn's momentum
``v <- mu v - lr g`` equals ``trace`` + ``scale_by_learning_rate`` at a constant rate.

Regularisation, three kinds:

* ``fit(..., alpha=a)``: MLPClassifier's L2 penalty, ``0.5 * a * ||W||^2 / batch_n`` added
  to the loss and ``a * W / batch_n`` to the weight gradients (biases are not penalised);
  it is part of the objective, so the fit loop applies it.
* :func:`add_decayed_weights` before the scaling: coupled L2, torch's ``weight_decay=``.
* :func:`adamw` / :func:`add_decayed_weights` after ``scale_by_adam``: decoupled weight
  decay, ``p <- p * (1 - lr * wd) - lr * adam_step`` (torch's AdamW).

>>> import numpy as np
>>> opt = adam(0.1)
>>> params, grads = np.array([1.0, -2.0]), np.array([0.5, -0.5])
>>> state = opt.init(params)
>>> state = opt.update(grads, state, params); params += grads
>>> params.round(6).tolist()
[0.9, -1.9]
"""
from __future__ import annotations

import math
import re
from typing import Any, Callable, NamedTuple

import numpy as np

from ._registry import Registry
from ._validation import GlassnetError, check_float, check_int
from .schedules import as_schedule

Array = np.ndarray
Schedule = Callable[[int], float]


class Optimizer(NamedTuple):
    """A gradient transformation: ``init(params) -> state``, ``update(grads, state, params)``.

    ``name`` is the factory that built it and ``config`` its arguments, so
    ``getattr(glassnet.optimizers, name)(**config)`` rebuilds it: that is how optimizers
    (and networks carrying their optimizer state) pickle.
    """

    name: str
    init: Callable[[Array], Any]
    update: Callable[[Array, Any, Array], Any]
    config: dict
    #: for an update that only multiplies the gradient by a number (plain SGD):
    #: ``linear(state) -> (factor, next_state)``, the number for the coming step and the
    #: state after it.  ``fit`` then multiplies the backward pass by that number, so the
    #: gradients come out as the step itself: the same arithmetic as ``update``, one pass
    #: over the parameters fewer per step.  None for every other update.
    linear: Callable[[Any], tuple] | None = None

    def __reduce__(self):
        if _FACTORIES.get(self.name) is not None:
            return (_rebuild, (self.name, self.config))
        return (Optimizer, tuple(self))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config.items())
        return f"{self.name}({args})"


def _rebuild(name: str, config: dict) -> Optimizer:
    if name == "chain":
        return chain(*config["transforms"])
    return _FACTORIES[name](**config)


# --- states ------------------------------------------------------------------------------------

class EmptyState(NamedTuple):
    """For transforms without memory."""


class ScheduleState(NamedTuple):
    count: int          # updates taken so far
    scale: Array        # 0-d multiplier of the learning rate (ReduceLROnPlateau lowers it)


class TraceState(NamedTuple):
    trace: Array        # the momentum buffer, like torch's momentum_buffer
    scratch: Any        # (P,) work space for Nesterov, or None


class DecayState(NamedTuple):
    scratch: Array      # (n,) work space: wd * params


class AdamState(NamedTuple):
    count: int
    mu: Array           # first moment
    nu: Array           # second moment
    scratch: Array


class RMSState(NamedTuple):
    nu: Array           # running mean of g^2 (torch's square_avg)
    mu: Any             # running mean of g (centered only), else None
    scratch: Array


class AdagradState(NamedTuple):
    sum_of_squares: Array
    scratch: Array


class ChainState(tuple):
    """The states of a chain's transforms, in order."""

    __slots__ = ()


# --- transforms ---------------------------------------------------------------------------------

def scale_by_learning_rate(learning_rate=0.01) -> Optimizer:
    """``g <- -lr(t) * scale * g``: the step; ``learning_rate`` a number or a schedule of t.

    ``scale`` starts at 1 and lives in the state, so callbacks such as
    :class:`glassnet.callbacks.ReduceLROnPlateau` can lower it and checkpoints keep it.
    """
    lr = as_schedule(learning_rate)

    def init(params):
        return ScheduleState(0, np.ones((), np.float64))

    if callable(lr):
        def linear(state):
            # float(): a schedule returning np.float64 would run a float32 step in float64
            return -float(lr(state.count) * state.scale), ScheduleState(state.count + 1,
                                                                         state.scale)
    else:
        def linear(state):
            return -(lr * float(state.scale)), ScheduleState(state.count + 1, state.scale)

    def update(grads, state, params):
        factor, state = linear(state)
        grads *= factor
        return state

    return Optimizer("scale_by_learning_rate", init, update, {"learning_rate": learning_rate},
                     linear)


def trace(decay: float = 0.9, nesterov: bool = False) -> Optimizer:
    """Momentum: ``b <- decay * b + g``; the step is ``b`` (or ``g + decay * b``, Nesterov).

    torch.optim.SGD's momentum buffer with ``dampening=0`` (its first step's ``b = g``
    equals ``decay * 0 + g``).
    """
    decay = _unit("momentum", decay)
    nesterov = bool(nesterov)

    def init(params):
        return TraceState(np.zeros_like(params), np.zeros_like(params) if nesterov else None)

    def update(grads, state, params):
        buf = state.trace
        buf *= decay
        buf += grads
        if nesterov:
            np.multiply(buf, decay, out=state.scratch)
            grads += state.scratch
        else:
            np.copyto(grads, buf)
        return state

    return Optimizer("trace", init, update, {"decay": decay, "nesterov": nesterov})


def add_decayed_weights(weight_decay: float = 1e-4, n_weights: int | None = None) -> Optimizer:
    """``g <- g + weight_decay * p`` on the first ``n_weights`` entries (all when None).

    Before the scaling this is L2 regularisation as torch's ``weight_decay=`` (coupled);
    after ``scale_by_adam`` it is AdamW's decoupled decay.  Pass ``net.n_weights`` to leave
    the biases alone.
    """
    weight_decay = check_float("weight_decay", weight_decay, minimum=0.0)
    if n_weights is not None:
        n_weights = check_int("n_weights", n_weights, minimum=0)

    def init(params):
        k = params.size if n_weights is None else min(n_weights, params.size)
        return DecayState(np.empty(k, params.dtype))

    def update(grads, state, params):
        k = state.scratch.size
        np.multiply(params[:k], weight_decay, out=state.scratch)
        grads[:k] += state.scratch
        return state

    return Optimizer("add_decayed_weights", init, update,
                     {"weight_decay": weight_decay, "n_weights": n_weights})


def clip_by_global_norm(max_norm: float = 1.0) -> Optimizer:
    """``g <- g * max_norm / ||g||`` when ``||g|| > max_norm`` (the norm over every parameter).

    optax's ``clip_by_global_norm``; torch's ``clip_grad_norm_`` divides by ``||g|| + 1e-6``.
    """
    max_norm = check_float("max_norm", max_norm, strictly_positive=True)

    def init(params):
        return EmptyState()

    def update(grads, state, params):
        norm = math.sqrt(float(np.dot(grads, grads)))
        if norm > max_norm:
            grads *= max_norm / norm
        return state

    return Optimizer("clip_by_global_norm", init, update, {"max_norm": max_norm})


_EPS_MODES = ("torch", "sklearn")


def scale_by_adam(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
                  eps_mode: str = "torch") -> Optimizer:
    """Adam's direction (Kingma & Ba, 2014), without the learning rate.

    ``m <- b1 m + (1 - b1) g``, ``v <- b2 v + (1 - b2) g^2``, ``c1 = 1 - b1^t``,
    ``c2 = 1 - b2^t``; the step is

    * ``eps_mode="torch"`` (torch, Keras, optax): ``(m / c1) / (sqrt(v / c2) + eps)``
    * ``eps_mode="sklearn"`` (scikit-learn's MLP): ``(sqrt(c2) / c1) * m / (sqrt(v) + eps)``

    They differ only in where eps sits relative to the bias correction.
    """
    b1 = _unit("b1", b1)
    b2 = _unit("b2", b2)
    eps = check_float("eps", eps, minimum=0.0)
    if eps_mode not in _EPS_MODES:
        raise GlassnetError(f"The 'eps_mode' parameter must be one of {list(_EPS_MODES)}. "
                            f"Got {eps_mode!r} instead.")
    torch_form = eps_mode == "torch"

    def init(params):
        return AdamState(0, np.zeros_like(params), np.zeros_like(params), np.empty_like(params))

    def update(grads, state, params):
        t = state.count + 1
        mu, nu, s = state.mu, state.nu, state.scratch
        mu *= b1
        np.multiply(grads, 1.0 - b1, out=s)
        mu += s
        nu *= b2
        np.multiply(grads, grads, out=s)
        s *= 1.0 - b2
        nu += s
        root_c2 = math.sqrt(1.0 - b2 ** t)
        np.sqrt(nu, out=s)
        # torch: (m / c1) / (sqrt(v) / sqrt(c2) + eps) = (sqrt(c2) / c1) m / (sqrt(v) + eps sqrt(c2))
        s += eps * root_c2 if torch_form else eps
        np.divide(mu, s, out=grads)
        grads *= root_c2 / (1.0 - b1 ** t)
        return AdamState(t, mu, nu, s)

    return Optimizer("scale_by_adam", init, update,
                     {"b1": b1, "b2": b2, "eps": eps, "eps_mode": eps_mode})


def scale_by_rms(decay: float = 0.99, eps: float = 1e-8, centered: bool = False) -> Optimizer:
    """RMSprop's direction: ``v <- decay v + (1 - decay) g^2``; step ``g / (sqrt(v) + eps)``.

    ``centered`` also tracks ``m <- decay m + (1 - decay) g`` and divides by
    ``sqrt(v - m^2) + eps`` (torch's ``centered=True``).
    """
    decay = _unit("decay", decay)
    eps = check_float("eps", eps, minimum=0.0)
    centered = bool(centered)

    def init(params):
        return RMSState(np.zeros_like(params), np.zeros_like(params) if centered else None,
                        np.empty_like(params))

    def update(grads, state, params):
        nu, s = state.nu, state.scratch
        nu *= decay
        np.multiply(grads, grads, out=s)
        s *= 1.0 - decay
        nu += s
        if centered:
            mu = state.mu
            mu *= decay
            np.multiply(grads, 1.0 - decay, out=s)
            mu += s
            np.multiply(mu, mu, out=s)
            np.subtract(nu, s, out=s)
            np.sqrt(s, out=s)
        else:
            np.sqrt(nu, out=s)
        s += eps
        grads /= s
        return state

    return Optimizer("scale_by_rms", init, update,
                     {"decay": decay, "eps": eps, "centered": centered})


def scale_by_adagrad(eps: float = 1e-10, initial_accumulator_value: float = 0.0) -> Optimizer:
    """Adagrad's direction: ``G <- G + g^2``; step ``g / (sqrt(G) + eps)`` (torch's form)."""
    eps = check_float("eps", eps, minimum=0.0)
    initial = check_float("initial_accumulator_value", initial_accumulator_value, minimum=0.0)

    def init(params):
        return AdagradState(np.full_like(params, initial), np.empty_like(params))

    def update(grads, state, params):
        acc, s = state.sum_of_squares, state.scratch
        np.multiply(grads, grads, out=s)
        acc += s
        np.sqrt(acc, out=s)
        s += eps
        grads /= s
        return state

    return Optimizer("scale_by_adagrad", init, update,
                     {"eps": eps, "initial_accumulator_value": initial})


def chain(*transforms: Optimizer) -> Optimizer:
    """Apply ``transforms`` one after the other; the state is the tuple of their states."""
    transforms = tuple(t for t in transforms if t is not None)
    for i, t in enumerate(transforms):
        if not isinstance(t, Optimizer):
            raise GlassnetError(f"chain: transform {i} must be an Optimizer (an init/update "
                                f"pair from glassnet.optimizers); got {t!r}.")
    if not transforms:
        raise GlassnetError("chain needs at least one transform.")
    inits = tuple(t.init for t in transforms)
    updates = tuple(t.update for t in transforms)

    def init(params):
        return ChainState(f(params) for f in inits)

    if len(updates) == 2:  # the common case, unrolled: no generator per step
        u0, u1 = updates

        def update(grads, state, params):
            return ChainState((u0(grads, state[0], params), u1(grads, state[1], params)))
    else:
        def update(grads, state, params):
            return ChainState(u(grads, s, params) for u, s in zip(updates, state))

    return Optimizer("chain", init, update, {"transforms": transforms})


# --- the optimizers users name -------------------------------------------------------------------

def sgd(learning_rate=0.01, momentum: float = 0.0, nesterov: bool = False,
        weight_decay: float = 0.0) -> Optimizer:
    """Stochastic gradient descent, as ``torch.optim.SGD``.

    ``p <- p - lr * g``; with momentum ``b <- momentum * b + g`` and ``p <- p - lr * b``
    (Nesterov: ``p <- p - lr * (g + momentum * b)``); ``weight_decay`` adds ``wd * p`` to g.
    """
    momentum = check_float("momentum", momentum, minimum=0.0)
    if nesterov and momentum == 0:
        raise GlassnetError("nesterov=True needs momentum > 0.")
    opt = chain(_decay(weight_decay),
                trace(momentum, nesterov) if momentum else None,
                scale_by_learning_rate(learning_rate))
    return _named("sgd", opt, learning_rate=learning_rate, momentum=momentum,
                  nesterov=bool(nesterov), weight_decay=weight_decay)


def momentum(learning_rate=0.01, momentum: float = 0.9, weight_decay: float = 0.0) -> Optimizer:
    """SGD with heavy-ball momentum: ``b <- momentum * b + g``, ``p <- p - lr * b``."""
    opt = sgd(learning_rate, momentum, False, weight_decay)
    return _named("momentum", opt, learning_rate=learning_rate, momentum=momentum,
                  weight_decay=weight_decay)


def nesterov(learning_rate=0.01, momentum: float = 0.9, weight_decay: float = 0.0) -> Optimizer:
    """SGD with Nesterov momentum: ``b <- momentum * b + g``, ``p <- p - lr * (g + momentum b)``."""
    opt = sgd(learning_rate, momentum, True, weight_decay)
    return _named("nesterov", opt, learning_rate=learning_rate, momentum=momentum,
                  weight_decay=weight_decay)


def adam(learning_rate=0.001, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
         weight_decay: float = 0.0, eps_mode: str = "torch") -> Optimizer:
    """Adam, as ``torch.optim.Adam`` (or scikit-learn's with ``eps_mode="sklearn"``).

    ``weight_decay`` is torch's coupled L2 (added to g before the moments); for decoupled
    decay use :func:`adamw`.
    """
    opt = chain(_decay(weight_decay), scale_by_adam(b1, b2, eps, eps_mode),
                scale_by_learning_rate(learning_rate))
    return _named("adam", opt, learning_rate=learning_rate, b1=b1, b2=b2, eps=eps,
                  weight_decay=weight_decay, eps_mode=eps_mode)


def adamw(learning_rate=0.001, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
          weight_decay: float = 0.01, n_weights: int | None = None) -> Optimizer:
    """Adam with decoupled weight decay, as ``torch.optim.AdamW``.

    ``p <- p * (1 - lr * weight_decay) - lr * adam_step``.  Like torch it decays every
    parameter it is given; ``n_weights=net.n_weights`` decays the weights but not biases.
    """
    opt = chain(scale_by_adam(b1, b2, eps), add_decayed_weights(weight_decay, n_weights),
                scale_by_learning_rate(learning_rate))
    return _named("adamw", opt, learning_rate=learning_rate, b1=b1, b2=b2, eps=eps,
                  weight_decay=weight_decay, n_weights=n_weights)


def rmsprop(learning_rate=0.01, decay: float = 0.99, eps: float = 1e-8, momentum: float = 0.0,
            centered: bool = False, weight_decay: float = 0.0) -> Optimizer:
    """RMSprop, as ``torch.optim.RMSprop`` (``decay`` is torch's ``alpha``)."""
    momentum = check_float("momentum", momentum, minimum=0.0)
    opt = chain(_decay(weight_decay), scale_by_rms(decay, eps, centered),
                trace(momentum) if momentum else None,
                scale_by_learning_rate(learning_rate))
    return _named("rmsprop", opt, learning_rate=learning_rate, decay=decay, eps=eps,
                  momentum=momentum, centered=bool(centered), weight_decay=weight_decay)


def adagrad(learning_rate=0.01, eps: float = 1e-10, initial_accumulator_value: float = 0.0,
            weight_decay: float = 0.0) -> Optimizer:
    """Adagrad, as ``torch.optim.Adagrad`` (``lr_decay=0``)."""
    opt = chain(_decay(weight_decay), scale_by_adagrad(eps, initial_accumulator_value),
                scale_by_learning_rate(learning_rate))
    return _named("adagrad", opt, learning_rate=learning_rate, eps=eps,
                  initial_accumulator_value=initial_accumulator_value,
                  weight_decay=weight_decay)


def _decay(weight_decay) -> Optimizer | None:
    weight_decay = check_float("weight_decay", weight_decay, minimum=0.0)
    return add_decayed_weights(weight_decay) if weight_decay else None


def _unit(name: str, value) -> float:
    value = check_float(name, value, minimum=0.0)
    if value >= 1.0:
        raise GlassnetError(f"{name} must be in [0, 1). Got {value}.")
    return value


def _named(name: str, opt: Optimizer, **config) -> Optimizer:
    """Rename a chain; a chain of one transform is that transform itself."""
    inner = opt.config["transforms"] if opt.name == "chain" else (opt,)
    if len(inner) == 1:
        opt = inner[0]
    return Optimizer(name, opt.init, opt.update, config, opt.linear)


# --- registry and helpers ----------------------------------------------------------------------

#: the optimizers users name in ``fit(optimizer=...)``
_REGISTRY = Registry("optimizer", {
    "sgd": sgd, "momentum": momentum, "nesterov": nesterov, "adam": adam, "adamw": adamw,
    "rmsprop": rmsprop, "adagrad": adagrad,
}, unknown="The 'optimizer' parameter must be one of {names} or an Optimizer from "
           "glassnet.optimizers. Got {key!r} instead.")
NAMES = _REGISTRY.names

#: every factory, by the name it gives its Optimizer (used to rebuild one from its config)
_FACTORIES: dict[str, Callable[..., Optimizer]] = {
    **_REGISTRY, "scale_by_learning_rate": scale_by_learning_rate, "trace": trace,
    "add_decayed_weights": add_decayed_weights, "clip_by_global_norm": clip_by_global_norm,
    "scale_by_adam": scale_by_adam, "scale_by_rms": scale_by_rms,
    "scale_by_adagrad": scale_by_adagrad, "chain": chain,
}


def get(spec, learning_rate=None) -> Optimizer:
    """An optimizer from a name (with ``learning_rate``, else its default) or an Optimizer."""
    if isinstance(spec, Optimizer):
        if learning_rate is not None:
            raise GlassnetError("learning_rate was given together with an optimizer object, "
                                "which carries its own; pass one or the other.")
        return spec
    if _REGISTRY.canonical(spec) is None:
        hint = ""
        if callable(spec) and getattr(spec, "__name__", None) in _FACTORIES:
            hint = (f" {spec.__name__} is the factory: call it, e.g. "
                    f"optimizer=glassnet.optimizers.{spec.__name__}(...).")
        raise GlassnetError(_REGISTRY.unknown_message(spec) + hint)
    factory = _REGISTRY.lookup(spec)[1]
    return factory() if learning_rate is None else factory(learning_rate)


def describe(opt: Optimizer) -> str:
    """``repr(opt)`` without memory addresses, the same in every process.

    A schedule that is a plain function prints as ``<function sched at 0x7f...>``; the
    address changes from one run of Python to the next, so a checkpoint identifies the
    optimizer by this text instead (the function then counts by its name).
    """
    return re.sub(r" at 0x[0-9a-fA-F]+", "", repr(opt))


def is_rebuildable(opt: Optimizer) -> bool:
    """True when ``opt`` pickles by rebuilding from its config (every glassnet factory)."""
    if _FACTORIES.get(opt.name) is None:
        return False
    if opt.name == "chain":
        return all(is_rebuildable(t) for t in opt.config["transforms"])
    return True


def _schedule_states(state):
    """Every ScheduleState inside a (nested) optimizer state, depth first."""
    if isinstance(state, ScheduleState):
        yield state
    elif isinstance(state, tuple):
        for s in state:
            yield from _schedule_states(s)


def _lr_spec(opt: Optimizer):
    if "learning_rate" in opt.config:
        return opt.config["learning_rate"]
    for t in opt.config.get("transforms", ()):
        spec = _lr_spec(t)
        if spec is not None:
            return spec
    return None


def current_learning_rate(opt: Optimizer, state) -> float | None:
    """The learning rate the next step will use (schedule and plateau scale included)."""
    spec = _lr_spec(opt)
    found = next(_schedule_states(state), None)
    if spec is None or found is None:
        return None
    lr = spec(found.count) if callable(spec) else float(spec)
    return float(lr) * float(found.scale)


def scale_learning_rate(state, factor: float) -> float | None:
    """Multiply the learning-rate scale in ``state`` by ``factor`` (in place); the new scale."""
    new = None
    for s in _schedule_states(state):
        s.scale[...] = s.scale * factor
        new = float(s.scale)
    return new


def state_leaves(state) -> list:
    """The state's arrays and counters in a fixed order (scratch buffers left out)."""
    out = []

    def walk(s):
        if s is None:
            return
        if isinstance(s, tuple):
            fields = getattr(s, "_fields", None)
            for i, item in enumerate(s):
                if fields is not None and fields[i] == "scratch":
                    continue
                walk(item)
        else:
            out.append(s)
    walk(state)
    return out


def load_state_leaves(template, leaves: list):
    """``template`` (a fresh ``init``) with its leaves replaced by ``leaves``, checked."""
    leaves = list(leaves)
    position = [0]

    def take():
        if position[0] >= len(leaves):
            raise GlassnetError("The saved optimizer state has fewer entries than this optimizer "
                                "needs: it was written for a different optimizer.")
        value = leaves[position[0]]
        position[0] += 1
        return value

    def build(s):
        if s is None:
            return None
        if isinstance(s, tuple):
            fields = getattr(s, "_fields", None)
            items = [item if fields is not None and fields[i] == "scratch" else build(item)
                     for i, item in enumerate(s)]
            return type(s)(*items) if fields is not None else type(s)(items)
        value = take()
        if isinstance(s, np.ndarray):
            value = np.asarray(value)
            if value.shape != s.shape:
                raise GlassnetError(f"The saved optimizer state holds an array of shape "
                                    f"{value.shape} where this optimizer has {s.shape}: it was "
                                    "written for a different network or optimizer.")
            s[...] = value
            return s
        if np.ndim(value) != 0:
            raise GlassnetError(f"The saved optimizer state holds an array of shape "
                                f"{np.shape(value)} where this optimizer keeps a number: it was "
                                "written for a different network or optimizer.")
        if isinstance(s, (bool, np.bool_)):
            return bool(value)
        if isinstance(s, (int, np.integer)):
            return int(value)
        if isinstance(s, (float, np.floating)):
            return float(value)
        raise GlassnetError(f"Cannot restore an optimizer state entry of type {type(s).__name__}.")

    result = build(template)
    if position[0] != len(leaves):
        raise GlassnetError("The saved optimizer state has more entries than this optimizer "
                            "needs: it was written for a different optimizer.")
    return result
