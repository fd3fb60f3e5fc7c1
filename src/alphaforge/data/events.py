"""Scheduled events (earnings dates, FOMC meetings) read from a CSV file.

The file has a ``time`` column (an ISO date or timestamp; naive values are taken as UTC) and,
optionally, a ``symbol`` column: an event with a symbol concerns only that symbol, one
without (an empty cell or no column) concerns every symbol. Only events published before
they happen belong here: they are used to weight training rows near them.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from alphaforge.core.errors import DataError


def read_events(path: Path) -> pd.DataFrame:
    """Return the events of ``path`` as columns ``time`` (UTC) and ``symbol`` (None = all)."""
    if not path.is_file():
        raise DataError(
            f"Event file {path} does not exist.",
            hint="Set labels.catalyst_file to a CSV with a time column, or to null.",
        )
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"Event file {path} is not a readable CSV: {exc}.") from None
    if "time" not in frame.columns:
        raise DataError(
            f"Event file {path} has no 'time' column (columns: {', '.join(frame.columns)}).",
            hint="Name the event date column 'time'; an optional 'symbol' column narrows it.",
        )
    times = pd.to_datetime(frame["time"], utc=True, errors="coerce", format="mixed")
    bad = times.isna()
    if bad.any():
        row = int(bad.to_numpy().argmax())
        raise DataError(
            f"Event file {path}, row {row + 2}: {frame['time'].iloc[row]!r} is not a date.",
            hint="Write dates as YYYY-MM-DD or ISO timestamps.",
        )
    symbols = frame["symbol"] if "symbol" in frame.columns else pd.Series("", index=frame.index)
    return pd.DataFrame(
        {"time": times, "symbol": symbols.str.strip().replace("", None)}
    ).reset_index(drop=True)


__all__ = ["read_events"]
