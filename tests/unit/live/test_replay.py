"""``replay_dry_run``'s refusals: a start outside the recording, a used ledger, a book of
symbols without bars (each a one-line :class:`DataError` with a hint)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from alphaforge.config import AppConfig
from alphaforge.core.errors import DataError
from alphaforge.core.types import AssetClass, Instrument, Interval
from alphaforge.data.synthetic import SyntheticSpec, generate_market
from alphaforge.live.replay import StartingBook, replay_dry_run
from alphaforge.storage.ledger import Ledger

CONFIG = AppConfig.model_validate(
    {
        "strategy": {"name": "ma_crossover", "params": {"fast": 2, "slow": 4}},
        "portfolio": {"constructor": "target_weights"},
        "risk": {"preset": "none"},
    }
)


@pytest.fixture(scope="module")
def recorded() -> tuple[dict[str, pd.DataFrame], dict[str, Instrument]]:
    spec = SyntheticSpec(
        n_symbols=2,
        n_sectors=1,
        start=date(2015, 1, 1),
        end=date(2015, 2, 28),
        interval=Interval.D1,
        asset_class=AssetClass.STOCK,
    )
    market = generate_market(spec, seed=2)
    return market.bars, market.instruments


def _url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'replay.sqlite'}"


@pytest.mark.parametrize("where", ["before", "first", "after"])
def test_a_start_outside_the_recording_is_a_data_error(
    recorded: tuple[dict[str, pd.DataFrame], dict[str, Instrument]], tmp_path: Path, where: str
) -> None:
    bars, instruments = recorded
    stamps = bars[next(iter(bars))].index
    start = {
        "before": stamps[0] - pd.Timedelta(days=30),
        "first": stamps[0],  # nothing before it to decide on
        "after": stamps[-1] + pd.Timedelta(days=1),
    }[where]
    with pytest.raises(DataError) as caught:
        replay_dry_run(bars, instruments, CONFIG, start=start, ledger_url=_url(tmp_path))
    error = caught.value
    assert "needs recorded bars before and from it" in error.one_line()
    assert str(stamps[0]) in error.message and str(stamps[-1]) in error.message
    assert error.hint
    assert "\n" not in error.one_line()
    assert not (tmp_path / "replay.sqlite").exists(), "no ledger is made for a refused replay"


def test_a_naive_start_is_read_as_utc(
    recorded: tuple[dict[str, pd.DataFrame], dict[str, Instrument]], tmp_path: Path
) -> None:
    bars, instruments = recorded
    stamps = bars[next(iter(bars))].index
    start = stamps[-3]
    result = replay_dry_run(
        bars, instruments, CONFIG, start=start.tz_localize(None), ledger_url=_url(tmp_path)
    )
    assert len(result.intake) == 3 * len(bars), "three bars of each symbol replayed"
    assert all(r.time >= start for r in result.intake)


def test_a_used_ledger_is_refused(
    recorded: tuple[dict[str, pd.DataFrame], dict[str, Instrument]], tmp_path: Path
) -> None:
    bars, instruments = recorded
    start = bars[next(iter(bars))].index[-2]
    replay_dry_run(bars, instruments, CONFIG, start=start, ledger_url=_url(tmp_path))
    with pytest.raises(DataError, match="needs a new ledger"):
        replay_dry_run(bars, instruments, CONFIG, start=start, ledger_url=_url(tmp_path))


def test_a_book_holding_a_symbol_without_bars_is_refused(
    recorded: tuple[dict[str, pd.DataFrame], dict[str, Instrument]], tmp_path: Path
) -> None:
    bars, instruments = recorded
    start = bars[next(iter(bars))].index[-2]
    book = StartingBook(1_000.0, {"NOPE": 3.0})
    with pytest.raises(DataError, match="NOPE"):
        replay_dry_run(bars, instruments, CONFIG, start=start, ledger_url=_url(tmp_path), book=book)
    with Ledger.open(_url(tmp_path)) as ledger:
        assert ledger.positions() == {}
