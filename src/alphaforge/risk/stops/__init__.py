"""Stop rules: one file per rule, each registered in ``STOPS`` when this package is imported."""
