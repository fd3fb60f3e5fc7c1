"""Pre-trade risk: every order intent is approved, resized or refused, with a reason.

This is the base layer every book passes: buying power and the instrument's lot and tick
sizes. Limits, stops and breakers plug in beside it (the portfolio and risk issue). Nothing
here knows whether a backtest or a broker is behind the account.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Literal, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from alphaforge.core.orders import OrderIntent
from alphaforge.core.types import Instrument

FloatArray = npt.NDArray[np.float64]

#: Relative slack on limits so float noise in a sized order does not trip them.
_SLACK = 1e-9


@dataclass(frozen=True, slots=True)
class AccountView:
    """What the risk layer may know about the account, at the prices orders will fill at.

    ``positions`` and ``prices`` are keyed by symbol; amounts in the account currency.
    ``whole_units`` says whether the book trades whole units (then quantities are rounded to
    the instrument's lots) or fractional ones (quantities are left as sized).
    ``gross_exposure`` is ``sum(abs(units) * price)`` over ``positions`` (a position without a
    price counts zero), summed in the order of ``positions``, when the caller has it at hand
    (the backtest keeps positions as arrays); None: computed here from the two mappings.
    """

    equity: float
    cash: float
    positions: Mapping[str, float]
    prices: Mapping[str, float]
    whole_units: bool = True
    gross_exposure: float | None = None


@dataclass(frozen=True, slots=True)
class BaseReview:
    """The risk layer's answer to one intent: the approved intent (maybe resized) or none."""

    intent: OrderIntent
    action: Literal["approve", "resize", "refuse"]
    approved: OrderIntent | None
    check: str = ""
    reason: str = ""


class OrderReviewer(Protocol):
    """Approves, resizes or refuses order intents (the engine's view of a risk layer)."""

    def review(self, intents: Sequence[OrderIntent], account: AccountView) -> list[BaseReview]:
        """Return one decision per intent, in order."""
        ...


@runtime_checkable
class BatchReviewer(Protocol):
    """A risk manager that can clear a batch of plain market orders from arrays at once.

    The backtest trades a few hundred names per bar; when every order passes unchanged it need
    not build a decision per order. Anything else goes through :meth:`OrderReviewer.review`.
    """

    def approves_market_batch(
        self,
        symbols: Sequence[str],
        quantities: FloatArray,
        held: FloatArray,
        prices: FloatArray,
        account: AccountView,
    ) -> bool:
        """Return True when ``review`` would approve all these market intents as asked."""
        ...


class BasicRiskManager:
    """Lot and tick rounding, then buying power (gross exposure <= ``max_leverage`` x equity).

    Lots are rounded toward zero only for a whole-unit book (``AccountView.whole_units``); a
    fractional book trades the quantity as sized. Prices are always rounded to the tick.

    Orders that only reduce a position are never cut by buying power. Intents are reviewed in
    order, each against the book left by the ones approved before it.
    """

    def __init__(self, instruments: Mapping[str, Instrument], max_leverage: float) -> None:
        self.instruments = instruments
        self.max_leverage = max_leverage

    def review(self, intents: Sequence[OrderIntent], account: AccountView) -> list[BaseReview]:
        """Return one decision per intent."""
        positions, prices = account.positions, account.prices
        gross = account.gross_exposure
        if gross is None:
            gross = sum(abs(q) * prices.get(s, 0.0) for s, q in positions.items())
        limit = self.max_leverage * max(account.equity, 0.0) * (1.0 + _SLACK)
        # The book as the intents approved so far leave it: only their symbols are looked up,
        # so the account's positions are read, never copied.
        changed: dict[str, float] = {}
        decisions: list[BaseReview] = []
        for intent in intents:
            symbol = intent.symbol
            q0 = changed[symbol] if symbol in changed else positions.get(symbol, 0.0)
            decision = self._review_one(intent, q0, gross, limit, account)
            decisions.append(decision)
            if decision.approved is not None:
                q1 = q0 + decision.approved.quantity
                price = prices.get(symbol, 0.0)
                gross += (abs(q1) - abs(q0)) * price
                changed[symbol] = q1
        return decisions

    def approves_market_batch(
        self,
        symbols: Sequence[str],
        quantities: FloatArray,
        held: FloatArray,
        prices: FloatArray,
        account: AccountView,
    ) -> bool:
        """Return True when :meth:`review` would approve every intent unchanged ("approve").

        The intents are market orders without prices, brackets or groups, one per symbol
        (``symbols`` distinct), reviewed in the given order. ``quantities`` are the signed
        units asked, ``held`` the units held now and ``prices`` the prices of ``account``
        (NaN where none), aligned with ``symbols``. The same checks as :meth:`review` run on
        arrays, with the same float operations in the same order: False as soon as any intent
        would be rounded, resized or refused, and then the caller asks :meth:`review`, which
        gives the reasons.
        """
        q = np.asarray(quantities, np.float64)
        if q.size == 0:
            return True
        if account.whole_units:
            lot = np.array([self._lot_size(symbol) for symbol in symbols], dtype=np.float64)
            rounds = lot > 0
            if rounds.any():
                lots = q[rounds] / lot[rounds]
                nearest = np.round(lots)  # half to even, as Python's round
                whole = np.where(
                    np.abs(lots - nearest) > _SLACK,
                    np.floor(np.abs(lots) + _SLACK),
                    np.abs(nearest),
                )
                if not np.array_equal(np.copysign(whole * lot[rounds], q[rounds]), q[rounds]):
                    return False
        if not (q != 0).all():
            return False
        p = np.asarray(prices, np.float64)
        if not (np.isfinite(p) & (p > 0)).all():
            return False
        q0 = np.asarray(held, np.float64)
        added = (np.abs(q0 + q) - np.abs(q0)) * p
        gross = account.gross_exposure
        if gross is None:
            gross = sum(abs(u) * account.prices.get(s, 0.0) for s, u in account.positions.items())
        limit = self.max_leverage * max(account.equity, 0.0) * (1.0 + _SLACK)
        # Gross exposure before each intent: a running sum, added one intent at a time.
        before = np.cumsum(np.concatenate([[gross], added]))[:-1]
        return not ((added > 0) & (before + added > limit)).any()

    def _lot_size(self, symbol: str) -> float:
        instrument = self.instruments.get(symbol)
        return instrument.lot_size if instrument is not None else 0.0

    def _review_one(
        self,
        intent: OrderIntent,
        q0: float,
        gross: float,
        limit: float,
        account: AccountView,
    ) -> BaseReview:
        instrument = self.instruments.get(intent.symbol)
        approved = intent
        check, reason = "", ""
        if instrument is not None:
            approved, check, reason = _round_to_instrument(intent, instrument, account.whole_units)
        if approved.quantity == 0:
            return BaseReview(
                intent, "refuse", None, check or "lot_size", reason or "zero quantity"
            )
        price = account.prices.get(intent.symbol, math.nan)
        if not (math.isfinite(price) and price > 0):
            return BaseReview(intent, "refuse", None, "price", "no price to value the order at")
        q1 = q0 + approved.quantity
        added = (abs(q1) - abs(q0)) * price
        if added > 0 and gross + added > limit:
            # The position may grow (or, reversing, re-open) only by what buying power leaves.
            new_abs = abs(q0) + max(limit - gross, 0.0) / price
            lot = instrument.lot_size if instrument is not None and account.whole_units else 0.0
            if lot > 0:
                new_abs = math.floor(new_abs / lot + _SLACK) * lot
            new_q = math.copysign(new_abs, q1)
            quantity = new_q - q0
            if quantity == 0 or quantity * approved.quantity < 0:
                return BaseReview(
                    intent,
                    "refuse",
                    None,
                    "buying_power",
                    f"gross exposure {gross + added:,.2f} would exceed {limit:,.2f}",
                )
            resized = approved.resized(quantity, "buying_power", f"cut to {limit:,.2f} gross")
            return BaseReview(
                intent,
                "resize",
                resized,
                "buying_power",
                f"cut from {approved.quantity:g} to {quantity:g} units by buying power",
            )
        if approved is not intent:
            return BaseReview(intent, "resize", approved, check, reason)
        return BaseReview(intent, "approve", approved)


def _round_to_instrument(
    intent: OrderIntent, instrument: Instrument, round_lots: bool
) -> tuple[OrderIntent, str, str]:
    """Round the quantity toward zero to whole lots (if ``round_lots``) and prices to the tick."""
    out = intent
    check, reason = "", ""
    lot = instrument.lot_size if round_lots else 0.0
    if lot > 0:
        lots = intent.quantity / lot
        # Tolerate float noise: 2.9999999999 lots is 3 lots.
        whole = (
            math.floor(abs(lots) + _SLACK) if abs(lots - round(lots)) > _SLACK else abs(round(lots))
        )
        quantity = math.copysign(whole * lot, intent.quantity)
        if math.isclose(quantity, intent.quantity, rel_tol=1e-12):
            if quantity != intent.quantity:
                # Float noise only: snap to the lot without calling it a resize.
                out = replace(out, quantity=quantity)
        else:
            out = out.resized(quantity, "lot_size", f"rounded to lots of {lot:g}")
            check, reason = "lot_size", f"rounded {intent.quantity:g} to {quantity:g} (lot {lot:g})"
    tick = instrument.tick_size
    if tick > 0 and (out.limit_price is not None or out.stop_price is not None):
        prices = {}
        for name in ("limit_price", "stop_price"):
            value = getattr(out, name)
            if value is not None:
                rounded = round(round(value / tick) * tick, 12)
                if rounded != value and rounded > 0:
                    prices[name] = rounded
        if prices:
            out = replace(out, **prices)
            check = check or "tick_size"
            reason = (reason + "; " if reason else "") + f"prices rounded to tick {tick:g}"
    return out, check, reason


__all__ = ["AccountView", "BaseReview", "BasicRiskManager", "BatchReviewer", "OrderReviewer"]
