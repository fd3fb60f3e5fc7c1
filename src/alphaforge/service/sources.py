"""Where the service reads from: one object built from the configuration, shared by every
route, page and the live-update task.

The trading ledger is opened once, when its file exists, and kept open: a missing ledger is
not an error (pages then show runs, models and market data and name the command that creates
the rest).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alphaforge.config.models import AppConfig
from alphaforge.core.clock import Clock
from alphaforge.core.errors import AlphaForgeError
from alphaforge.core.types import Instrument, Interval
from alphaforge.models.scoring import PREDICTIONS_DIR
from alphaforge.service.cache import data_version
from alphaforge.service.views import (
    EquityCurve,
    StoredCloses,
    equity_curve,
    instruments,
    ledger_version,
)
from alphaforge.storage.ledger import Ledger
from alphaforge.validation.ledger import default_ledger_path

__all__ = ["PREDICTIONS_DIR", "SERVICE_DIR", "TOKENS_FILE", "ServiceSources"]

#: Folder of the service's own files (tokens, cookie key) under ``data.store_dir``.
SERVICE_DIR = "service"
#: The token store's file in the service folder.
TOKENS_FILE = "tokens.sqlite"


@dataclass
class ServiceSources:
    """The files and databases the service reads, for one trading mode.

    ``clock`` stamps what the service writes (command and audit rows, token times) and
    decides how old a heartbeat is; it is the system clock outside tests.
    """

    config: AppConfig
    mode: str
    clock: Clock
    _ledger: Ledger | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _closes: StoredCloses | None = field(default=None, init=False, repr=False)
    _equity: tuple[tuple[int, int, int], EquityCurve] | None = field(
        default=None, init=False, repr=False
    )

    @property
    def closes(self) -> StoredCloses:
        """The stored closes (read once per version of the bar store)."""
        if self._closes is None:
            self._closes = StoredCloses(self.store_dir, Interval(self.config.data.interval))
        return self._closes

    def instruments(self, symbols: Iterable[str]) -> dict[str, Instrument]:
        """The instruments of ``symbols``: from ``train.universe``, else as the bar store
        recorded them (asset class, sector, currency); symbols known to neither are left out."""
        known = instruments(self.config.train.universe)
        found: dict[str, Instrument] = {}
        for symbol in symbols:
            if symbol in known:
                found[symbol] = known[symbol]
                continue
            try:
                found[symbol] = self.closes.store.instrument(symbol)
            except AlphaForgeError:  # not stored (or stored under several asset classes)
                continue
        return found

    def version(self) -> tuple[Any, ...]:
        """A value that changes when anything the reads show changes (see
        :func:`alphaforge.service.cache.data_version`)."""
        paths = (
            self.store_dir / "manifest.json",
            self.models_dir,
            self.models_dir / "registry.sqlite",
            self.runs_dir,
            self.predictions_dir,
            self.trials_path,
        )
        return data_version(self.ledger(), paths)

    def equity(self, ledger: Ledger) -> EquityCurve:
        """The account's equity curve up to now, recomputed only when a fill, a cash setting
        or the stored bars changed since the last call."""
        key = (*ledger_version(ledger), self.closes.version())
        cached = self._equity
        if cached is None or cached[0] != key:
            cached = (key, equity_curve(ledger, self.closes))
            self._equity = cached
        return cached[1].until(self.clock.now())

    @property
    def ledger_url(self) -> str:
        """The trading ledger's SQLAlchemy URL for :attr:`mode`."""
        return self.config.execution.ledger_url_for(self.mode)

    @property
    def store_dir(self) -> Path:
        """Root of the bar, feature and model stores."""
        return Path(self.config.data.store_dir)

    @property
    def runs_dir(self) -> Path:
        """Where ``train``, ``backtest`` and ``demo`` create run directories."""
        return Path(self.config.run.runs_dir)

    @property
    def models_dir(self) -> Path:
        """The model registry's root."""
        return self.store_dir / "models"

    @property
    def predictions_dir(self) -> Path:
        """The node's and ``predict``'s persisted prediction files."""
        return self.store_dir / PREDICTIONS_DIR

    @property
    def trials_path(self) -> Path:
        """The trial ledger's SQLite file."""
        return default_ledger_path(self.store_dir)

    @property
    def service_dir(self) -> Path:
        """The service's own files: tokens and the cookie key."""
        return self.store_dir / SERVICE_DIR

    def ledger(self) -> Ledger | None:
        """Return the open trading ledger, or None while no node has created it."""
        with self._lock:
            if self._ledger is None and self._ledger_exists():
                self._ledger = Ledger.open(self.ledger_url, clock=self.clock)
            return self._ledger

    def close(self) -> None:
        """Close the ledger if it was opened."""
        with self._lock:
            if self._ledger is not None:
                self._ledger.close()
                self._ledger = None

    def _ledger_exists(self) -> bool:
        url = self.ledger_url
        if url.startswith("sqlite:///"):
            return Path(url.removeprefix("sqlite:///")).exists()
        return True  # a server database: Ledger.open says clearly if it cannot be reached
