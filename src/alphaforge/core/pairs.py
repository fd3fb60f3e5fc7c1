"""Currency-pair spelling (EURUSD, EUR/USD, EURUSD=X), shared by forex costs and strategies."""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=4096)
def normalize_pair(symbol: str) -> str | None:
    """Return ``symbol`` as six upper-case letters (``EURUSD``), or None if it is no pair.

    Accepts ``EURUSD``, ``eur/usd``, ``EUR-USD``, ``EUR_USD`` and Yahoo's ``EURUSD=X``.
    """
    text = symbol.strip().upper()
    text = text.removesuffix("=X")
    for sep in ("/", "-", "_", " ", "."):
        text = text.replace(sep, "")
    if len(text) == 6 and text.isalpha():
        return text
    return None


def rates_by_pair(rates: dict[str, float]) -> dict[str, float]:
    """Return a pair -> rate mapping keyed by the pairs' normal spelling; a key that is no
    currency pair raises ValueError (pydantic turns it into a one-line config error)."""
    out: dict[str, float] = {}
    for pair, rate in rates.items():
        key = normalize_pair(pair)
        if key is None:
            raise ValueError(f"{pair!r} is not a currency pair")
        out[key] = rate
    return out


__all__ = ["normalize_pair", "rates_by_pair"]
