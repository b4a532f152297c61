"""The version of glassnet (one place; the package, model files and reports read it)."""

__version__ = "0.1.0"
