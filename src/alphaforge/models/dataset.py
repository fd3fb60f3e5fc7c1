"""Assemble a (timestamp, symbol) panel of features and labels for cross-sectional models.

Each row is one symbol at one bar: its features (known at that bar's close), its forward
return label and that label's start and end times. The classification target
(``labels.kind``) is one of:

* ``cross_sectional`` (default): the forward return beats the same bar's cross-sectional
  median, which is what a long/short portfolio trades;
* ``direction``: the forward return is positive;
* ``triple_barrier``: a long position touches its profit barrier first;
* ``three_class``: BUY / HOLD / SELL by a fixed or volatility-scaled threshold, as class codes
  0 SELL, 1 HOLD, 2 BUY (see :mod:`alphaforge.labels.classes`);
* ``meta``: trading the sign of ``labels.primary_feature`` (the primary signal) takes profit
  before its stop; rows where the primary is flat have no label. The trading score of a meta
  model is the primary's side times the model's confidence (:meth:`Panel.trading_scores`).

Features come from :func:`compute_features`, the one code path of ``train``, the demo,
``predict`` and the model lifecycle: per-symbol features (:func:`alphaforge.features.compute`)
beside the panel features of :data:`~alphaforge.features.panel.PANEL_FEATURES`
(cross-sectional, cross-asset, HMM regime), computed once per universe with the known-at
as-of joins of :mod:`alphaforge.features.panel`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt
import pandas as pd

from alphaforge.config.models import LabelsConfig
from alphaforge.core.errors import ConfigError
from alphaforge.core.types import AssetClass, Instrument, Interval
from alphaforge.features import FEATURES, compute, scale_free_names
from alphaforge.features.panel import PANEL_FEATURES, PanelContext, panel_frames
from alphaforge.features.panel import split_feature_names as panel_split_names
from alphaforge.labels import (
    LabelSet,
    age_decay,
    binary_labels,
    catalyst_weights,
    forward_log_return,
    meta_labels,
    three_class_labels,
    to_class_codes,
    triple_barrier_labels,
    uniqueness,
)

#: Class names of each target kind, in class-code order.
BINARY_CLASSES = ("down", "up")
THREE_CLASSES = ("SELL", "HOLD", "BUY")


@dataclass(frozen=True, slots=True)
class Panel:
    """Features and labels of a universe, indexed by (timestamp, symbol), sorted by time.

    Attributes
    ----------
    X
        Feature matrix (float64). Each symbol's first ``min_history`` bars are left out; a
        feature still inside its own warm-up after that is NaN (see the NaN policy in
        :mod:`alphaforge.features`), which tree models treat as missing.
    forward_return
        The label's log return; NaN where it is not yet known (the last bars).
    target
        Class code of the row's label (see the module docstring: 1.0 if ``forward_return``
        beats the bar's cross-sectional median by default); NaN where it is unknown.
    start, end
        The label's information span (UTC): decision time and time it is fully known.
    class_names
        Names of the class codes 0..K-1.
    side
        ``meta`` only: the primary signal's side (-1, 0, +1) per row, known at the row's close.
    row_weight
        Optional extra training weight per row (catalyst weights, :func:`with_catalysts`),
        multiplied into the fold weights.
    """

    X: pd.DataFrame
    forward_return: pd.Series
    target: pd.Series
    start: pd.Series
    end: pd.Series
    class_names: tuple[str, ...] = BINARY_CLASSES
    side: pd.Series | None = None
    row_weight: pd.Series | None = None

    @property
    def timestamps(self) -> pd.Index:
        """Return each row's bar timestamp."""
        return self.X.index.get_level_values("timestamp")

    @property
    def n_classes(self) -> int:
        """Return the number of target classes (2 or 3)."""
        return len(self.class_names)

    def trading_scores(self, scores: pd.Series) -> pd.Series:
        """Return the score a portfolio ranks by: ``scores`` itself, or for a meta target the
        primary's side times the confidence above one half (flat primary: no position)."""
        if self.side is None:
            return scores
        side = self.side.reindex(scores.index)
        sized: pd.Series = (side * (scores - 0.5)).where(side.ne(0))
        return pd.Series(sized.to_numpy(np.float64), index=scores.index, name="score")


