"""CSV/Parquet import and the directory-backed FileSource."""

from __future__ import annotations

import gzip
import io
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from alphaforge.config.models import DataConfig
from alphaforge.core import (
    AssetClass,
    DataError,
    Instrument,
    Interval,
    UnknownSymbolError,
    check_bars,
)
from alphaforge.data.sources import DataSource, FileSource, create_source, import_file
from alphaforge.data.sources.files import infer_interval

YAHOO_CSV = """Date,Open,High,Low,Close,Adj Close,Volume
2024-01-02,100.0,102.0,99.0,101.0,50.5,1000
2024-01-03,101.0,103.0,100.0,102.0,51.0,2000
2024-01-04,102.0,104.0,101.0,103.0,51.5,3000
"""

PLAIN_CSV = """date,open,high,low,close,volume
2024-01-02,10,11,9,10.5,100
2024-01-03,10.5,12,10,11.5,200
2024-01-04,11.5,12.5,11,12,300
2024-01-05,12,13,11.5,12.5,400
"""


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def utc_days(*days: str) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(days, tz="UTC", name="timestamp")


def one_line(error: DataError) -> str:
    text = error.one_line()
    assert "\n" not in text
    return text


# --------------------------------------------------------------------------------------------
# import_file
# --------------------------------------------------------------------------------------------


def test_yahoo_export_prefers_adjusted_close(tmp_path: Path) -> None:
    bars = import_file(write(tmp_path / "AAPL.csv", YAHOO_CSV), symbol="AAPL")

    check_bars(bars)
    assert bars.index.equals(utc_days("2024-01-02", "2024-01-03", "2024-01-04"))
    # Adj Close / Close = 0.5 on every row: the whole candle is scaled, volume is not.
    assert bars["close"].tolist() == [50.5, 51.0, 51.5]
    assert bars["open"].tolist() == pytest.approx([50.0, 50.5, 51.0])
    assert bars["high"].iloc[0] == pytest.approx(51.0)
    assert bars["low"].iloc[0] == pytest.approx(49.5)
    assert bars["volume"].tolist() == [1000.0, 2000.0, 3000.0]


def test_adjusted_close_alone_is_the_close(tmp_path: Path) -> None:
    text = "Date,Open,High,Low,Adj_Close,Volume\n2024-01-02,1,2,0.5,1.5,10\n"
    bars = import_file(write(tmp_path / "X.csv", text), symbol="X")
    assert bars["close"].tolist() == [1.5]


@pytest.mark.parametrize(
    "header",
    [
        "timestamp,o,h,l,c,v",
        "DATETIME, OPEN , HIGH , LOW , CLOSE , VOLUME",
        "Time,Open Price,High Price,Low Price,Close Price,Vol.",
        "dt,Open,High,Low,Last,vol",
    ],
)
def test_column_aliases_case_insensitive(tmp_path: Path, header: str) -> None:
    text = f"{header}\n2024-01-02,1,2,0.5,1.5,10\n2024-01-03,1.5,2.5,1,2,20\n"
    bars = import_file(write(tmp_path / "X.csv", text), symbol="X")
    assert bars.loc[:, ["open", "high", "low", "close", "volume"]].iloc[0].tolist() == [
        1.0,
        2.0,
        0.5,
        1.5,
        10.0,
    ]


def test_missing_volume_is_zero(tmp_path: Path) -> None:
    text = "Date,Open,High,Low,Close\n2024-01-02,1.1,1.2,1.0,1.15\n"
    bars = import_file(write(tmp_path / "EURUSD.csv", text), symbol="EURUSD")
    assert bars["volume"].tolist() == [0.0]


def test_naive_timestamps_are_utc_and_offsets_converted(tmp_path: Path) -> None:
    text = (
        "Datetime,Open,High,Low,Close,Volume\n"
        "2024-01-02 14:30:00,1,2,0.5,1.5,10\n"
        "2024-01-02T10:30:00-05:00,1,2,0.5,1.5,10\n"
        "2024-01-02T16:30:00Z,1,2,0.5,1.5,10\n"
    )
    bars = import_file(write(tmp_path / "X.csv", text), symbol="X")
    expected = pd.DatetimeIndex(
        ["2024-01-02 14:30", "2024-01-02 15:30", "2024-01-02 16:30"], tz="UTC", name="timestamp"
    )
    assert bars.index.equals(expected)


@pytest.mark.parametrize("scale", [1, 1000])
def test_epoch_timestamps_seconds_and_milliseconds(tmp_path: Path, scale: int) -> None:
    start = int(pd.Timestamp("2024-01-02", tz="UTC").timestamp())
    text = "timestamp,open,high,low,close,volume\n" + "".join(
        f"{(start + i * 3600) * scale},1,2,0.5,1.5,10\n" for i in range(3)
    )
    bars = import_file(write(tmp_path / "BTC-USD.csv", text), symbol="BTC-USD")
    assert bars.index[0] == pd.Timestamp("2024-01-02", tz="UTC")
    assert bars.index[2] == pd.Timestamp("2024-01-02 02:00", tz="UTC")


