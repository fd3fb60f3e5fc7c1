"""Sizers: one file per sizer, each registered in ``SIZERS`` when this package is imported."""
