"""glassnet: a from-scratch NumPy MLP library that shows why a network learns, or doesn't."""
from . import activations, initializers, losses, optimizers
from ._validation import GlassnetError
from .initializers import SymmetryWarning
from .io import load
from .network import Network
from .neuro import Neuro
from .training import History

__version__ = "0.1.0"

__all__ = ["Network", "Neuro", "History", "GlassnetError", "SymmetryWarning", "load", "activations",
           "initializers", "losses", "optimizers", "__version__"]
