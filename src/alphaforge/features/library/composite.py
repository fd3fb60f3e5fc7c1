"""composite features (being filled in)."""
