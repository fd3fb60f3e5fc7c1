"""Where a backtest's P&L came from: by strategy, asset, regime, hours; costs; sizing; drivers.

Pure functions over the round-trip table (``trades.parquet``: ``symbol, entry_time,
exit_time, quantity`` (signed), ``entry_price, exit_price, pnl`` (net, quote currency),
``costs``, one ``cost_<component>`` column per cost component, ``strategy, exit_reason``).
A trade still open at the end has no ``exit_time`` and its ``pnl`` is marked at the last
close: it counts in every P&L total (the final equity holds it) and is flagged in the
``open_trades`` column; win rates count closed trades only, as backtesting.py does.

Every P&L table has one row per group and the columns :data:`SUMMARY_COLUMNS`: ``trades``
(all, open included), ``open_trades``, ``total_pnl``, ``mean_pnl``, ``win_rate`` (share of
closed trades with ``pnl > 0``; NaN without closed trades) and ``share_of_pnl``
(``total_pnl`` over the whole table's; NaN when that is 0). Every trade falls in exactly one
group, so each table's totals equal the trades' totals.

Time: every timestamp is UTC. Feature frames are indexed by ``(timestamp, symbol)`` where
``timestamp`` is the bar's stamp (its open) and the value is known at the bar's close. A
trade's *decision bar* is the last bar of its symbol whose close is at or before
``entry_time``: with ``bar_length`` given, the last bar with ``timestamp + bar_length <=
entry_time``; without it, the last bar stamped strictly before ``entry_time`` (the engine
fills at a later bar's open, stamped ``entry_time``, and bars do not overlap, so every
earlier bar has closed by then). A value stamped at or after the entry is never used.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from alphaforge.core.errors import DataError
from alphaforge.core.types import Instrument, Interval
from alphaforge.features.panel import PANEL_FEATURES, compute_panel_specs
from alphaforge.features.registry import FEATURES, BarArrays, compute

#: Columns of every P&L table, after the group columns.
SUMMARY_COLUMNS = ("trades", "open_trades", "total_pnl", "mean_pnl", "win_rate", "share_of_pnl")
#: Regime features the regime table reads (``hmm_state_prob_<k>`` and the trend regime).
HMM_PREFIX = "hmm_state_prob_"
TREND_REGIME = "trend_regime_50_200"
#: Prefixes of the 0/1 session flags the trading-hours table reads.
SESSION_PREFIXES = ("sess_", "fx_sess_", "crypto_sess_")
#: Group label of a trade whose value is missing (no bar before entry, warm-up, not computed).
UNKNOWN = "unknown"
#: Group label of a trade entered outside every session its flags describe.
NO_SESSION = "none"

_TRADE_COLUMNS = ("symbol", "entry_time", "exit_time", "pnl")
_TREND_NAMES = {-1.0: "down", 0.0: "flat", 1.0: "up"}


def _check_trades(trades: pd.DataFrame, extra: Sequence[str] = ()) -> None:
    missing = [c for c in (*_TRADE_COLUMNS, *extra) if c not in trades.columns]
    if missing:
        raise DataError(
            f"The trades table lacks column(s) {', '.join(missing)}.",
            hint="Pass the trades.parquet of a backtest run.",
        )
    if trades["entry_time"].isna().any():
        raise DataError(
            "A trade has no entry_time.", hint="Every trade, open or closed, has an entry."
        )


def _utc(values: pd.Series | pd.Index) -> pd.Series:
    """Return timestamps as one UTC nanosecond dtype (merge_asof needs equal dtypes)."""
    stamps = pd.to_datetime(pd.Series(values), utc=True)
    return stamps.astype("datetime64[ns, UTC]").reset_index(drop=True)


def summarize(trades: pd.DataFrame, groups: pd.Series | pd.DataFrame) -> pd.DataFrame:
    """Return the P&L summary of ``trades`` per group (:data:`SUMMARY_COLUMNS`).

    Parameters
    ----------
    trades
        Round trips with ``pnl`` (net, quote currency) and ``exit_time`` (NaT: open).
    groups
        One label per trade (aligned by position), or several columns of labels; a missing
        label becomes :data:`UNKNOWN`, so every trade is in exactly one group.
    """
    _check_trades(trades)
    labels = groups.to_frame() if isinstance(groups, pd.Series) else groups
    labels = labels.reset_index(drop=True).astype(object).where(labels.notna().to_numpy(), UNKNOWN)
    keys = list(labels.columns)
    pnl = pd.to_numeric(trades["pnl"], errors="coerce").to_numpy(np.float64)
    if not np.isfinite(pnl).all():
        raise DataError(
            "A trade's pnl is not a finite number.",
            hint="Open trades are marked at the last close; check the trades table.",
        )
    is_open = trades["exit_time"].isna().to_numpy()
    frame = labels.assign(
        _pnl=pnl,
        _open=is_open.astype(np.int64),
        _closed=(~is_open).astype(np.int64),
        _win=((pnl > 0) & ~is_open).astype(np.int64),
    )
    grouped = frame.groupby(keys, sort=True, dropna=False)
    out = pd.DataFrame(
        {
            "trades": grouped.size(),
            "open_trades": grouped["_open"].sum(),
            "total_pnl": grouped["_pnl"].sum(),
            "mean_pnl": grouped["_pnl"].mean(),
        }
    )
    closed = grouped["_closed"].sum()
    out["win_rate"] = (grouped["_win"].sum() / closed.where(closed > 0)).astype(np.float64)
    total = float(pnl.sum())
    out["share_of_pnl"] = out["total_pnl"] / total if total != 0 else np.nan
    return out.reset_index()


def pnl_by_strategy(trades: pd.DataFrame) -> pd.DataFrame:
    """Return the P&L summary per ``strategy`` tag."""
    _check_trades(trades, ("strategy",))
    return summarize(trades, trades["strategy"].rename("strategy"))


def pnl_by_component(trades: pd.DataFrame, fractions: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Split each trade's P&L by an aggregate's components.

    A trade's P&L is shared in the fractions of the last bar before its entry at which the
    aggregate spoke for the symbol (the bar whose close decided the entry); a trade entered
    with no such bar is ``unattributed``. Over every trade the components' P&L sums to the
    trades' P&L.

    Parameters
    ----------
    trades
        Round trips with ``symbol``, ``entry_time`` (UTC) and ``pnl`` (net, quote currency).
    fractions
        Component -> bars x symbols frame of its fraction of the aggregate signal (decided at
        each bar's close; the fractions of a bar sum to 1).

    Returns
    -------
    pandas.DataFrame
        ``component, trades`` (with a non-zero share), ``total_pnl``, ``share_of_pnl``.
    """
    _check_trades(trades, ("symbol", "entry_time"))
    names = list(fractions)
    pnl = pd.to_numeric(trades["pnl"], errors="coerce").to_numpy(np.float64)
    shares = np.zeros((len(trades), len(names)))
    attributed = np.zeros(len(trades), bool)
    if len(trades) and names:
        long = pd.concat({n: f.stack(future_stack=True) for n, f in fractions.items()}, axis=1)
        values = at_decision(trades, long.dropna(how="all"))[names].to_numpy(np.float64)
        attributed = np.isfinite(values).any(axis=1)
        shares = np.nan_to_num(values)
    split = shares * pnl[:, None]
    rows = [
        {
            "component": name,
            "trades": int(np.count_nonzero(shares[:, k])),
            "total_pnl": float(split[:, k].sum()),
        }
        for k, name in enumerate(names)
    ]
    rest = pnl - split.sum(axis=1)
    if (~attributed).any() or np.abs(rest).max(initial=0.0) > 1e-9 * max(np.abs(pnl).sum(), 1.0):
        rows.append(
            {
                "component": "unattributed",
                "trades": int((~attributed).sum()),
                "total_pnl": float(rest.sum()),
            }
        )
    out = pd.DataFrame(rows, columns=["component", "trades", "total_pnl"])
    total = float(pnl.sum())
    out["share_of_pnl"] = out["total_pnl"] / total if total != 0 else np.nan
    return out


