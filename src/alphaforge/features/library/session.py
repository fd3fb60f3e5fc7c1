"""session features (being filled in)."""