def split_feature_names(names: Sequence[str]) -> tuple[list[str], list[str]]:
    """Return ``names`` split into (per-symbol, panel) feature names, each in the given order.

    Raises
    ------
    ConfigError
        If a name is neither a per-symbol nor a panel feature.
    """
    per_symbol, panel, unknown = panel_split_names(names)
    for name, close in unknown.items():
        raise ConfigError(
            f"features.names: {name!r} is not a registered feature.",
            hint=f"Did you mean {', '.join(close)}?"
            if close
            else "Run alphaforge features list to see the names.",
        )
    return per_symbol, panel


def _context(
    bars_by_symbol: Mapping[str, pd.DataFrame],
    interval: Interval,
    instruments: Mapping[str, Instrument] | None,
) -> PanelContext:
    # Every series of a training universe has the same, known interval: passing it makes each
    # bar known at open + interval, as the feature store does, rather than inferring it.
    return PanelContext(
        bars_by_symbol,
        instruments=instruments,
        intervals=dict.fromkeys(bars_by_symbol, interval),
    )


def default_panel_names(ctx: PanelContext) -> list[str]:
    """Return the panel features used when ``features.names`` is None on this panel.

    Every scale-free panel feature whose inputs the panel has (``vix_level``, in index points,
    is left out as ``sma_20`` is among the per-symbol ones).
    """
    return [
        name
        for name in PANEL_FEATURES.names()
        if PANEL_FEATURES.get(name).scale_free and PANEL_FEATURES.get(name).missing(ctx) is None
    ]


def needed_inputs(
    bars_by_symbol: Mapping[str, pd.DataFrame],
    feature_names: Sequence[str] | None,
    candidates: Mapping[str, pd.DataFrame],
    *,
    instruments: Mapping[str, Instrument] | None = None,
) -> list[str]:
    """Return which ``candidates`` (index or macro series outside the universe, such as
    ``^VIX``) the named panel features need; none when ``feature_names`` is None.

    A candidate is kept when some named panel feature cannot be computed on the universe with
    the other candidates alone, so an input that no named feature reads is never loaded.
    """
    if feature_names is None or not candidates:
        return []
    _, panel_names = split_feature_names(feature_names)
    if not panel_names:
        return []
    specs = [PANEL_FEATURES.get(n) for n in panel_names]
    # Whether a feature can be computed depends on which series are present, not on their
    # bars: two bars of each keep the checks cheap.
    stubs = {s: b.iloc[:2] for s, b in bars_by_symbol.items() if len(b)}

    def complete(extra: Sequence[str]) -> bool:
        series = stubs | {s: candidates[s].iloc[:2] for s in extra}
        known = {**(instruments or {}), **{s: Instrument(s, AssetClass.INDEX) for s in extra}}
        ctx = PanelContext(series, instruments=known)
        return all(spec.missing(ctx) is None for spec in specs)

    chosen = [s for s in candidates if s not in bars_by_symbol and len(candidates[s])]
    if complete([]) or not complete(chosen):
        return []
    for symbol in list(chosen):
        without = [s for s in chosen if s != symbol]
        if complete(without):
            chosen = without
    return chosen