def at_decision(trades: pd.DataFrame, long: pd.DataFrame) -> pd.DataFrame:
    """Return, for each trade (in order), the row of ``long`` decided last before its entry.

    ``long`` is indexed by (bar time, symbol) and holds values decided at each bar's close;
    a trade's entry fills on a later bar, so the row is the last one strictly before its
    ``entry_time`` for its symbol (all NaN where there is none).
    """
    if trades.empty:
        return pd.DataFrame(columns=["row", "symbol", "entry_time", "decided", *long.columns])
    frame = long.copy()
    frame.index = frame.index.set_names(["decided", "symbol"])
    frame = frame.reset_index()
    frame["decided"] = _utc(frame["decided"])
    frame["symbol"] = frame["symbol"].astype(str)
    left = pd.DataFrame(
        {"row": np.arange(len(trades)), "symbol": trades["symbol"].astype(str).to_numpy()}
    )
    left["entry_time"] = _utc(trades["entry_time"]).to_numpy()
    merged = pd.merge_asof(
        left.sort_values("entry_time"),
        frame.sort_values("decided"),
        left_on="entry_time",
        right_on="decided",
        by="symbol",
        allow_exact_matches=False,  # decided at a close strictly before the entry
    ).sort_values("row")
    return merged.reset_index(drop=True)


