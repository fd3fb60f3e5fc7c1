"""AlphaForge: a leakage-proof, multi-asset machine-learning trading system for one PC."""

__version__ = "0.1.0"

__all__ = ["__version__"]
