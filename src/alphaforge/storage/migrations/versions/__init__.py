"""Revisions of the trading ledger's schema, oldest first (``0001``, ``0002`` ...)."""
