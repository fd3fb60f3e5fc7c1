"""fracdiff features (being filled in)."""
