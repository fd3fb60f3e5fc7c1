"""The project-wide trial ledger: every configuration ever evaluated, so that the deflated Sharpe
ratio and the probability of backtest overfitting use the TRUE number of trials.

Every evaluated configuration (hyperparameter-search trials, manual re-runs with changed
settings, strategy variants) is recorded once per experiment with a stable hash of its
configuration, its kind, seed, code version, metric values and its per-period out-of-sample
returns (so PBO can be computed later from the aligned matrix).

Identity and counting
---------------------
A row is identified by ``(experiment, config_hash, seed)``. Recording the same triple again
UPDATES that row (metrics, returns, code version, kind, time; ``n_records`` counts the
re-records): an identical re-run is not a new trial and does not inflate the count. A changed
setting changes the hash and IS a new trial, unless its returns duplicate those of a trial
already recorded (then it is the same strategy under another name and is not recorded).
:meth:`TrialLedger.n_trials` counts distinct configurations; seeds of one configuration are
replicates, not choices (pass ``count_seeds=True`` when seeds were themselves selected among).
For the return matrix and the Sharpe variance each configuration contributes one column: the
mean over its seeds per period.

Storage and concurrency
-----------------------
One SQLite file through SQLAlchemy 2, in WAL mode with a busy timeout, so several processes
can record at once: each record is one ``INSERT ... ON CONFLICT DO UPDATE`` statement, atomic
on its own. Returns are stored as little-endian float64 values with int64 UTC nanosecond
timestamps. Times are UTC.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import Enum
from pathlib import Path
from typing import Any, Literal, Self, get_args

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel
from sqlalchemy import (
    Float,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    select,
)
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.schema import CreateIndex, CreateTable

from alphaforge.storage.sqlite import configure_wal
from alphaforge.validation.stats import deflated_sharpe_ratio, sharpe_ratio

TrialKind = Literal["search", "manual", "variant"]
TRIAL_KINDS: tuple[str, ...] = get_args(TrialKind)
LEDGER_FILENAME = "trial_ledger.sqlite"
_BUSY_TIMEOUT_MS = 60_000


def default_ledger_path(data_dir: str | Path) -> Path:
    """Return the ledger's default file under the project's data directory."""
    return Path(data_dir) / "ledger" / LEDGER_FILENAME


def _jsonable(value: Any) -> Any:
    """Turn a configuration value into plain JSON types, deterministically."""
    if isinstance(value, BaseModel):
        return _jsonable(value.model_dump(mode="json"))
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((_jsonable(v) for v in value), key=repr)
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, float) and value.is_integer() and math.isfinite(value):
        # 1.0 and 1 describe the same setting; hash them alike.
        return int(value)
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    if isinstance(value, Enum):
        return _jsonable(value.value)
    if isinstance(value, datetime | date | pd.Timestamp):
        return value.isoformat()
    if isinstance(value, Path):
        return value.as_posix()
    raise ValueError(f"cannot hash configuration value of type {type(value).__name__}: {value!r}")


def canonical_config(config: Mapping[str, Any] | BaseModel) -> str:
    """Return the canonical JSON text of a configuration (sorted keys, no spaces)."""
    return json.dumps(_jsonable(config), sort_keys=True, separators=(",", ":"))


def config_hash(config: Mapping[str, Any] | BaseModel) -> str:
    """Return a stable SHA-256 hex digest of a configuration.

    Key order, tuple-vs-list and ``1`` vs ``1.0`` do not change it; any changed value does.
    The seed is not part of the configuration: it is recorded beside it.
    """
    return hashlib.sha256(canonical_config(config).encode("utf-8")).hexdigest()


class _Base(DeclarativeBase):
    pass


class _TrialRow(_Base):
    __tablename__ = "trials"
    __table_args__ = (
        UniqueConstraint("experiment", "config_hash", "seed", name="uq_trial_identity"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    experiment: Mapped[str] = mapped_column(String(200), index=True)
    config_hash: Mapped[str] = mapped_column(String(64))
    seed: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    config_json: Mapped[str] = mapped_column(Text)
    code_version: Mapped[str] = mapped_column(String(200))
    metrics_json: Mapped[str] = mapped_column(Text)
    returns_index: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    returns_values: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    first_recorded: Mapped[float] = mapped_column(Float)
    last_recorded: Mapped[float] = mapped_column(Float)
    evaluated_at: Mapped[float] = mapped_column(Float)
    n_records: Mapped[int] = mapped_column(Integer, default=1)


@dataclass(frozen=True)
class TrialRecord:
    """One recorded trial as read back from the ledger (times are UTC)."""

    experiment: str
    config_hash: str
    seed: int
    kind: str
    config: dict[str, Any]
    code_version: str
    metrics: dict[str, float]
    returns: pd.Series | None
    evaluated_at: datetime
    first_recorded: datetime
    last_recorded: datetime
    n_records: int


def _utc_seconds(ts: datetime) -> float:
    if ts.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware (UTC)")
    return ts.timestamp()


def _from_seconds(value: float) -> datetime:
    return datetime.fromtimestamp(value, tz=UTC)


def _encode_returns(returns: pd.Series) -> tuple[bytes, bytes]:
    if not isinstance(returns.index, pd.DatetimeIndex):
        raise ValueError("returns must be indexed by a DatetimeIndex of period timestamps")
    index = returns.index
    index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
    if not index.is_unique:
        raise ValueError("returns have duplicate timestamps")
    order = np.argsort(index.as_unit("ns").asi8, kind="stable")
    stamps = np.ascontiguousarray(index.as_unit("ns").asi8[order], dtype="<i8")
    values = np.ascontiguousarray(returns.to_numpy(dtype=np.float64)[order], dtype="<f8")
    return stamps.tobytes(), values.tobytes()


def _decode_returns(stamps: bytes | None, values: bytes | None) -> pd.Series | None:
    if stamps is None or values is None:
        return None
    index = pd.DatetimeIndex(np.frombuffer(stamps, dtype="<i8").astype("datetime64[ns]"))
    return pd.Series(
        np.frombuffer(values, dtype="<f8").astype(np.float64), index=index.tz_localize("UTC")
    )


class TrialLedger:
    """A SQLite-backed record of every evaluated configuration (see the module docstring).

    Parameters
    ----------
    path
        The SQLite file; its folder is created. Use :func:`default_ledger_path` for the
        project's default under the data directory.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._engine: Engine = create_engine(f"sqlite:///{self.path}")
        event.listen(self._engine, "connect", _configure_connection)
        with self._engine.begin() as conn:
            # IF NOT EXISTS: several processes may open a new ledger at the same moment.
            for table in _Base.metadata.sorted_tables:
                conn.execute(CreateTable(table, if_not_exists=True))
                for index in table.indexes:
                    conn.execute(CreateIndex(index, if_not_exists=True))

    def close(self) -> None:
        """Release the connection pool (the file stays)."""
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def journal_mode(self) -> str:
        """The SQLite journal mode in force (``wal``)."""
        with self._engine.connect() as conn:
            return str(conn.exec_driver_sql("PRAGMA journal_mode").scalar_one())

    def record(
        self,
        *,
        experiment: str,
        config: Mapping[str, Any] | BaseModel,
        kind: TrialKind,
        seed: int,
        code_version: str,
        metrics: Mapping[str, float] | None = None,
        returns: pd.Series | None = None,
        evaluated_at: datetime | None = None,
    ) -> str:
        """Record (or re-record) one evaluated configuration; return its configuration hash.

        Re-recording the same ``(experiment, config, seed)`` updates that row: kind, code
        version and times always; metrics and returns only when given (omitted ones are kept).
        A configuration whose ``returns`` are identical (same periods, same values, bit for bit)
        to those of another configuration already in the experiment is not a new trial: nothing
        is recorded and that configuration's hash is returned.

        ``returns`` are the trial's per-period out-of-sample returns indexed by period
        timestamp (naive timestamps are read as UTC), at the frequency later passed to
        :func:`deflated_sharpe_from_ledger`. ``evaluated_at`` defaults to now (UTC).
        """
        if not experiment:
            raise ValueError("experiment must be a non-empty name")
        if kind not in TRIAL_KINDS:
            raise ValueError(f"kind must be one of {TRIAL_KINDS}, got {kind!r}")
        digest = config_hash(config)
        metric_values = {str(k): float(v) for k, v in (metrics or {}).items()}
        stamps, values = _encode_returns(returns) if returns is not None else (None, None)
        now = datetime.now(UTC).timestamp()
        evaluated = _utc_seconds(evaluated_at) if evaluated_at is not None else now
        row = {
            "experiment": experiment,
            "config_hash": digest,
            "seed": int(seed),
            "kind": kind,
            "config_json": canonical_config(config),
            "code_version": code_version,
            "metrics_json": json.dumps(metric_values, sort_keys=True),
            "returns_index": stamps,
            "returns_values": values,
            "first_recorded": now,
            "last_recorded": now,
            "evaluated_at": evaluated,
            "n_records": 1,
        }
        statement = sqlite_insert(_TrialRow).values(**row)
        excluded = statement.excluded
        updates: dict[str, Any] = {
            "kind": excluded.kind,
            "code_version": excluded.code_version,
            "last_recorded": excluded.last_recorded,
            "evaluated_at": excluded.evaluated_at,
            "n_records": _TrialRow.n_records + 1,
        }
        # A re-record replaces what it brings and keeps what it omits: re-running only to
        # refresh metrics must not erase the stored returns.
        if metrics is not None:
            updates["metrics_json"] = excluded.metrics_json
        if returns is not None:
            updates["returns_index"] = excluded.returns_index
            updates["returns_values"] = excluded.returns_values
        statement = statement.on_conflict_do_update(
            index_elements=["experiment", "config_hash", "seed"], set_=updates
        )
        with self._engine.begin() as conn:
            if stamps is not None:
                twin = conn.execute(
                    select(_TrialRow.config_hash)
                    .where(_TrialRow.experiment == experiment)
                    .where(_TrialRow.config_hash != digest)
                    .where(_TrialRow.returns_index == stamps)
                    .where(_TrialRow.returns_values == values)
                    .limit(1)
                ).scalar_one_or_none()
                if twin is not None:
                    # Identical returns are one trial under two names (a one-model "ensemble"
                    # is its model): counting it twice would deflate by a tie and make PBO 1.
                    return str(twin)
            conn.execute(statement)
        return digest

    def trials(
        self, experiment: str | None = None, *, kind: TrialKind | None = None
    ) -> list[TrialRecord]:
        """Return the recorded trials, oldest first (every experiment when it is None)."""
        query = select(_TrialRow).order_by(_TrialRow.first_recorded, _TrialRow.id)
        if experiment is not None:
            query = query.where(_TrialRow.experiment == experiment)
        if kind is not None:
            query = query.where(_TrialRow.kind == kind)
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            TrialRecord(
                experiment=r.experiment,
                config_hash=r.config_hash,
                seed=r.seed,
                kind=r.kind,
                config=json.loads(r.config_json),
                code_version=r.code_version,
                metrics=json.loads(r.metrics_json),
                returns=_decode_returns(r.returns_index, r.returns_values),
                evaluated_at=_from_seconds(r.evaluated_at),
                first_recorded=_from_seconds(r.first_recorded),
                last_recorded=_from_seconds(r.last_recorded),
                n_records=r.n_records,
            )
            for r in rows
        ]

    def experiments(self) -> list[str]:
        """Return the experiment names, sorted."""
        with self._engine.connect() as conn:
            names = conn.execute(select(_TrialRow.experiment).distinct()).scalars().all()
        return sorted(names)

    def n_trials(self, experiment: str, *, count_seeds: bool = False) -> int:
        """Return the number of distinct configurations recorded for ``experiment``.

        With ``count_seeds`` every (configuration, seed) pair counts. Trials recorded without
        returns count too: they were tried.
        """
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(_TrialRow.config_hash, _TrialRow.seed).where(
                    _TrialRow.experiment == experiment
                )
            ).all()
        return len(set(rows)) if count_seeds else len({h for h, _ in rows})

    def returns_by_config(self, experiment: str) -> dict[str, pd.Series]:
        """Return each configuration's per-period returns (mean over its seeds), by hash.

        Configurations recorded without returns are left out.
        """
        per_config: dict[str, list[pd.Series]] = {}
        for trial in self.trials(experiment):
            if trial.returns is not None:
                per_config.setdefault(trial.config_hash, []).append(trial.returns)
        return {
            h: series[0] if len(series) == 1 else pd.concat(series, axis=1).mean(axis=1)
            for h, series in per_config.items()
        }

    def returns_matrix(self, experiment: str) -> pd.DataFrame:
        """Return the T x N matrix of per-period returns that PBO takes.

        One column per configuration that has returns (named by its hash, oldest first); rows
        are the periods where every such configuration has a finite return, in time order.
        """
        series = self.returns_by_config(experiment)
        if not series:
            return pd.DataFrame(index=pd.DatetimeIndex([], tz="UTC"), dtype=np.float64)
        matrix = pd.concat(series, axis=1, join="inner").sort_index()
        return matrix.dropna(how="any")

    def sharpe_ratios(self, experiment: str) -> pd.Series:
        """Return each configuration's per-period Sharpe ratio over its own return series."""
        return pd.Series(
            {h: sharpe_ratio(s.to_numpy()) for h, s in self.returns_by_config(experiment).items()},
            dtype=np.float64,
        )

    def sharpe_variance(self, experiment: str) -> float:
        """Return the sample variance (ddof=1) of the configurations' per-period Sharpe ratios.

        NaN when fewer than two configurations have a defined Sharpe ratio.
        """
        sharpes = self.sharpe_ratios(experiment).to_numpy()
        sharpes = sharpes[np.isfinite(sharpes)]
        return float(np.var(sharpes, ddof=1)) if sharpes.size >= 2 else float("nan")


