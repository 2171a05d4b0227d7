"""Tremplin: health-system innovations from experimentation to impact."""

__version__ = "0.1.0"