def pnl_by_group(trades: pd.DataFrame, groups: pd.DataFrame) -> pd.DataFrame:
    """Return the P&L summary per group tag (both legs of a pair trade carry one).

    A trade belongs to the group its symbol had at the last bar before its entry (the bar
    whose close decided it); ``(none)`` where that bar named no group.

    Parameters
    ----------
    trades
        Round trips with ``symbol``, ``entry_time`` and ``pnl``.
    groups
        Bars x symbols of group names, decided at each bar's close: a name, ``""`` for no
        group on a bar the symbol trades, NaN where it has no bar.
    """
    _check_trades(trades, ("symbol", "entry_time"))
    labels = pd.Series(UNKNOWN, index=range(len(trades)), dtype=object)
    if len(trades):
        long = pd.DataFrame({"group": groups.stack(future_stack=True)}).dropna()
        found = at_decision(trades, long)["group"]
        labels = found.where(found.notna() & (found != ""), "(none)")
    return summarize(trades, labels.rename("group"))


def _instrument_field(
    trades: pd.DataFrame, instruments: Mapping[str, Instrument], field: str
) -> pd.Series:
    def value(symbol: str) -> object:
        instrument = instruments.get(symbol)
        if instrument is None:
            return None
        found = getattr(instrument, field)
        return None if found is None else str(found)

    return pd.Series([value(str(s)) for s in trades["symbol"]], name=field, dtype=object)


def pnl_by_asset_class(trades: pd.DataFrame, instruments: Mapping[str, Instrument]) -> pd.DataFrame:
    """Return the P&L summary per asset class (:data:`UNKNOWN` for symbols not given)."""
    _check_trades(trades)
    return summarize(trades, _instrument_field(trades, instruments, "asset_class"))


def pnl_by_sector(trades: pd.DataFrame, instruments: Mapping[str, Instrument]) -> pd.DataFrame:
    """Return the P&L summary per sector (:data:`UNKNOWN` without one: crypto, forex...)."""
    _check_trades(trades)
    return summarize(trades, _instrument_field(trades, instruments, "sector"))