def _configure_connection(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        configure_wal(cursor, busy_timeout_ms=_BUSY_TIMEOUT_MS, synchronous="NORMAL")
    finally:
        cursor.close()


def deflated_sharpe_from_ledger(
    ledger: TrialLedger, experiment: str, returns: npt.ArrayLike | pd.Series
) -> float:
    """Return the deflated Sharpe ratio of ``returns`` with the trial count and Sharpe variance
    read from the ledger's ``experiment``.

    ``returns`` are per-period returns at the same frequency as the recorded ones; the strategy
    they belong to should itself be recorded in the experiment. The trial count is the number
    of distinct configurations, which overstates the number of INDEPENDENT trials when many
    are near-duplicates: the deflation errs on the strict side. Raises ValueError when nothing
    is recorded, or when several configurations were tried but fewer than two have returns
    (the variance of their Sharpe ratios, and so the deflation, would be unknown).
    """
    n = ledger.n_trials(experiment)
    if n == 0:
        raise ValueError(
            f"no trials recorded for experiment {experiment!r}: record every evaluated "
            "configuration before deflating"
        )
    variance = ledger.sharpe_variance(experiment)
    if n == 1:
        variance = 0.0 if not math.isfinite(variance) else variance
    elif not math.isfinite(variance):
        raise ValueError(
            f"experiment {experiment!r} has {n} trials but fewer than two with returns: "
            "record their out-of-sample returns to deflate the Sharpe ratio"
        )
    r = returns.to_numpy(dtype=np.float64) if isinstance(returns, pd.Series) else returns
    return deflated_sharpe_ratio(r, n_trials=n, sharpe_variance=variance)


__all__ = [
    "LEDGER_FILENAME",
    "TRIAL_KINDS",
    "TrialKind",
    "TrialLedger",
    "TrialRecord",
    "canonical_config",
    "config_hash",
    "default_ledger_path",
    "deflated_sharpe_from_ledger",
]
