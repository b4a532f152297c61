"""Learning-rate schedules: pure functions of the optimizer step, ``schedule(step) -> lr``.

``step`` counts optimizer updates from 0 (the first batch uses ``schedule(0)``).  A schedule
is a :class:`Schedule`, a module-level formula with its numbers bound, so it prints, compares
and pickles (checkpoints and fitted estimators carry it).  Any ``callable(step) -> float``
works wherever a schedule is accepted.

=================  ==========================================================================
schedule           learning rate at step t
=================  ==========================================================================
constant           lr
step_decay         lr * gamma ** (t // step_size)                       (torch's StepLR)
exponential        lr * gamma ** (t / decay_steps), floor(t / decay_steps) with staircase
inverse_scaling    lr / T ** power_t with T = t + 1, or MLPClassifier's "invscaling":
                   T = (samples seen before the current epoch) + 1
cosine             warm-up lr * (t + 1) / (warmup_steps + 1) for t < warmup_steps, then
                   final_lr + (lr - final_lr) * (1 + cos(pi * r)) / 2 with
                   r = (t - warmup_steps) / (total_steps - warmup_steps), final_lr after
per_epoch          schedule(t // steps_per_epoch): any schedule counted in epochs
=================  ==========================================================================

Reduce-on-plateau (MLPClassifier's ``learning_rate="adaptive"``) depends on the losses seen,
not on the step alone, so it is a callback driven by the fit loop:
:class:`glassnet.callbacks.ReduceLROnPlateau` (also reachable here as ``reduce_on_plateau``).
It multiplies the optimizer's learning-rate scale, which lives in the optimizer state, so it
composes with any schedule above and survives checkpoints.

>>> s = cosine(0.1, total_steps=100, warmup_steps=10)
>>> round(s(9), 4), s(10), round(s(55), 4), s(100)
(0.0909, 0.1, 0.05, 0.0)
"""
from __future__ import annotations

import math
import numbers
from typing import Any, Callable

from ._registry import Registry
from ._validation import GlassnetError, check_float, check_int


class Schedule:
    """A learning rate as a pure function of the step, ``schedule(step) -> float``.

    ``Schedule(formula, **numbers)`` calls ``formula(step, **numbers)``; ``formula`` is a
    module-level function, so the schedule pickles by reference.
    """

    __slots__ = ("name", "formula", "params")

    def __init__(self, name: str, formula: Callable[..., float], **params):
        self.name = name
        self.formula = formula
        self.params = params

    def __call__(self, step: int) -> float:
        return self.formula(step, **self.params)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{self.name}({args})"

    def __eq__(self, other) -> bool:
        return (isinstance(other, Schedule) and self.formula is other.formula
                and self.params == other.params)

    def __hash__(self) -> int:
        return hash((self.name, tuple(sorted((k, repr(v)) for k, v in self.params.items()))))

    def __reduce__(self):
        return (_rebuild, (self.name, self.formula, self.params))


def _rebuild(name, formula, params) -> Schedule:
    return Schedule(name, formula, **params)


def _lr(value, name: str = "learning_rate") -> float:
    return check_float(name, value, strictly_positive=True)


# --- the formulas: pure functions of the step ----------------------------------------------------

def _constant(step, *, learning_rate):
    return learning_rate


