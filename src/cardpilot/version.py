"""The package version, in a module of its own so entry points read it without the notebook API."""

__version__ = "0.1.0"
