"""The live intake and the stored data's validation agree on price spikes, bar for bar.

Each case is judged twice: by the data layer's own spike check (``data.jumps.find_spikes``, and
``data.validation.validate_bars`` as a later validation of the stored bars runs it) and by
:class:`BarIntake` fed the same bars one at a time. A bar the first drops as a spike is refused
by the second (or, when only a later bar reverts the jump, taken out of its window then); a
normal bar is kept by both.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from alphaforge.config.models import ValidationRulesConfig
from alphaforge.core.types import AssetClass, Instrument, Interval
from alphaforge.data.calendars import expected_bars
from alphaforge.data.jumps import find_spikes
from alphaforge.data.validation import validate_bars
from alphaforge.live.intake import BarIntake

INSTRUMENTS = {
    "SPY": Instrument("SPY", AssetClass.ETF),
    "BTC-USD": Instrument("BTC-USD", AssetClass.CRYPTO),
}
RULES = ValidationRulesConfig()
FIELDS = ["open", "high", "low", "close", "volume"]


def _series(symbol: str, seed: int, n_new: int) -> tuple[pd.DataFrame, list[pd.Timestamp]]:
    """Return ``symbol``'s clean stored history and the stamps of the next ``n_new`` bars."""
    stamps = expected_bars(INSTRUMENTS[symbol].calendar, "2023-01-01", "2023-12-31", Interval.D1)
    rng = np.random.default_rng(seed)
    close = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.01, len(stamps))))
    history = pd.DataFrame(
        {"open": close, "high": close * 1.01, "low": close * 0.99, "close": close, "volume": 1e6},
        index=stamps,
    )
    return history.iloc[:-n_new], list(history.index[-n_new:])


def _bar(stamp: pd.Timestamp, open_: float, close: float) -> pd.DataFrame:
    row = {
        "open": open_,
        "high": max(open_, close) * 1.005,
        "low": min(open_, close) * 0.995,
        "close": close,
        "volume": 1e6,
    }
    return pd.DataFrame([row], index=pd.DatetimeIndex([stamp]))


def _spikes(frame: pd.DataFrame) -> list[pd.Timestamp]:
    """Return the bars the data layer's spike check marks in ``frame`` (the stored rule)."""
    mask = find_spikes(
        frame["open"].to_numpy(np.float64),
        frame["close"].to_numpy(np.float64),
        jump=RULES.spike_jump,
        window=RULES.spike_window,
        revert=RULES.spike_revert,
    )
    return list(frame.index[mask])


def _stored_keeps(frame: pd.DataFrame, symbol: str) -> pd.DatetimeIndex:
    """Return the bars a validation of ``frame`` as stored data keeps."""
    checked, _ = validate_bars(frame, INSTRUMENTS[symbol], Interval.D1, RULES)
    return pd.DatetimeIndex(checked.index)


def _intake(symbol: str, history: pd.DataFrame) -> BarIntake:
    intake = BarIntake({symbol: INSTRUMENTS[symbol]}, Interval.D1, RULES)
    intake.seed(symbol, history)
    return intake


@pytest.mark.parametrize("symbol", sorted(INSTRUMENTS))
@pytest.mark.parametrize("factor", [10.0, 0.01, 2.5])
def test_a_bar_that_jumps_and_reverts_within_itself_is_refused_by_both(
    symbol: str, factor: float
) -> None:
    history, (stamp,) = _series(symbol, 1, 1)
    last = float(history["close"].iloc[-1])
    bar = _bar(stamp, last * factor, last)  # a fat-finger open, the close back where it was
    stored = pd.concat([history, bar])
    assert _spikes(stored) == [stamp]
    assert stamp not in _stored_keeps(stored, symbol)
    intake = _intake(symbol, history)
    result = intake.accept(symbol, bar)
    assert result.outcome == "rejected"
    assert any(r.startswith("price_spike (dropped)") for r in result.reasons), result.reasons
    assert intake.bars[symbol].index[-1] == history.index[-1]


@pytest.mark.parametrize("symbol", sorted(INSTRUMENTS))
def test_a_normal_bar_is_kept_by_both(symbol: str) -> None:
    history, (stamp,) = _series(symbol, 2, 1)
    last = float(history["close"].iloc[-1])
    bar = _bar(stamp, last, last * 1.012)
    stored = pd.concat([history, bar])
    assert _spikes(stored) == []
    assert stamp in _stored_keeps(stored, symbol)
    intake = _intake(symbol, history)
    result = intake.accept(symbol, bar)
    assert (result.outcome, result.reasons, result.removed) == ("accepted", (), ())
    assert intake.bars[symbol].index[-1] == stamp


@pytest.mark.parametrize("symbol", sorted(INSTRUMENTS))
@pytest.mark.parametrize("width", [1, 2, 4])
def test_a_spike_reverted_by_a_later_bar_leaves_the_window_as_it_leaves_the_stored_data(
    symbol: str, width: int
) -> None:
    history, stamps = _series(symbol, 3, width + 2)
    last = float(history["close"].iloc[-1])
    high = [_bar(t, last * 10.0, last * 10.0) for t in stamps[:width]]
    back = _bar(stamps[width], last, last * 1.003)
    after = _bar(stamps[width + 1], last * 1.003, last * 1.001)
    intake = _intake(symbol, history)
    for k, bar in enumerate(high):
        # On arrival the jump has not reverted: the stored rule marks nothing yet either.
        assert _spikes(pd.concat([history, *high[: k + 1]])) == []
        assert intake.accept(symbol, bar).outcome == "accepted"
    stored = pd.concat([history, *high, back, after])
    assert _spikes(stored) == stamps[:width]
    result = intake.accept(symbol, back)
    assert result.outcome != "rejected"
    assert list(result.removed) == stamps[:width]
    assert any(r.startswith("removed from the window") for r in result.reasons)
    assert intake.accept(symbol, after).outcome == "accepted"
    window = intake.bars[symbol]
    kept = _stored_keeps(stored, symbol)
    assert list(window.index) == [t for t in kept if t >= window.index[0]]
    assert np.isfinite(window.to_numpy()).all() and window["close"].max() < last * 2


def test_with_drop_spikes_off_both_keep_the_spike() -> None:
    rules = ValidationRulesConfig(drop_spikes=False)
    history, stamps = _series("SPY", 4, 2)
    last = float(history["close"].iloc[-1])
    high, back = _bar(stamps[0], last * 10.0, last * 10.0), _bar(stamps[1], last, last)
    checked, _ = validate_bars(
        pd.concat([history, high, back]), INSTRUMENTS["SPY"], Interval.D1, rules
    )
    assert stamps[0] in checked.index
    intake = BarIntake({"SPY": INSTRUMENTS["SPY"]}, Interval.D1, rules)
    intake.seed("SPY", history)
    intake.accept("SPY", high)
    assert intake.accept("SPY", back).removed == ()
    assert list(intake.bars["SPY"].index[-2:]) == stamps
