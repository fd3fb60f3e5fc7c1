"""Currency-pair spelling shared by the forex cost models (EURUSD, EUR/USD, EURUSD=X)."""

from __future__ import annotations

from alphaforge.core.errors import DataError
from alphaforge.core.pairs import normalize_pair


def require_pair(symbol: str, model: str) -> str:
    """Return the normalized pair of ``symbol``; a symbol that is no pair is a DataError."""
    pair = normalize_pair(symbol)
    if pair is None:
        raise DataError(
            f"Cost model {model!r} needs a currency pair, got symbol {symbol!r}.",
            hint="Charge forex cost models to the forex asset class only (backtest.costs.forex).",
        )
    return pair


def pip_size(pair: str) -> float:
    """Return one pip of ``pair`` in its quote currency: 0.01 if quoted in JPY, else 0.0001."""
    return 0.01 if pair[3:] == "JPY" else 0.0001


__all__ = ["normalize_pair", "pip_size", "require_pair"]