def asof_entry(
    trades: pd.DataFrame,
    frame: pd.DataFrame,
    *,
    bar_length: pd.Timedelta | None = None,
    inclusive: bool = False,
) -> pd.DataFrame:
    """Return, per trade (by position), the row of ``frame`` at its decision bar.

    Parameters
    ----------
    trades
        Round trips with ``symbol`` and ``entry_time`` (UTC).
    frame
        Values indexed by ``(timestamp, symbol)``, ``timestamp`` the bar's stamp (UTC open);
        each value is known at that bar's close.
    bar_length
        When given, a bar closes at ``timestamp + bar_length`` and the decision bar is the
        last one closed at or before ``entry_time``. ``None``: the last bar stamped strictly
        before ``entry_time`` (see the module docstring).
    inclusive
        Take the bar stamped at ``entry_time`` itself (for calendar facts, such as session
        flags, that are known before the bar opens; never for values computed from prices).

    Returns
    -------
    pandas.DataFrame
        One row per trade in order, ``frame``'s columns and ``decision_time`` (the stamp of
        the bar read; NaT and NaN values where the symbol has no such bar).
    """
    _check_trades(trades)
    if list(frame.index.names) != ["timestamp", "symbol"]:
        raise DataError(
            "The feature frame must be indexed by (timestamp, symbol).",
            hint="Index it like oof_predictions.parquet.",
        )
    columns = [str(c) for c in frame.columns]
    if trades.empty:  # a run without trades: nothing to look up (merge_asof needs dtypes)
        empty = pd.DataFrame({c: pd.Series(dtype=np.float64) for c in columns})
        empty["decision_time"] = pd.Series(dtype="datetime64[ns, UTC]")
        return empty
    left = pd.DataFrame(
        {
            "_trade": np.arange(len(trades)),
            "_symbol": trades["symbol"].astype(str).to_numpy(),
            "_at": _utc(trades["entry_time"]).to_numpy(),
        }
    ).sort_values("_at", kind="stable")
    stamps = _utc(frame.index.get_level_values("timestamp"))
    known = stamps + bar_length if bar_length is not None else stamps
    right = pd.DataFrame(frame.to_numpy(), columns=columns)
    right["_symbol"] = frame.index.get_level_values("symbol").astype(str).to_numpy()
    right["decision_time"] = stamps.to_numpy()
    right["_known"] = known.to_numpy()
    right = right.sort_values("_known", kind="stable")
    merged = pd.merge_asof(
        left,
        right,
        left_on="_at",
        right_on="_known",
        by="_symbol",
        direction="backward",
        allow_exact_matches=bar_length is not None or inclusive,
    )
    merged = merged.sort_values("_trade").reset_index(drop=True)
    return merged[[*columns, "decision_time"]]


def regime_labels(values: pd.DataFrame) -> pd.DataFrame:
    """Return the regime of each row: the argmax HMM state and the 50/200 trend regime.

    ``hmm_state``: ``state_<k>`` for the largest ``hmm_state_prob_<k>`` (NaN when they are
    all missing); ``trend_regime_50_200``: ``up``, ``flat`` or ``down``. Columns absent from
    ``values`` are left out.
    """
    out = pd.DataFrame(index=values.index)
    hmm = sorted(c for c in values.columns if str(c).startswith(HMM_PREFIX))
    if hmm:
        probs = values[hmm].to_numpy(np.float64)
        known = np.isfinite(probs).any(axis=1)
        best = np.argmax(np.where(np.isfinite(probs), probs, -np.inf), axis=1)
        states = np.array([f"state_{str(c)[len(HMM_PREFIX) :]}" for c in hmm], dtype=object)
        state = states[best]
        state[~known] = None
        out["hmm_state"] = state
    if TREND_REGIME in values.columns:
        out[TREND_REGIME] = values[TREND_REGIME].map(_TREND_NAMES).astype(object)
    return out


