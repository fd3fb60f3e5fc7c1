"""regime features (being filled in)."""
