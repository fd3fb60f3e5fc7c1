"""The audit record of the risk layer: one :class:`RiskDecision` per resize or refusal.

The backtest writes them to ``audit.parquet``; live trading writes them to its ledger. The
record says which piece acted, by which rule, the bound and the value it observed, and the
order's quantity before and after.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import pandas as pd


@dataclass(frozen=True, slots=True)
class RiskDecision:
    """One resize or refusal of an order intent.

    Parameters
    ----------
    time
        When the intent was reviewed (UTC).
    symbol, intent_id
        The order's instrument and the id of its intent.
    piece
        ``kind.name`` of what acted: ``limit.position``, ``breaker.daily_loss``,
        ``filter.vix``, ``stop.atr``, ``base.buying_power``, ``base.lot_size`` ...
    rule
        The rule in words (``position <= 10 % of equity``).
    limit, observed
        The rule's bound and the value the intent would have given as asked, in the rule's
        unit (a fraction of equity, a count, a level of the VIX); NaN where not numeric.
    before, after
        The order's signed units before and after this piece (``after == 0``: refused).
    reason
        One line for a person.
    """

    time: pd.Timestamp
    symbol: str
    intent_id: str
    piece: str
    rule: str
    limit: float
    observed: float
    before: float
    after: float
    reason: str

    @property
    def action(self) -> str:
        """Return ``refuse`` when nothing is left of the order, else ``resize``.

        (The backtest also writes ``trim`` rows: a rebalance target cut to a limit, see
        ``RiskManager.trim_targets``.)
        """
        return "refuse" if self.after == 0 else "resize"

    def row(self) -> dict[str, object]:
        """Return the record as a flat row (with ``action``)."""
        out: dict[str, object] = asdict(self)
        out["action"] = self.action
        return out


#: Columns of the audit table, in order.
AUDIT_COLUMNS = (
    "time",
    "symbol",
    "intent_id",
    "action",
    "piece",
    "rule",
    "limit",
    "observed",
    "before",
    "after",
    "reason",
    "strategy",
)


def audit_frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    """Return audit rows as a table with :data:`AUDIT_COLUMNS` (empty table when none)."""
    frame = pd.DataFrame(rows, columns=list(AUDIT_COLUMNS))
    for name in ("limit", "observed", "before", "after"):
        frame[name] = frame[name].astype("float64")
    return frame


__all__ = ["AUDIT_COLUMNS", "RiskDecision", "audit_frame"]