def test_separate_date_and_time_columns(tmp_path: Path) -> None:
    text = (
        "<DATE>,<TIME>,<OPEN>,<HIGH>,<LOW>,<CLOSE>,<TICKVOL>\n"
        "2024.01.02,09:00,1.1,1.2,1.0,1.15,10\n"
        "2024.01.02,10:00,1.15,1.25,1.1,1.2,12\n"
    )
    bars = import_file(write(tmp_path / "EURUSD.csv", text), symbol="EURUSD", tz="UTC")
    expected = pd.DatetimeIndex(["2024-01-02 09:00", "2024-01-02 10:00"], tz="UTC")
    assert bars.index.equals(expected.rename("timestamp"))
    assert bars["volume"].tolist() == [0.0, 0.0]  # tick volume is not traded volume


def test_numeric_yyyymmdd_dates(tmp_path: Path) -> None:
    text = "date,open,high,low,close\n20240102,1,2,0.5,1.5\n20240103,1,2,0.5,1.5\n"
    bars = import_file(write(tmp_path / "X.csv", text), symbol="X")
    assert bars.index.equals(utc_days("2024-01-02", "2024-01-03"))


def test_rows_are_kept_as_written(tmp_path: Path) -> None:
    # Sorting, de-duplication and repair belong to the validator, with logged reasons.
    text = (
        "Date,Open,High,Low,Close,Volume\n"
        "2024-01-03,1,2,0.5,1.5,10\n"
        "2024-01-02,1,2,0.5,bad,10\n"
        "2024-01-02,1,2,0.5,1.5,10\n"
    )
    bars = import_file(write(tmp_path / "X.csv", text), symbol="X")
    assert bars.index.equals(utc_days("2024-01-03", "2024-01-02", "2024-01-02"))
    assert bars["close"].isna().tolist() == [False, True, False]


def test_csv_gz(tmp_path: Path) -> None:
    path = tmp_path / "AAPL.csv.gz"
    with gzip.open(path, "wt") as handle:
        handle.write(PLAIN_CSV)
    bars = import_file(path, symbol="AAPL")
    assert len(bars) == 4


def test_parquet_with_datetime_index_and_with_column(tmp_path: Path) -> None:
    frame = pd.read_csv(io.StringIO(PLAIN_CSV))
    indexed = frame.assign(date=pd.to_datetime(frame["date"])).set_index("date")
    indexed.columns = [c.capitalize() for c in indexed.columns]
    indexed.to_parquet(tmp_path / "A.parquet")
    frame.assign(date=pd.to_datetime(frame["date"]).dt.tz_localize("US/Eastern")).to_parquet(
        tmp_path / "B.pq", index=False
    )

    a = import_file(tmp_path / "A.parquet", symbol="A")
    b = import_file(tmp_path / "B.pq", symbol="B")

    assert a.index[0] == pd.Timestamp("2024-01-02", tz="UTC")
    assert b.index[0] == pd.Timestamp("2024-01-02 05:00", tz="UTC")  # converted, not relabelled
    assert a["close"].tolist() == b["close"].tolist() == [10.5, 11.5, 12.0, 12.5]


def test_pandas_written_csv_with_unnamed_index(tmp_path: Path) -> None:
    frame = pd.read_csv(io.StringIO(PLAIN_CSV), index_col="date", parse_dates=True)
    frame.index.name = None
    frame.to_csv(tmp_path / "X.csv")
    bars = import_file(tmp_path / "X.csv", symbol="X")
    assert bars.index[0] == pd.Timestamp("2024-01-02", tz="UTC")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError) as info:
        import_file(tmp_path / "NOPE.csv", symbol="NOPE")
    assert "does not exist" in one_line(info.value)
    assert info.value.hint


