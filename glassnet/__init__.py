"""glassnet: a from-scratch NumPy MLP library that shows why a network learns, or doesn't."""
from . import activations, callbacks, initializers, losses, metrics, optimizers, schedules
from . import doctor
from ._validation import GlassnetError
from .convert import from_npz, from_sklearn, from_torch
from .initializers import SymmetryWarning
from .io import WriteError, load
from .network import Network
from .neuro import Neuro
from .training import DivergenceError, History, fit, partial_fit

__version__ = "0.1.0"

__all__ = ["Network", "Neuro", "History", "GlassnetError", "DivergenceError", "WriteError",
           "SymmetryWarning",
           "fit", "partial_fit", "load", "activations", "callbacks", "initializers", "losses",
           "metrics", "optimizers", "schedules", "doctor", "from_sklearn", "from_torch",
           "from_npz", "__version__"]
