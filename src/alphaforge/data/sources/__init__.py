"""Data sources: each module defines a source and registers its factory in ``SOURCES``.

Importing this package registers ``yfinance``, ``alpaca``, ``ccxt``, ``csv`` (files) and ``sample``
(offline series shipped inside installed packages).
"""

from alphaforge.data.sources import alpaca, ccxt_source, files, fred, sample, yfinance_source
from alphaforge.data.sources.base import SOURCES, DataSource, SourceFactory, create_source
from alphaforge.data.sources.files import FileSource, import_file, infer_interval
from alphaforge.data.sources.fred import FredSource
from alphaforge.data.sources.sample import (
    SAMPLE_CATALOG,
    SampleSeries,
    SampleSource,
    sample_bars,
    sample_catalog,
    sample_coverage,
    sample_instrument,
)
from alphaforge.data.sources.yfinance_source import YFinanceSource, yahoo_ticker

__all__ = [
    "SAMPLE_CATALOG",
    "SOURCES",
    "DataSource",
    "FileSource",
    "FredSource",
    "SampleSeries",
    "SampleSource",
    "SourceFactory",
    "YFinanceSource",
    "alpaca",
    "ccxt_source",
    "create_source",
    "files",
    "fred",
    "import_file",
    "infer_interval",
    "sample",
    "sample_bars",
    "sample_catalog",
    "sample_coverage",
    "sample_instrument",
    "yahoo_ticker",
    "yfinance_source",
]

# The synthetic market registers itself as the "synthetic" source.
from alphaforge.data import synthetic as _synthetic

del _synthetic
