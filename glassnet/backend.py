"""Which code trains a network: NumPy (the reference) or compiled Numba kernels.

``Network(..., backend="auto" | "numpy" | "numba")`` chooses; without the argument the
environment variable ``GLASSNET_BACKEND`` does, and without that ``"auto"``: Numba when it
is installed (``pip install glassnet[fast]``), NumPy otherwise.  ``net.backend`` says which
one the network trains with.  The backend is a choice of this process, not a property of
the model: model files do not store it, and a network pickled with ``"numba"`` loads (with
NumPy) where Numba is missing.

The NumPy code stays the reference: the Numba kernels (:mod:`glassnet._numba`) compute the
same arithmetic, and every part they do not cover (an activation, loss, optimizer or
option without a kernel) runs the NumPy code for that part.  Nothing here imports Numba:
``"auto"`` only asks whether it could be imported, and the kernels are compiled (or loaded
from Numba's disk cache) on a network's first training step.

>>> resolve("numpy")
'numpy'
"""
from __future__ import annotations

import importlib.util
import os
import weakref

from ._validation import GlassnetError

#: the environment variable read when ``Network(backend=...)`` is not given
ENV_VAR = "GLASSNET_BACKEND"
NAMES = ("auto", "numpy", "numba")


def numba_available() -> bool:
    """True when Numba (and SciPy, whose BLAS Numba's ``np.dot`` calls) can be imported."""
    return _find("numba") and _find("scipy")


def _find(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def requested(spec=None) -> str:
    """The backend asked for: ``spec``, else ``$GLASSNET_BACKEND``, else ``"auto"`` (checked)."""
    where = "backend"
    if spec is None:
        spec, where = os.environ.get(ENV_VAR) or "auto", f"the environment variable {ENV_VAR}"
    name = spec.strip().lower() if isinstance(spec, str) else None
    if name not in NAMES:
        raise GlassnetError(f"The {where!s} must be one of {list(NAMES)}. Got {spec!r} instead.")
    return name


def resolve(spec=None) -> str:
    """``"numpy"`` or ``"numba"``: the backend that ``spec`` (or the environment) selects here.

    ``"numba"`` without Numba installed is an error that says how to install it.
    """
    name = requested(spec)
    if name == "auto":
        return "numba" if numba_available() else "numpy"
    if name == "numba" and not numba_available():
        missing = "numba" if not _find("numba") else "scipy"
        raise GlassnetError(f"backend='numba' needs the {missing} package, which is not "
                            "installed: pip install 'glassnet[fast]' (Numba and SciPy), or use "
                            "backend='numpy' (or 'auto', which picks Numba only when it is "
                            "installed).")
    return name


def describe() -> str:
    """One line for ``glassnet info`` and the benchmarks: the backend a network built now
    would train with, and why."""
    try:
        name = resolve(None)
    except GlassnetError as exc:
        return f"none: {exc}"
    why = f" (from {ENV_VAR}={os.environ[ENV_VAR]})" if os.environ.get(ENV_VAR) else ""
    if name == "numba":
        from importlib.metadata import version
        try:
            return f"numba (Numba {version('numba')}){why}"
        except Exception:        # metadata missing: an unusual install, still importable
            return f"numba{why}"
    if numba_available():
        return f"numpy{why}"
    return f"numpy{why} (Numba not installed: pip install 'glassnet[fast]' for compiled kernels)"


def kernels_for(net):
    """The compiled kernels for ``net``, or None for the NumPy backend (nothing is imported
    or compiled until the first training step)."""
    if net.backend != "numba":
        return None
    return _Lazy(net)


class _Lazy:
    """Stands in for :class:`glassnet._numba.Kernels` until the first step needs it."""

    __slots__ = ("ref",)

    def __init__(self, net):
        # a weak reference: the network holds its kernels, and a cycle would keep
        # short-lived networks (trace's twins) alive until the next garbage collection
        self.ref = weakref.ref(net)

    def load(self):
        from . import _numba
        net = self.ref()
        kernels = _numba.Kernels(net)
        net._kernels = kernels
        return kernels

    def train_batch(self, x, y, sw=None, factor=1.0):
        return self.load().train_batch(x, y, sw, factor)

    def step_gradients(self, x, y, sw=None, factor=1.0):
        return self.load().step_gradients(x, y, sw, factor)

    def fused_update(self, opt, state):
        return self.load().fused_update(opt, state)

    def prepare(self):
        return self.load().prepare()

    def fit_step(self, batches, linear):
        return self.load().fit_step(batches, linear)

    def parts(self):
        return self.load().parts()