def test_unsupported_suffix(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not a supported file type") as info:
        import_file(write(tmp_path / "X.xlsx", "x"), symbol="X")
    assert ".parquet" in info.value.hint


@pytest.mark.parametrize("text", ["", "Date,Open,High,Low,Close,Volume\n"])
def test_empty_files(tmp_path: Path, text: str) -> None:
    with pytest.raises(DataError, match=r"empty|no rows") as info:
        import_file(write(tmp_path / "X.csv", text), symbol="X")
    one_line(info.value)
    assert info.value.hint


def test_unreadable_files(tmp_path: Path) -> None:
    (tmp_path / "X.parquet").write_bytes(b"this is not parquet")
    with pytest.raises(DataError, match="could not read") as info:
        import_file(tmp_path / "X.parquet", symbol="X")
    one_line(info.value)

    (tmp_path / "Y.csv.gz").write_bytes(b"not gzip either")
    with pytest.raises(DataError, match="could not read"):
        import_file(tmp_path / "Y.csv.gz", symbol="Y")


def test_missing_columns_names_missing_and_found(tmp_path: Path) -> None:
    text = "Date,Open,Close,Volume\n2024-01-02,1,1.5,10\n"
    with pytest.raises(DataError) as info:
        import_file(write(tmp_path / "X.csv", text), symbol="X")
    message = one_line(info.value)
    assert "missing column(s) high, low" in message
    assert "found: Date, Open, Close, Volume" in message


def test_missing_time_column(tmp_path: Path) -> None:
    text = "when,Open,High,Low,Close\nyesterday,1,2,0.5,1.5\n"
    with pytest.raises(DataError, match="no timestamp column") as info:
        import_file(write(tmp_path / "X.csv", text), symbol="X")
    assert "when" in info.value.message


def test_unparseable_timestamps(tmp_path: Path) -> None:
    text = "Date,Open,High,Low,Close\n2024-01-02,1,2,0.5,1.5\nnot a date,1,2,0.5,1.5\n"
    with pytest.raises(DataError, match="timestamp") as info:
        import_file(write(tmp_path / "X.csv", text), symbol="X")
    one_line(info.value)


# --------------------------------------------------------------------------------------------
# FileSource
# --------------------------------------------------------------------------------------------


@pytest.fixture
def imports(tmp_path: Path) -> Path:
    directory = tmp_path / "imports"
    directory.mkdir()
    write(directory / "AAPL.csv", PLAIN_CSV)
    frame = pd.read_csv(io.StringIO(PLAIN_CSV))
    frame["close"] = frame["close"] * 10
    frame.to_parquet(directory / "msft.parquet", index=False)
    write(directory / "README.txt", "not data")
    return directory


def test_file_source_fetch_and_range(imports: Path) -> None:
    src = FileSource(imports)
    out = src.fetch(
        [Instrument("AAPL", AssetClass.STOCK), Instrument("MSFT", AssetClass.STOCK)],
        date(2024, 1, 3),
        date(2024, 1, 4),
        Interval.D1,
    )
    assert out["AAPL"].index.equals(utc_days("2024-01-03", "2024-01-04"))
    assert out["MSFT"]["close"].tolist() == [115.0, 120.0]  # file names match any case
    assert isinstance(src, DataSource)
    assert set(src.files()) == {"AAPL", "MSFT"}


def test_file_source_prefers_parquet(imports: Path) -> None:
    pd.read_csv(imports / "AAPL.csv").assign(close=1.0).to_parquet(
        imports / "AAPL.parquet", index=False
    )
    out = FileSource(imports).fetch(
        [Instrument("AAPL", AssetClass.STOCK)], date(2024, 1, 1), date(2024, 1, 31), Interval.D1
    )
    assert set(out["AAPL"]["close"]) == {1.0}


def test_file_source_unknown_symbol_suggests(imports: Path) -> None:
    with pytest.raises(UnknownSymbolError) as info:
        FileSource(imports).fetch(
            [Instrument("APPL", AssetClass.STOCK)], date(2024, 1, 1), date(2024, 1, 31), Interval.D1
        )
    assert "APPL" in info.value.message
    assert "AAPL" in info.value.hint


def test_file_source_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(UnknownSymbolError, match="does not exist"):
        FileSource(tmp_path / "nowhere").fetch(
            [Instrument("AAPL", AssetClass.STOCK)], date(2024, 1, 1), date(2024, 1, 31), Interval.D1
        )


def test_file_source_refuses_another_interval(imports: Path) -> None:
    with pytest.raises(DataError, match="holds 1d bars") as info:
        FileSource(imports).fetch(
            [Instrument("AAPL", AssetClass.STOCK)], date(2024, 1, 1), date(2024, 1, 31), Interval.H1
        )
    assert "--interval 1d" in info.value.hint


def test_infer_interval() -> None:
    hourly = pd.date_range("2024-01-02 09:00", periods=20, freq="h", tz="UTC")
    business = pd.bdate_range("2024-01-01", periods=30, tz="UTC")
    months = pd.date_range("2020-01-01", periods=12, freq="MS", tz="UTC")
    irregular = pd.DatetimeIndex(["2024-01-01", "2024-01-04", "2024-01-07"], tz="UTC")
    assert infer_interval(hourly) == Interval.H1
    assert infer_interval(business) == Interval.D1
    assert infer_interval(months) == Interval.MO1
    assert infer_interval(irregular) is None
    assert infer_interval(hourly[:2]) is None


def test_registered_factory_uses_imports_next_to_store(tmp_path: Path) -> None:
    src = create_source("csv", DataConfig(store_dir=tmp_path / "store"))
    assert isinstance(src, FileSource)
    assert src.directory == tmp_path / "imports"
