"""calendar features (being filled in)."""
