"""Market overview: regime, breadth, sector rotation and VIX from the stored panel features,
the trading sessions of the current UTC day, and sentiment once its tables exist.

The panel features are read as ``alphaforge features build`` stored them
(:meth:`~alphaforge.features.store.FeatureStore.stored_panels`); the page computes nothing
from bars. Market-wide features (regime, breadth, VIX) hold the same value for every member
of a universe, up to each member's own calendar; the page draws their mean over the members
at each bar. Session hours are the ones the session features use
(:mod:`alphaforge.features.library.session`); the current time is ``sources.clock``'s.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from alphaforge.backtest.charts import LOSS_COLOR, PALETTE, STRATEGY_COLOR, style_figure
from alphaforge.core.errors import AlphaForgeError
from alphaforge.features.library.calendar import calendar_table
from alphaforge.features.library.session import (
    EQUITY_AFTER_CLOSE,
    EQUITY_CLOSE,
    EQUITY_OPEN,
    EQUITY_PRE_OPEN,
    FX_SESSIONS,
    NEW_YORK,
)
from alphaforge.features.store import FeatureStore, StoredPanel
from alphaforge.service.pages.base import Chart, Page, PageTable
from alphaforge.service.sources import ServiceSources
from alphaforge.storage import BarStore

__all__ = [
    "HISTORY_BARS",
    "MARKET_FEATURES",
    "SENTIMENT_NOTE",
    "SessionWindow",
    "build_market_page",
    "session_windows",
]

#: Bars of history drawn (about three years of daily bars).
HISTORY_BARS = 756
REGIME = ("hmm_state_prob_0", "hmm_state_prob_1")
BREADTH = ("breadth_above_sma_50", "breadth_above_sma_200")
ROTATION = ("sector_rs_20", "sector_rs_60")
VIX = ("vix_level", "vix_z_60")
#: Every panel feature the page reads.
MARKET_FEATURES = (*REGIME, *BREADTH, *ROTATION, *VIX)
SENTIMENT_NOTE = "No sentiment tables yet: the news issue adds them."
#: The timeline's rows, top to bottom.
SESSION_ROWS = ("Asia (Tokyo)", "London", "New York", "US equities", "Crypto")
_FX_ROWS = {"asia": "Asia (Tokyo)", "london": "London", "newyork": "New York"}
_BUILD = "alphaforge features build --universe {universe}"
_NS_PER_DAY = 86_400 * 10**9


# --- sessions ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SessionWindow:
    """One stretch of a session within a UTC day: ``[start, end)`` in UTC."""

    session: str
    part: str
    start: pd.Timestamp
    end: pd.Timestamp

    def contains(self, when: pd.Timestamp) -> bool:
        """Return whether ``when`` (UTC) lies in the window."""
        return bool(self.start <= when < self.end)


def _local(day: date, offset_ns: int, tz: str) -> pd.Timestamp:
    """Return ``offset_ns`` after local midnight of ``day`` in ``tz``, in UTC."""
    naive = pd.Timestamp(day) + pd.Timedelta(offset_ns, unit="ns")
    return naive.tz_localize(tz).tz_convert("UTC")


def _equity_day(day: date) -> tuple[bool, int]:
    """Return whether ``day`` is a New York session and its close (ns after local midnight).

    As the session features do: the exchange calendar (XNYS), with early closes; outside the
    cached calendar the plain weekday rule with a 16:00 close.
    """
    table = calendar_table(None)
    pos, inside = table.lookup(np.array([(day - date(1970, 1, 1)).days], dtype=np.int64))
    if not inside[0]:
        return day.weekday() < 5, EQUITY_CLOSE
    is_session = bool(table.is_session[pos[0]])
    close = int(table.close_ns[pos[0]]) if table.tz == NEW_YORK else EQUITY_CLOSE
    return is_session, close if is_session else EQUITY_CLOSE


def session_windows(day: date) -> list[SessionWindow]:
    """Return the sessions' stretches within the UTC day ``day``, in timeline row order.

    Forex sessions (Tokyo, London, New York) run on local weekdays in local hours; US
    equities have pre-market, the regular session (to the calendar's close) and after-hours
    on New York session days; crypto trades around the clock.
    """
    day_start = pd.Timestamp(day, tz="UTC")
    day_end = day_start + pd.Timedelta(days=1)
    windows: list[SessionWindow] = []

    def add(session: str, part: str, start: pd.Timestamp, end: pd.Timestamp) -> None:
        start, end = max(start, day_start), min(end, day_end)
        if start < end:
            windows.append(SessionWindow(session, part, start, end))

    local_days = [day + timedelta(days=k) for k in (-1, 0, 1)]
    for key, row in _FX_ROWS.items():
        tz, open_ns, close_ns = FX_SESSIONS[key]
        for d in local_days:
            if d.weekday() < 5:
                add(row, "session", _local(d, open_ns, tz), _local(d, close_ns, tz))
    for d in local_days:
        is_session, close = _equity_day(d)
        if not is_session:
            continue
        add(
            "US equities",
            "pre-market",
            *(_local(d, t, NEW_YORK) for t in (EQUITY_PRE_OPEN, EQUITY_OPEN)),
        )
        add("US equities", "regular", _local(d, EQUITY_OPEN, NEW_YORK), _local(d, close, NEW_YORK))
        add(
            "US equities",
            "after-hours",
            _local(d, close, NEW_YORK),
            _local(d, EQUITY_AFTER_CLOSE, NEW_YORK),
        )
    add("Crypto", "24/7", day_start, day_end)
    order = {row: i for i, row in enumerate(SESSION_ROWS)}
    return sorted(windows, key=lambda w: (order[w.session], w.start))


_PART_COLOURS = {
    "session": PALETTE[0],
    "pre-market": "#aab7c4",
    "regular": PALETTE[2],
    "after-hours": "#aab7c4",
    "24/7": PALETTE[3],
}


def _sessions(page: Page, now: pd.Timestamp) -> None:
    windows = session_windows(now.date())
    open_now = sorted({w.session for w in windows if w.contains(now)}, key=SESSION_ROWS.index)
    page.twin["sessions"] = {
        "now": now.isoformat(),
        "day": now.date().isoformat(),
        "open_now": open_now,
        "windows": [
            {
                "session": w.session,
                "part": w.part,
                "start": w.start.isoformat(),
                "end": w.end.isoformat(),
                "open_now": w.contains(now),
            }
            for w in windows
        ],
    }
    figure = go.Figure()
    for part, colour in _PART_COLOURS.items():
        chosen = [w for w in windows if w.part == part]
        if not chosen:
            continue
        figure.add_trace(
            go.Bar(
                y=[w.session for w in chosen],
                # A date axis takes bar lengths in milliseconds from each base.
                x=[(w.end - w.start) / pd.Timedelta(milliseconds=1) for w in chosen],
                base=[w.start.isoformat() for w in chosen],
                orientation="h",
                name=part,
                marker={"color": colour},
                customdata=[[f"{w.start:%H:%M}", f"{w.end:%H:%M}"] for w in chosen],
                hovertemplate="%{y}: %{customdata[0]}-%{customdata[1]} UTC<extra>"
                + part
                + "</extra>",
            )
        )
    figure.add_trace(
        go.Scatter(
            x=[now.isoformat(), now.isoformat()],
            y=[SESSION_ROWS[0], SESSION_ROWS[-1]],
            mode="lines+markers",
            name=f"now {now:%H:%M} UTC",
            line={"color": LOSS_COLOR, "width": 2},
        )
    )
    day_start = pd.Timestamp(now.date(), tz="UTC")
    figure.update_xaxes(
        type="date",
        range=[day_start.isoformat(), (day_start + pd.Timedelta(days=1)).isoformat()],
        title=f"{now.date().isoformat()} (UTC)",
    )
    figure.update_yaxes(
        categoryorder="array", categoryarray=list(reversed(SESSION_ROWS)), type="category"
    )
    figure.update_layout(barmode="overlay")
    page.charts.append(
        Chart("sessions", "Trading sessions today (UTC)", style_figure(figure, height=300))
    )


# --- panel features ------------------------------------------------------------------------------


def _floats(values: Iterable[float]) -> list[float | None]:
    """Return floats as the twin holds them: NaN (not known yet) as None."""
    return [float(v) if math.isfinite(v) else None for v in values]


def _choose_panel(
    panels: list[StoredPanel], universe: str | None, interval: str
) -> StoredPanel | None:
    """Return the newest stored panel with market features, preferring ``interval``."""
    usable = [
        p
        for p in panels
        if set(MARKET_FEATURES) & set(p.features) and (universe is None or p.universe == universe)
    ]
    preferred = [p for p in usable if p.interval == interval]
    chosen = preferred or usable
    return chosen[0] if chosen else None  # stored_panels is newest first


def _market_series(frames: Mapping[str, pd.DataFrame], names: Sequence[str]) -> pd.DataFrame:
    """Return the mean over members of each market-wide feature per bar, last bars only."""
    columns = [n for n in names if any(n in f.columns for f in frames.values())]
    if not columns:
        return pd.DataFrame()
    long = pd.concat([f[[c for c in columns if c in f.columns]] for f in frames.values()])
    series = long.groupby(level=0).mean().sort_index().dropna(how="all")
    return series.iloc[-HISTORY_BARS:]


def build_market_page(sources: ServiceSources, params: Mapping[str, str]) -> Page:
    """Build the Market overview: stored panel features, sessions timeline and sentiment.

    ``params["universe"]`` picks the universe whose stored panel is read (default: the most
    recently built one, at ``data.interval`` when there is one).
    """
    page = Page(name="market", title="Market overview")
    universe = params.get("universe") or None
    panels = FeatureStore(sources.store_dir).stored_panels()
    stored = _choose_panel(panels, universe, sources.config.data.interval)
    page.twin["panel"] = None
    for key in ("regime", "breadth", "vix"):
        page.twin[key] = None
    page.twin["rotation"] = []
    if stored is None:
        where = f" of universe {universe}" if universe else ""
        what = (
            f"The panel features stored{where} in {sources.store_dir} hold no market feature"
            if any(universe is None or p.universe == universe for p in panels)
            else f"No panel features{where} are stored in {sources.store_dir}"
        )
        page.notes.append(
            f"{what}: run "
            f"`{_BUILD.format(universe=universe or 'NAME')}` for regime, breadth, sector "
            "rotation and VIX (VIX needs the ^VIX series: `alphaforge data fetch ^VIX`)."
        )
    else:
        _panel(page, sources, stored)
    _sessions(page, sources.clock.now().tz_convert("UTC"))
    page.twin["sentiment"] = {"available": False, "note": SENTIMENT_NOTE}
    page.notes.append(SENTIMENT_NOTE)
    return page


def _panel(page: Page, sources: ServiceSources, stored: StoredPanel) -> None:
    build = _BUILD.format(universe=stored.universe)
    try:
        frames = FeatureStore.read_panel(stored)
    except AlphaForgeError as exc:
        page.notes.append(exc.one_line())
        return
    page.twin["panel"] = {
        "universe": stored.universe,
        "interval": stored.interval,
        "members": sorted(frames),
        "built": stored.modified.isoformat(),
    }
    market = _market_series(frames, (*REGIME, *BREADTH, *VIX))
    stamps = [t.isoformat() for t in market.index]
    if set(REGIME) <= set(market.columns):
        _regime(page, market, stamps)
    else:
        page.notes.append(
            f"The stored panel of {stored.universe} has no regime (hmm_state_prob_0/1): "
            f"run `{build}`."
        )
    if set(BREADTH) & set(market.columns):
        _breadth(page, market, stamps)
    else:
        page.notes.append(
            f"The stored panel of {stored.universe} has no breadth features: run `{build}`."
        )
    if set(VIX) & set(market.columns):
        _vix(page, market, stamps)
    else:
        page.notes.append(
            f"The stored panel of {stored.universe} has no VIX features: run "
            f"`alphaforge data fetch ^VIX`, then `{build}`."
        )
    _rotation(page, sources, frames, build)


def _regime(page: Page, market: pd.DataFrame, stamps: list[str]) -> None:
    low = market["hmm_state_prob_0"].to_numpy(dtype=float)
    high = market["hmm_state_prob_1"].to_numpy(dtype=float)
    known = np.flatnonzero(np.isfinite(low) & np.isfinite(high))
    current = None
    if known.size:
        last = int(known[-1])
        current = {
            "time": stamps[last],
            "state": "high volatility" if high[last] > low[last] else "low volatility",
            "prob_low": float(low[last]),
            "prob_high": float(high[last]),
        }
    page.twin["regime"] = {
        "current": current,
        "history": {"timestamps": stamps, "prob_low": _floats(low), "prob_high": _floats(high)},
    }
    figure = go.Figure()
    for values, name, colour in (
        (low, "low-volatility state", STRATEGY_COLOR),
        (high, "high-volatility state", LOSS_COLOR),
    ):
        figure.add_trace(
            go.Scatter(
                x=market.index, y=values, name=name, stackgroup="regime", line={"color": colour}
            )
        )
    figure.update_yaxes(title="probability", range=[0, 1], tickformat=".0%")
    figure.update_layout(hovermode="x unified")
    title = "Regime (2-state HMM)"
    if current is not None:
        title += f": {current['state']} now ({max(current['prob_low'], current['prob_high']):.0%})"
    page.charts.append(Chart("regime", title, style_figure(figure)))


def _breadth(page: Page, market: pd.DataFrame, stamps: list[str]) -> None:
    twin: dict[str, object] = {"timestamps": stamps}
    figure = go.Figure()
    for i, name in enumerate(c for c in BREADTH if c in market.columns):
        values = market[name].to_numpy(dtype=float)
        twin[name.removeprefix("breadth_")] = _floats(values)
        window = name.rsplit("_", 1)[-1]
        figure.add_trace(
            go.Scatter(
                x=market.index,
                y=values,
                name=f"above the {window}-bar SMA",
                line={"color": PALETTE[i]},
            )
        )
    page.twin["breadth"] = twin
    figure.update_yaxes(title="share of members", range=[0, 1], tickformat=".0%")
    figure.update_layout(hovermode="x unified")
    page.charts.append(Chart("breadth", "Breadth", style_figure(figure)))


def _vix(page: Page, market: pd.DataFrame, stamps: list[str]) -> None:
    twin: dict[str, object] = {"timestamps": stamps, "level": None, "z_60": None}
    figure = make_subplots(specs=[[{"secondary_y": True}]])
    if "vix_level" in market.columns:
        level = market["vix_level"].to_numpy(dtype=float)
        twin["level"] = _floats(level)
        figure.add_trace(
            go.Scatter(x=market.index, y=level, name="VIX", line={"color": LOSS_COLOR}),
            secondary_y=False,
        )
    if "vix_z_60" in market.columns:
        z = market["vix_z_60"].to_numpy(dtype=float)
        twin["z_60"] = _floats(z)
        figure.add_trace(
            go.Scatter(
                x=market.index,
                y=z,
                name="z-score (60 bars)",
                line={"color": PALETTE[5], "dash": "dot"},
            ),
            secondary_y=True,
        )
    page.twin["vix"] = twin
    figure.update_yaxes(title_text="VIX (index points)", secondary_y=False)
    figure.update_yaxes(title_text="z-score", secondary_y=True)
    figure.update_layout(hovermode="x unified")
    page.charts.append(Chart("vix", "VIX", style_figure(figure)))


def _sector_of(store: BarStore, symbol: str) -> str | None:
    try:
        return store.instrument(symbol).sector
    except AlphaForgeError:  # a panel built from bars that are no longer stored
        return None


def _rotation(
    page: Page, sources: ServiceSources, frames: Mapping[str, pd.DataFrame], build: str
) -> None:
    rows = []
    bar_store = BarStore(sources.store_dir)
    for symbol, frame in sorted(frames.items()):
        if not set(ROTATION) <= set(frame.columns):
            continue
        latest = frame[list(ROTATION)].dropna(how="any")
        if latest.empty:
            continue
        rows.append(
            {
                "symbol": symbol,
                "sector": _sector_of(bar_store, symbol),
                "time": latest.index[-1].isoformat(),
                "rs_20": float(latest["sector_rs_20"].iloc[-1]),
                "rs_60": float(latest["sector_rs_60"].iloc[-1]),
            }
        )
    page.twin["rotation"] = rows
    if not rows:
        page.notes.append(
            f"The stored panel has no sector rotation (sector_rs_20/60 need members with a "
            f"sector): run `{build}`."
        )
        return
    figure = go.Figure()
    sectors = sorted({r["sector"] or "unknown sector" for r in rows})
    for i, sector in enumerate(sectors):
        chosen = [r for r in rows if (r["sector"] or "unknown sector") == sector]
        figure.add_trace(
            go.Scatter(
                x=[r["rs_60"] for r in chosen],
                y=[r["rs_20"] for r in chosen],
                text=[r["symbol"] for r in chosen],
                mode="markers+text",
                textposition="top center",
                name=sector,
                marker={"color": PALETTE[i % len(PALETTE)], "size": 9},
            )
        )
    figure.add_hline(y=0.0, line={"color": "#95a5a6", "width": 1})
    figure.add_vline(x=0.0, line={"color": "#95a5a6", "width": 1})
    figure.update_xaxes(title="60-bar log return minus its sector's")
    figure.update_yaxes(title="20-bar log return minus its sector's")
    page.charts.append(
        Chart("rotation", "Sector rotation (latest bar)", style_figure(figure, height=420))
    )
    page.tables.append(
        PageTable(
            "rotation",
            "Relative strength within the sector",
            ["symbol", "sector", "bar", "sector_rs_20", "sector_rs_60"],
            [[r["symbol"], r["sector"], r["time"][:10], r["rs_20"], r["rs_60"]] for r in rows],
        )
    )