def compute_features(
    bars_by_symbol: Mapping[str, pd.DataFrame],
    interval: Interval,
    feature_names: Sequence[str] | None = None,
    *,
    instruments: Mapping[str, Instrument] | None = None,
    inputs: Mapping[str, pd.DataFrame] | None = None,
) -> dict[str, pd.DataFrame]:
    """Return every symbol's per-symbol and panel features on its own index.

    Parameters
    ----------
    bars_by_symbol
        The universe: canonical bars per symbol, all of bar length ``interval``.
    interval
        The bars' interval; a bar is known at its open + ``interval`` (UTC), and a panel
        feature at a bar reads every other series as-of that time (never a later bar).
    feature_names
        Per-symbol and panel feature names, mixed, in the order of the returned columns.
        ``None``: each symbol's scale-free per-symbol features, then every scale-free panel
        feature the universe has the inputs for (:func:`default_panel_names`). Panel features
        are in the default because they are scale-free and cheap: the cross-sectional,
        cross-asset and regime features of 24 symbols x 2,000 daily bars take about 1 s
        (most of it the HMM's yearly refits), against about 4 s for the per-symbol ones.
    instruments
        Optional ``symbol -> Instrument``: sectors (``sector_rs_*``) and which symbols are
        index or macro inputs rather than members.
    inputs
        Index and macro series outside the universe that panel features read (``^VIX``,
        ``^TNX``, ``^IRX``, ``T10Y2Y``, ``DX-Y.NYB``, ``UUP``, ``^GSPC``): never members of
        the cross-section, and they get no rows.

    Returns
    -------
    dict
        ``symbol -> DataFrame`` (float64, one column per feature) for each symbol of
        ``bars_by_symbol``. A value is known at its bar's close. Index or macro symbols of
        the universe are not members of the cross-section: their panel features are NaN.

    Raises
    ------
    ConfigError
        An unknown name, or a named panel feature whose inputs the panel lacks.
    """
    extra = {s: b for s, b in (inputs or {}).items() if s not in bars_by_symbol}
    series = {**bars_by_symbol, **extra}
    # An input is never a member of the cross-section, whatever its asset class (UUP is an ETF).
    instruments = {**(instruments or {}), **{s: Instrument(s, AssetClass.INDEX) for s in extra}}
    per_symbol: list[str] | None = None
    ctx: PanelContext | None = None
    if feature_names is None:
        ctx = _context(series, interval, instruments)
        panel_names = default_panel_names(ctx)
    else:
        per_symbol, panel_names = split_feature_names(feature_names)
        if panel_names:
            ctx = _context(series, interval, instruments)
    panel: dict[str, pd.DataFrame] = {}
    if ctx is not None and panel_names:
        specs = [PANEL_FEATURES.get(n) for n in panel_names]
        for spec in specs:
            reason = spec.missing(ctx)
            if reason is not None:
                raise ConfigError(
                    f"features.names: panel feature {spec.name} needs {reason}.",
                    hint="Give the universe what it reads (a series: alphaforge data fetch "
                    "SYMBOL; sectors: the universe file's sector field) or remove it from "
                    "features.names.",
                )
        panel = panel_frames(ctx, series, specs)
    order = None if feature_names is None else list(dict.fromkeys(feature_names))
    out: dict[str, pd.DataFrame] = {}
    for symbol, bars in bars_by_symbol.items():
        own = compute(bars, per_symbol if per_symbol is not None else scale_free_names(bars))
        if panel_names:
            cross = panel.get(symbol)
            if cross is None:
                cross = pd.DataFrame(np.nan, index=bars.index, columns=pd.Index(panel_names))
            own = pd.concat([own, cross], axis=1)
        out[symbol] = own if order is None else own[order]
    return out


