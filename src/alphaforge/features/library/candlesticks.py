"""candlesticks features (being filled in)."""
