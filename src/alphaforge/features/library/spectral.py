"""spectral features (being filled in)."""
