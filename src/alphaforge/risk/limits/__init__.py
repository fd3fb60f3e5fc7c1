"""Limits: one file per limit, each registered in ``LIMITS`` when this package is imported."""