def pnl_by_regime(
    trades: pd.DataFrame, regimes: pd.DataFrame, *, bar_length: pd.Timedelta | None = None
) -> pd.DataFrame:
    """Return the P&L summary per regime at each trade's decision bar.

    Parameters
    ----------
    trades
        Round trips.
    regimes
        ``(timestamp, symbol)``-indexed values of ``hmm_state_prob_*`` and/or
        ``trend_regime_50_200`` (:func:`entry_features` computes them), each known at its
        bar's close and read as-of the decision bar (:func:`asof_entry`), never later.
    bar_length
        See :func:`asof_entry`.

    Returns
    -------
    pandas.DataFrame
        Columns ``regime`` (``hmm_state`` or ``trend_regime_50_200``), ``state``, then
        :data:`SUMMARY_COLUMNS`; each regime's rows cover every trade once.
    """
    labels = regime_labels(asof_entry(trades, regimes, bar_length=bar_length))
    if labels.columns.empty:
        raise DataError(
            f"The regime frame has neither {HMM_PREFIX}* nor {TREND_REGIME} columns.",
            hint="Compute it with alphaforge.backtest.attribution.entry_features.",
        )
    tables = []
    for regime in labels.columns:
        table = summarize(trades, labels[regime].rename("state"))
        table.insert(0, "regime", regime)
        tables.append(table)
    return pd.concat(tables, ignore_index=True)


def session_labels(flags: pd.DataFrame) -> pd.Series:
    """Return the sessions a row falls in: the 0/1 session flags at 1, joined by ``+``.

    :data:`NO_SESSION` when every known flag is 0, NaN when none is known (daily bars, an
    asset class without session features).
    """
    names = [c for c in flags.columns if str(c).startswith(SESSION_PREFIXES)]
    if not names:
        return pd.Series(np.full(len(flags), None, dtype=object), index=flags.index)
    values = flags[names].to_numpy(np.float64)
    known = np.isfinite(values).any(axis=1)
    labels = [
        "+".join(str(n) for n, v in zip(names, row, strict=True) if v == 1.0) or NO_SESSION
        for row in values
    ]
    result = np.array(labels, dtype=object)
    result[~known] = None
    return pd.Series(result, index=flags.index)


def pnl_by_session(trades: pd.DataFrame, sessions: pd.DataFrame) -> pd.DataFrame:
    """Return the P&L summary per trading session at entry.

    ``sessions`` holds ``(timestamp, symbol)``-indexed 0/1 flags (``sess_*``, ``fx_sess_*``,
    ``crypto_sess_*``; :func:`entry_features`). A flag is a fact of the bar's clock time,
    known before the bar opens, so a trade's session is its entry bar's (the bar stamped at
    ``entry_time``, or the last before it): the hours it was entered in. The ``session``
    column joins the flags at 1 with ``+`` (overlaps, such as London and New York, are their
    own group), :data:`NO_SESSION` outside all of them, :data:`UNKNOWN` without flags.
    """
    at_entry = asof_entry(trades, sessions, inclusive=True)
    return summarize(trades, session_labels(at_entry).rename("session"))


def costs_by_component(trades: pd.DataFrame) -> pd.DataFrame:
    """Return each cost component's total, mean per trade and share of all costs.

    Reads the ``cost_<component>`` columns (quote currency, charged to the trade, open
    trades included). ``share_of_costs`` is over the components' sum (NaN when it is 0).
    """
    _check_trades(trades)
    columns = [c for c in trades.columns if str(c).startswith("cost_")]
    totals = trades[columns].apply(pd.to_numeric).sum() if columns else pd.Series(dtype=float)
    all_costs = float(totals.sum())
    return pd.DataFrame(
        {
            "component": [str(c)[len("cost_") :] for c in columns],
            "total": totals.to_numpy(np.float64),
            "mean_per_trade": totals.to_numpy(np.float64) / max(len(trades), 1),
            "share_of_costs": totals.to_numpy(np.float64) / all_costs if all_costs else np.nan,
        }
    )


