"""Regime filters: one file per filter, each registered in ``FILTERS`` on import."""
