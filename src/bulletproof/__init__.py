"""bulletproof: make a Python web service hard to break."""

__version__ = "0.1.0"