def sizing_chain(audit: pd.DataFrame) -> pd.DataFrame:
    """Return what each sizing or risk step added to or took from the orders' sizes.

    Parameters
    ----------
    audit
        One row per step of an order's sizing chain: ``step``, ``before`` and ``after``
        (signed units), and optionally ``price`` (quote currency per unit) to value them.

    Returns
    -------
    pandas.DataFrame
        One row per step in order of first appearance: ``orders`` (rows), ``changed``
        (rows whose size moved), ``units_added`` and ``units_taken`` (sums of the increases
        and decreases of ``|quantity|``, the latter <= 0) and ``net_units``; with a price,
        the same in notional (``notional_added``, ``notional_taken``, ``net_notional``).
    """
    missing = [c for c in ("step", "before", "after") if c not in audit.columns]
    if missing:
        raise DataError(
            f"The sizing table lacks column(s) {', '.join(missing)}.",
            hint="Pass one row per sizing step with step, before and after.",
        )
    before = pd.to_numeric(audit["before"]).to_numpy(np.float64)
    after = pd.to_numeric(audit["after"]).to_numpy(np.float64)
    change = np.abs(after) - np.abs(before)
    frame = pd.DataFrame(
        {
            "step": audit["step"].astype(str).to_numpy(),
            "orders": 1,
            "changed": (change != 0).astype(np.int64),
            "units_added": np.maximum(change, 0.0),
            "units_taken": np.minimum(change, 0.0),
            "net_units": change,
        }
    )
    if "price" in audit.columns:
        notional = change * pd.to_numeric(audit["price"]).to_numpy(np.float64)
        frame["notional_added"] = np.maximum(notional, 0.0)
        frame["notional_taken"] = np.minimum(notional, 0.0)
        frame["net_notional"] = notional
    return frame.groupby("step", sort=False).sum().reset_index()


def trade_drivers(
    trades: pd.DataFrame,
    contributions: pd.DataFrame,
    top: int = 5,
    *,
    bar_length: pd.Timedelta | None = None,
) -> pd.DataFrame:
    """Return, per trade, the ``top`` features behind the model's call at its decision bar.

    Parameters
    ----------
    trades
        Round trips.
    contributions
        ``oof_contributions.parquet``: ``(timestamp, symbol)``-indexed per-feature
        contributions and ``bias``, optionally a ``model`` column (one set per model).
    top
        Features kept per trade (and model), by largest ``|contribution|``.
    bar_length
        See :func:`asof_entry`: the contributions are read at the decision bar, never later.

    Returns
    -------
    pandas.DataFrame
        Tidy: ``trade`` (the trade's position in ``trades``), ``symbol``, ``entry_time``,
        ``decision_time``, ``model`` (when given), ``rank`` (1 = largest), ``feature`` and
        ``contribution``. A trade without a scored bar before its entry has no rows.
    """
    if top < 1:
        raise DataError(f"top must be at least 1; got {top}.", hint="Ask for top >= 1.")
    _check_trades(trades)
    by_model = (
        {str(m): rows.drop(columns="model") for m, rows in contributions.groupby("model")}
        if "model" in contributions.columns
        else {"": contributions}
    )
    pieces = []
    for model, frame in by_model.items():
        features = [c for c in frame.columns if c != "bias"]
        at_entry = asof_entry(trades, frame[features], bar_length=bar_length)
        values = at_entry[features].to_numpy(np.float64)
        found = at_entry["decision_time"].notna().to_numpy()
        keep = min(top, len(features))
        order = np.argsort(-np.abs(np.nan_to_num(values, nan=0.0)), axis=1, kind="stable")
        order = order[:, :keep]
        rows = np.repeat(np.flatnonzero(found), keep)
        ranks = np.tile(np.arange(1, keep + 1), int(found.sum()))
        picked = order[found].ravel()
        piece = pd.DataFrame(
            {
                "trade": rows,
                "symbol": trades["symbol"].to_numpy()[rows],
                "entry_time": _utc(trades["entry_time"]).to_numpy()[rows],
                "decision_time": at_entry["decision_time"].to_numpy()[rows],
                "model": model,
                "rank": ranks,
                "feature": np.asarray(features, dtype=object)[picked],
                "contribution": values[rows, picked],
            }
        )
        pieces.append(piece)
    out = pd.concat(pieces, ignore_index=True).sort_values(["trade", "model", "rank"])
    if "model" not in contributions.columns:
        out = out.drop(columns="model")
    return out.reset_index(drop=True)