def build_panel(
    bars_by_symbol: Mapping[str, pd.DataFrame],
    interval: Interval,
    labels: LabelsConfig,
    feature_names: Sequence[str] | None = None,
    *,
    min_history: int = 200,
    instruments: Mapping[str, Instrument] | None = None,
    inputs: Mapping[str, pd.DataFrame] | None = None,
) -> Panel:
    """Compute features and labels of a universe and stack them into one time-sorted panel.

    Features are those of :func:`compute_features` (per-symbol and panel features, mixed in
    ``feature_names``; ``None``: the scale-free per-symbol features of each symbol, then the
    scale-free panel features the universe has inputs for, so price-level values such as
    ``sma_20`` or ``vix_level`` never compare across symbols). ``instruments`` and ``inputs``
    (index and macro series that are not rows, such as ``^VIX``) feed the panel features. The
    first ``min_history`` bars of each symbol only warm the features up; they are computed on
    the full history, so a row's features are those ``predict`` computes at that bar.
    """
    if labels.kind == "meta" and labels.primary_feature not in FEATURES:
        raise ConfigError(
            f"labels.primary_feature: {labels.primary_feature!r} is not a registered feature.",
            hint=FEATURES.suggest(labels.primary_feature),
        )
    features_by_symbol = compute_features(
        bars_by_symbol, interval, feature_names, instruments=instruments, inputs=inputs
    )
    pieces = []
    for symbol, bars in bars_by_symbol.items():
        features = features_by_symbol[symbol]
        label = forward_log_return(
            bars, interval, labels.horizon, entry=labels.entry, exit=labels.exit
        )
        side = primary_side(bars, labels) if labels.kind == "meta" else None
        own_label = _own_target(bars, interval, labels, side)
        frame = features.assign(
            __fwd=label.values,
            __start=label.start,
            __end=label.end if own_label is None else own_label.end,
            __own=np.nan if own_label is None else own_label.values,
            __side=np.nan if side is None else side.to_numpy(np.float64),
            symbol=symbol,
        )
        pieces.append(frame.iloc[min_history:])
    stacked = pd.concat(pieces).reset_index().set_index(["timestamp", "symbol"]).sort_index()
    fwd = stacked.pop("__fwd")
    start = stacked.pop("__start")
    end = stacked.pop("__end")
    own_target = stacked.pop("__own")
    sides = stacked.pop("__side")
    if labels.kind != "cross_sectional":
        target = own_target.astype(np.float64).rename("target")
        classes = THREE_CLASSES if labels.kind == "three_class" else BINARY_CLASSES
        side_of = sides.rename("side") if labels.kind == "meta" else None
        return Panel(stacked.astype(np.float64), fwd, target, start, end, classes, side_of)
    median = fwd.groupby(level="timestamp").transform("median")
    # The target compares a row with its whole cross-section, so it is known only when the
    # last label of that bar is known (calendars differ: a crypto label can end after a stock's).
    end = end.groupby(level="timestamp").transform("max")
    target = pd.Series(
        np.where(fwd.notna(), (fwd > median).astype(np.float64), np.nan), index=fwd.index
    )
    return Panel(stacked.astype(np.float64), fwd, target, start, end)


def primary_side(bars: pd.DataFrame, labels: LabelsConfig) -> pd.Series:
    """Return the meta-labels' primary side: the sign of ``labels.primary_feature`` at each
    bar's close (0 where it is zero or still warming up)."""
    signal = compute(bars, [labels.primary_feature])[labels.primary_feature]
    return pd.Series(np.sign(signal.fillna(0.0).to_numpy(np.float64)), index=bars.index)


def _own_target(
    bars: pd.DataFrame, interval: Interval, labels: LabelsConfig, side: pd.Series | None
) -> LabelSet | None:
    """Return a per-symbol target (every kind but ``cross_sectional``, which needs the whole
    panel and gets ``None``)."""
    if labels.kind == "direction":
        return binary_labels(bars, interval, labels.horizon, entry=labels.entry, exit=labels.exit)
    if labels.kind == "three_class":
        sides = three_class_labels(
            bars,
            interval,
            labels.horizon,
            threshold=labels.threshold,
            vol_multiplier=labels.volatility_multiplier,
            entry=labels.entry,
            exit=labels.exit,
        )
        return LabelSet(to_class_codes(sides.values), sides.start, sides.end)
    if labels.kind == "meta" and side is not None:
        outcome = triple_barrier_labels(
            bars,
            interval,
            max_holding=labels.horizon,
            upper=labels.barrier_multiplier,
            lower=labels.barrier_multiplier,
            entry=labels.entry,
            side=side,
        )
        return meta_labels(side, outcome)
    if labels.kind == "triple_barrier":
        outcome = triple_barrier_labels(
            bars,
            interval,
            max_holding=labels.horizon,
            upper=labels.barrier_multiplier,
            lower=labels.barrier_multiplier,
            entry=labels.entry,
        )
        # 1 when the upper (profit) barrier is touched first, 0 for the lower barrier or the
        # vertical one: a binary "did a long position take profit" target.
        touch = outcome.touch.to_numpy(np.float64)
        values = np.where(np.isfinite(touch), (touch > 0).astype(np.float64), np.nan)
        return LabelSet(
            pd.Series(values, index=outcome.labels.values.index, name="take_profit"),
            outcome.labels.start,
            outcome.labels.end,
        )
    return None