def _step_decay(step, *, learning_rate, step_size, gamma):
    return learning_rate * gamma ** (step // step_size)


def _exponential(step, *, learning_rate, gamma, decay_steps, staircase):
    power = step // decay_steps if staircase else step / decay_steps
    return learning_rate * gamma ** power


def _inverse_scaling(step, *, learning_rate, power_t, steps_per_epoch, samples_per_epoch):
    if steps_per_epoch is None:
        t = step + 1
    else:  # MLPClassifier: t_ counts the samples of the finished epochs, lr = init / (t_ + 1)^p
        t = (step // steps_per_epoch) * samples_per_epoch + 1
    return learning_rate / t ** power_t


def _cosine(step, *, learning_rate, total_steps, warmup_steps, final_lr):
    if step < warmup_steps:
        return learning_rate * (step + 1) / (warmup_steps + 1)
    if step >= total_steps:
        return final_lr
    ratio = (step - warmup_steps) / (total_steps - warmup_steps)
    return final_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (learning_rate - final_lr)


def _per_epoch(step, *, schedule, steps_per_epoch):
    return schedule(step // steps_per_epoch)


# --- the public constructors -----------------------------------------------------------------

def constant(learning_rate: float) -> Schedule:
    """``lr`` at every step."""
    return Schedule("constant", _constant, learning_rate=_lr(learning_rate))


def step_decay(learning_rate: float, step_size: int, gamma: float = 0.1) -> Schedule:
    """``lr * gamma ** (step // step_size)``: multiply by ``gamma`` every ``step_size`` steps.

    >>> [step_decay(1.0, 2, 0.5)(t) for t in range(5)]
    [1.0, 1.0, 0.5, 0.5, 0.25]
    """
    return Schedule("step_decay", _step_decay, learning_rate=_lr(learning_rate),
                    step_size=check_int("step_size", step_size, minimum=1),
                    gamma=check_float("gamma", gamma, strictly_positive=True))


def exponential(learning_rate: float, gamma: float, decay_steps: int = 1,
                staircase: bool = False) -> Schedule:
    """``lr * gamma ** (step / decay_steps)`` (the exponent floored when ``staircase``).

    With ``decay_steps=1`` this is torch's ExponentialLR; optax's ``exponential_decay``
    with ``transition_steps=decay_steps``.
    """
    return Schedule("exponential", _exponential, learning_rate=_lr(learning_rate),
                    gamma=check_float("gamma", gamma, strictly_positive=True),
                    decay_steps=check_int("decay_steps", decay_steps, minimum=1),
                    staircase=bool(staircase))


def inverse_scaling(learning_rate: float, power_t: float = 0.5, *,
                    steps_per_epoch: int | None = None,
                    samples_per_epoch: int | None = None) -> Schedule:
    """``lr / T ** power_t``: inverse scaling of the learning rate.

    By default ``T = step + 1`` (one tick per update).  Given ``steps_per_epoch`` and
    ``samples_per_epoch`` it is exactly MLPClassifier's ``learning_rate="invscaling"``:
    scikit-learn's ``t_`` counts the *training samples* seen, and is advanced only when an
    epoch ends (``SGDOptimizer.iteration_ends(t_)`` sets ``lr = lr_init / (t_ + 1) **
    power_t``), so every batch of epoch ``e`` (from 0) uses ``lr / (e * n + 1) ** power_t``
    with ``n`` the number of training samples, and the first epoch runs at ``lr`` itself.

    >>> s = inverse_scaling(1.0, 0.5, steps_per_epoch=3, samples_per_epoch=99)
    >>> s(0), s(2), s(3)
    (1.0, 1.0, 0.1)
    """
    power_t = check_float("power_t", power_t, minimum=0.0)
    if (steps_per_epoch is None) != (samples_per_epoch is None):
        raise GlassnetError("inverse_scaling: give both steps_per_epoch and samples_per_epoch "
                            "(scikit-learn's per-sample clock) or neither (one tick per step).")
    if steps_per_epoch is not None:
        steps_per_epoch = check_int("steps_per_epoch", steps_per_epoch, minimum=1)
        samples_per_epoch = check_int("samples_per_epoch", samples_per_epoch, minimum=1)
    return Schedule("inverse_scaling", _inverse_scaling, learning_rate=_lr(learning_rate),
                    power_t=power_t, steps_per_epoch=steps_per_epoch,
                    samples_per_epoch=samples_per_epoch)


def cosine(learning_rate: float, total_steps: int, warmup_steps: int = 0,
           final_lr: float = 0.0) -> Schedule:
    """Linear warm-up to ``learning_rate``, then a half cosine down to ``final_lr``.

    The warm-up is nanoGPT's ``get_lr``: ``lr * (step + 1) / (warmup_steps + 1)``, which
    never gives a zero step; the cosine reaches ``final_lr`` at ``total_steps`` and stays.
    """
    total_steps = check_int("total_steps", total_steps, minimum=1)
    warmup_steps = check_int("warmup_steps", warmup_steps, minimum=0)
    if warmup_steps >= total_steps:
        raise GlassnetError(f"warmup_steps ({warmup_steps}) must be smaller than total_steps "
                            f"({total_steps}).")
    learning_rate = _lr(learning_rate)
    final_lr = check_float("final_lr", final_lr, minimum=0.0)
    if final_lr > learning_rate:
        raise GlassnetError(f"final_lr ({final_lr}) must not exceed learning_rate "
                            f"({learning_rate}).")
    return Schedule("cosine", _cosine, learning_rate=learning_rate, total_steps=total_steps,
                    warmup_steps=warmup_steps, final_lr=final_lr)


def per_epoch(schedule: Callable[[int], float], steps_per_epoch: int) -> Schedule:
    """Drive ``schedule`` by the epoch instead of the step: ``schedule(step // steps_per_epoch)``.

    >>> s = per_epoch(step_decay(1.0, step_size=10, gamma=0.5), steps_per_epoch=4)
    >>> s(39), s(40)
    (1.0, 0.5)
    """
    if not callable(schedule):
        raise GlassnetError(f"per_epoch needs a schedule (a callable of the epoch); got "
                            f"{schedule!r}.")
    return Schedule("per_epoch", _per_epoch, schedule=schedule,
                    steps_per_epoch=check_int("steps_per_epoch", steps_per_epoch, minimum=1))


def as_schedule(learning_rate: Any) -> Callable[[int], float] | float:
    """Validate a learning rate: a positive finite number stays a float, a callable is kept."""
    if callable(learning_rate):
        return learning_rate
    if learning_rate is None:
        raise GlassnetError("learning_rate is missing (got None); expected a positive number "
                            "or a schedule such as glassnet.schedules.cosine(...).")
    if isinstance(learning_rate, bool) or not isinstance(learning_rate, numbers.Real):
        raise GlassnetError(f"learning_rate must be a positive number or a schedule (a callable "
                            f"of the step). Got {learning_rate!r} ({type(learning_rate).__name__}).")
    return _lr(learning_rate)


#: name -> constructor; ``get(name, **params)`` builds one
_ALIASES = {"step": "step_decay", "invscaling": "inverse_scaling",
            "cosine_warmup": "cosine", "warmup_cosine": "cosine"}
_REGISTRY = Registry("schedule", {
    "constant": constant, "step_decay": step_decay, "exponential": exponential,
    "inverse_scaling": inverse_scaling, "cosine": cosine,
}, _ALIASES, unknown="Unknown schedule {key!r}. Valid names: {names} (reduce-on-plateau is "
                     "glassnet.callbacks.ReduceLROnPlateau).")
NAMES = _REGISTRY.names


def get(name: str, **params) -> Schedule:
    """A schedule by name: ``get("cosine", learning_rate=0.1, total_steps=1000)``."""
    key, factory = _REGISTRY.lookup(name)
    try:
        return factory(**params)
    except TypeError as exc:
        raise GlassnetError(f"schedule {key!r}: {exc}") from None