def _session_names(arrays: BarArrays) -> list[str]:
    """Return the 0/1 session flags that apply to these bars (intraday, its asset class)."""
    return [
        name
        for name in FEATURES.names()
        if name.startswith(SESSION_PREFIXES)
        and name != "sess_progress"
        and FEATURES.get(name).applies_to(arrays)
    ]


def entry_features(
    bars_by_symbol: Mapping[str, pd.DataFrame],
    instruments: Mapping[str, Instrument] | None = None,
    *,
    interval: Interval | None = None,
) -> pd.DataFrame:
    """Return the regime and session feature values of every bar, for attribution.

    Columns: ``hmm_state_prob_0``, ``hmm_state_prob_1`` (panel features: a 2-state HMM on
    the panel's benchmark returns, :mod:`alphaforge.features.panel_library`),
    ``trend_regime_50_200`` and the session flags that apply to each symbol (``sess_*``
    for intraday stocks and ETFs, ``fx_sess_*`` for intraday forex, ``crypto_sess_*`` for
    intraday crypto; NaN elsewhere). Computed by the feature registry exactly as training
    computes them, so each value is known at its bar's close (warm-up rows are NaN).

    Parameters
    ----------
    bars_by_symbol
        Canonical bars per symbol (UTC index at bar open).
    instruments
        ``symbol -> Instrument``: asset classes for the session flags and which symbols are
        index inputs (the HMM's benchmark is ``^GSPC``, else ``SPY``, else the members'
        equal-weight return).
    interval
        The bars' interval (default: inferred per series).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``(timestamp, symbol)`` (bar stamp, UTC), for :func:`pnl_by_regime` and
        :func:`pnl_by_session`.
    """
    instruments = instruments or {}
    intervals = dict.fromkeys(bars_by_symbol, interval) if interval is not None else None
    hmm = [PANEL_FEATURES.get(n) for n in PANEL_FEATURES.names() if n.startswith(HMM_PREFIX)]
    panel = compute_panel_specs(bars_by_symbol, hmm, instruments=instruments, intervals=intervals)
    frames = []
    for symbol, bars in bars_by_symbol.items():
        instrument = instruments.get(symbol)
        names = [TREND_REGIME, *_session_names(BarArrays.from_frame(bars, instrument))]
        own = compute(bars, names, instrument=instrument)
        regime = panel.get(symbol)
        if regime is not None:
            own = pd.concat([regime, own], axis=1)
        own.index = pd.MultiIndex.from_arrays(
            [own.index, np.full(len(own), symbol, dtype=object)], names=["timestamp", "symbol"]
        )
        frames.append(own)
    return pd.concat(frames).sort_index()


__all__ = [
    "NO_SESSION",
    "SUMMARY_COLUMNS",
    "UNKNOWN",
    "asof_entry",
    "at_decision",
    "costs_by_component",
    "entry_features",
    "pnl_by_asset_class",
    "pnl_by_component",
    "pnl_by_group",
    "pnl_by_regime",
    "pnl_by_sector",
    "pnl_by_session",
    "pnl_by_strategy",
    "regime_labels",
    "session_labels",
    "sizing_chain",
    "summarize",
    "trade_drivers",
]