def _uniqueness_by_symbol(
    start: pd.Series, end: pd.Series, owners: npt.NDArray[np.object_]
) -> npt.NDArray[np.float64]:
    """Return each label's uniqueness among the same symbol's labels, in one pass.

    Concurrency depends only on the order of start and end times, so times are replaced by
    their rank among all of them and each symbol's ranks are moved into a range of its own:
    one call then counts every symbol apart (a loop over 500 symbols cost more than the fits).
    """
    s = pd.DatetimeIndex(start).as_unit("ns").asi8
    e_index = pd.DatetimeIndex(end).as_unit("ns")
    known = ~np.asarray(e_index.isna())
    e = e_index.asi8
    times = np.unique(np.concatenate([s, e[known]]))
    codes, _ = pd.factorize(owners)
    block = len(times) + 1
    s_rank = np.searchsorted(times, s) + codes * block
    e_rank = np.searchsorted(times, e) + codes * block
    shifted_start = pd.Series(pd.to_datetime(s_rank, unit="ns", utc=True), index=start.index)
    shifted_end = pd.Series(
        pd.to_datetime(np.where(known, e_rank, 0), unit="ns", utc=True), index=start.index
    ).where(known)
    return uniqueness(shifted_start, shifted_end).to_numpy(np.float64)


def with_catalysts(panel: Panel, events: pd.DataFrame, *, window_bars: int, factor: float) -> Panel:
    """Return ``panel`` with rows within ``window_bars`` of a scheduled event weighted ``factor``.

    ``events`` has columns ``time`` (UTC) and ``symbol`` (None: the event concerns every
    symbol), as :func:`alphaforge.data.events.read_events` returns. An event maps to the first
    of the symbol's bars stamped at or after it (see
    :func:`~alphaforge.labels.weights.catalyst_weights`).
    """
    symbols = panel.X.index.get_level_values("symbol")
    stamps = pd.DatetimeIndex(panel.timestamps)
    weight = np.ones(len(panel.X))
    general = events["symbol"].isna()
    for symbol in pd.unique(symbols):
        rows = np.flatnonzero(symbols == symbol)
        own = events["time"][general | (events["symbol"] == symbol)]
        weight[rows] = catalyst_weights(
            stamps[rows], pd.DatetimeIndex(own), window_bars, factor
        ).to_numpy(np.float64)
    return replace(panel, row_weight=pd.Series(weight, index=panel.X.index, name="catalyst"))


def fold_weigher(
    panel: Panel, *, half_life_days: float | None, uniqueness_weights: bool
) -> Callable[[npt.NDArray[np.int64]], npt.NDArray[np.float64]] | None:
    """Return ``weigh(train_rows) -> sample weights`` for a fold's training rows, or ``None``.

    A row's weight is its label's uniqueness among the same symbol's training labels (the
    average of 1 / concurrency over its life, so overlapping 5-bar labels do not count five
    times) times an age decay halving every ``half_life_days`` back from the fold's newest
    training row, times the panel's ``row_weight`` (catalysts) when it has one; weights have
    mean 1. Computed per fold from training rows only.
    """
    if half_life_days is None and not uniqueness_weights and panel.row_weight is None:
        return None
    symbols = panel.X.index.get_level_values("symbol").to_numpy()
    extra = None if panel.row_weight is None else panel.row_weight.to_numpy(np.float64)

    def weigh(rows: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        start = panel.start.iloc[rows]
        end = panel.end.iloc[rows]
        weights = np.ones(len(rows))
        if uniqueness_weights:
            weights = _uniqueness_by_symbol(start, end, symbols[rows]).copy()
        if half_life_days is not None:
            weights *= age_decay(start, pd.Timedelta(days=half_life_days))
        if extra is not None:
            weights *= extra[rows]
        weights = np.where(np.isfinite(weights), weights, 0.0)
        mean = weights.mean()
        return weights / mean if mean > 0 else np.ones(len(rows))

    return weigh
