"""glassnet: a from-scratch NumPy MLP library that shows why a network learns, or doesn't."""
from . import activations, callbacks, initializers, losses, metrics, optimizers, schedules
from . import doctor
from ._validation import GlassnetError, UnscaledInputWarning
from ._version import __version__
from .convert import from_npz, from_sklearn, from_torch
from .export import to_onnx, to_sklearn, to_torch
from .initializers import SymmetryWarning
from .io import WriteError, load
from .network import Network
from .neuro import Neuro
from .training import DivergenceError, History, fit, partial_fit

# the learning-rate callback is also reachable as a schedule: glassnet.schedules.reduce_on_plateau
# (schedules sit below callbacks, so the package wires the alias rather than schedules importing up)
schedules.reduce_on_plateau = callbacks.ReduceLROnPlateau

__all__ = ["Network", "Neuro", "History", "GlassnetError", "DivergenceError", "WriteError",
           "SymmetryWarning", "UnscaledInputWarning",
           "fit", "partial_fit", "load", "activations", "callbacks", "initializers", "losses",
           "metrics", "optimizers", "schedules", "doctor", "from_sklearn", "from_torch",
           "from_npz", "to_onnx", "to_torch", "to_sklearn", "__version__"]
