"""The model registry: versioned model artifacts on disk, indexed in SQLite.

Layout under the registry's ``root``::

    registry.sqlite            the index (SQLAlchemy 2, WAL journal): versions and decisions
    .lock                      advisory lock serialising writers between processes
    artifacts/<name>/v<N>/     what ``model.save(directory)`` wrote, plus ``metadata.json``

The SQLite index is the source of truth: a version exists when, and only when, its row is
committed. :meth:`ModelRegistry.register` writes the artifact into a hidden staging directory,
renames it to ``v<N>`` inside the open transaction and commits afterwards; an exception rolls the
row back and deletes the directory. A hard crash can leave a staging directory or a ``v<N>``
directory without a row; neither is ever listed or loaded, and the next writer removes them
(under the lock, so a write in progress elsewhere is never touched).

Loading refuses a model whose registered feature names (in order) or feature-set version differ
from what the caller will feed it (:class:`ModelRegistryError`): a model trained on other columns,
or on an older formula of the same columns, must not score silently.

Times are UTC. Data ranges are the first and last bar *open* times of the training rows.
"""

from __future__ import annotations

import builtins
import contextlib
import importlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol, Self, cast

import pandas as pd
from sqlalchemy import (
    JSON,
    Boolean,
    Engine,
    Integer,
    String,
    UniqueConstraint,
    create_engine,
    event,
    func,
    select,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from alphaforge.core.errors import AlphaForgeError, RegistryError
from alphaforge.features.panel import combined_feature_set_version as _feature_set_version
from alphaforge.storage.atomic import atomic_write_text, file_lock
from alphaforge.storage.sqlite import configure_wal

__all__ = [
    "STAGES",
    "ModelRegistry",
    "ModelRegistryError",
    "ModelVersion",
    "PromotionRecord",
    "SavableModel",
    "Stage",
]

Stage = Literal["candidate", "champion", "retired"]
#: Lifecycle stages: registered models start as ``candidate``; one ``champion`` per name.
STAGES: tuple[Stage, ...] = ("candidate", "champion", "retired")

INDEX_FILE = "registry.sqlite"
METADATA_FILE = "metadata.json"
_STAGING_PREFIX = ".staging-"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


class ModelRegistryError(AlphaForgeError):
    """A model version is missing, unloadable, or does not match the caller's features."""


class SavableModel(Protocol):
    """What the registry needs from a model: ``save`` to a directory, ``load`` back."""

    def save(self, directory: Path) -> None: ...


class _Base(DeclarativeBase):
    pass


class _VersionRow(_Base):
    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String, index=True)
    version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String)
    class_path: Mapped[str] = mapped_column(String)
    created_at: Mapped[str] = mapped_column(String)
    feature_names: Mapped[list[str]] = mapped_column(JSON)
    feature_set_version: Mapped[str] = mapped_column(String)
    data_start: Mapped[str] = mapped_column(String)
    data_end: Mapped[str] = mapped_column(String)
    symbols: Mapped[list[str]] = mapped_column(JSON)
    label: Mapped[str] = mapped_column(String)
    splitter: Mapped[str] = mapped_column(String)
    metrics: Mapped[dict[str, float]] = mapped_column(JSON)
    seed: Mapped[int] = mapped_column(Integer)
    code_version: Mapped[str] = mapped_column(String)
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    stage: Mapped[str] = mapped_column(String)
    path: Mapped[str] = mapped_column(String)


class _DecisionRow(_Base):
    __tablename__ = "promotion_decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String, index=True)
    version: Mapped[int] = mapped_column(Integer)
    previous_champion: Mapped[int | None] = mapped_column(Integer, nullable=True)
    decided_at: Mapped[str] = mapped_column(String)
    promoted: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(String)
    numbers: Mapped[dict[str, Any]] = mapped_column(JSON)


@dataclass(frozen=True)
class ModelVersion:
    """One registered model version and its metadata.

    ``data_start`` / ``data_end`` are the first and last training bar open times (UTC);
    ``path`` is the artifact directory. ``stage`` is read from the index, which is
    authoritative (``metadata.json`` is rewritten after each promotion).
    """

    name: str
    version: int
    kind: str
    class_path: str
    created_at: datetime
    feature_names: tuple[str, ...]
    feature_set_version: str
    data_start: pd.Timestamp
    data_end: pd.Timestamp
    symbols: tuple[str, ...]
    label: str
    splitter: str
    metrics: dict[str, float]
    seed: int
    code_version: str
    config: dict[str, Any]
    stage: str
    path: Path

    def to_dict(self) -> dict[str, Any]:
        """Return the metadata as JSON-ready values (what ``metadata.json`` holds)."""
        return {
            "name": self.name,
            "version": self.version,
            "kind": self.kind,
            "class_path": self.class_path,
            "created_at": self.created_at.isoformat(),
            "feature_names": list(self.feature_names),
            "feature_set_version": self.feature_set_version,
            "data_start": self.data_start.isoformat(),
            "data_end": self.data_end.isoformat(),
            "symbols": list(self.symbols),
            "label": self.label,
            "splitter": self.splitter,
            "metrics": dict(self.metrics),
            "seed": self.seed,
            "code_version": self.code_version,
            "config": dict(self.config),
            "stage": self.stage,
        }


@dataclass(frozen=True)
class PromotionRecord:
    """One champion/challenger decision: promoted or refused, why, and the test's numbers."""

    name: str
    version: int
    previous_champion: int | None
    decided_at: datetime
    promoted: bool
    reason: str
    numbers: dict[str, Any] = field(default_factory=dict)


def _utc_timestamp(value: pd.Timestamp | datetime | str, what: str) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise ModelRegistryError(f"{what} {value!r} is not a timestamp.") from exc
    if pd.isna(stamp):
        raise ModelRegistryError(f"{what} is missing (NaT).")
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _class_path(model: object) -> str:
    cls = type(model)
    return f"{cls.__module__}:{cls.__qualname__}"


def _import_class(path: str) -> Any:
    module_name, _, qualname = path.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise ModelRegistryError(
            f"Cannot import the model class {path!r}.",
            hint="Install the package that defines it, or register the model again.",
        ) from exc
    return obj


def _json_ready(value: Mapping[str, Any], what: str) -> dict[str, Any]:
    try:
        return cast(dict[str, Any], json.loads(json.dumps(dict(value))))
    except (TypeError, ValueError) as exc:
        raise ModelRegistryError(f"{what} is not JSON-serialisable: {exc}") from exc


def _describe_mismatch(registered: Sequence[str], given: Sequence[str]) -> str:
    missing = [n for n in registered if n not in set(given)]
    extra = [n for n in given if n not in set(registered)]
    if missing or extra:
        return f"missing {missing[:5]}, unexpected {extra[:5]}"
    return "same names in a different order"


class ModelRegistry:
    """Versioned model artifacts under ``root``, indexed in ``root/registry.sqlite``.

    Parameters
    ----------
    root
        The registry directory; created when missing.

    Notes
    -----
    Writers (register, promote) hold an exclusive file lock on ``root/.lock``; readers need
    none (SQLite's WAL journal lets them read while a writer commits). Call :meth:`close`
    (or use the registry as a context manager) to release the database connections.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._engine: Engine = create_engine(f"sqlite:///{self.root / INDEX_FILE}")
        event.listen(self._engine, "connect", _sqlite_pragmas)
        with file_lock(self.root / ".lock"):  # two processes creating the tables would race
            _Base.metadata.create_all(self._engine)

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        """Release the database connections."""
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _writing(self) -> Iterator[Session]:
        with file_lock(self.root / ".lock"), Session(self._engine) as session:
            yield session

    def _artifacts(self, name: str) -> Path:
        return self.root / "artifacts" / name

    # ------------------------------------------------------------------ writing
    def register(
        self,
        model: SavableModel,
        *,
        name: str,
        feature_names: Sequence[str],
        data_start: pd.Timestamp | datetime | str,
        data_end: pd.Timestamp | datetime | str,
        symbols: Sequence[str],
        label: str,
        splitter: str,
        metrics: Mapping[str, float],
        seed: int,
        code_version: str,
        config: Mapping[str, Any] | None = None,
        kind: str | None = None,
        feature_set_version: str | None = None,
    ) -> ModelVersion:
        """Save ``model`` as the next version of ``name`` and index it as a ``candidate``.

        Parameters
        ----------
        model
            A fitted model with ``save(directory)``; its class must offer ``load(directory)``
            and be importable by its module path (stored to reload it).
        name
            The model's name (letters, digits, ``_``, ``.``, ``-``).
        feature_names
            The input columns, in the order the model expects them.
        data_start, data_end
            First and last training bar open times (naive values are taken as UTC).
        symbols
            The training universe.
        label, splitter
            Human-readable descriptions of the label and the validation splitter.
        metrics
            Validation metrics (name to value).
        seed, code_version, config
            What reproduces the fit.
        kind
            The model family; defaults to the class name.
        feature_set_version
            Defaults to :func:`alphaforge.features.panel.combined_feature_set_version` of
            ``feature_names`` (every name must then be a registered per-symbol or panel
            feature).

        Returns
        -------
        ModelVersion
            The new version (numbers start at 1 and increase per name).

        Raises
        ------
        ModelRegistryError
            Bad name, unknown features, unordered data range, non-JSON metadata; or anything
            ``model.save`` raises propagates after the partial version is removed.
        """
        if not _NAME.match(name):
            raise ModelRegistryError(
                f"Model name {name!r} is invalid.",
                hint="Use letters, digits, '_', '.' or '-' (at most 128 characters).",
            )
        names = [str(n) for n in feature_names]
        if not names or len(set(names)) != len(names):
            raise ModelRegistryError("feature_names must be non-empty and unique.")
        start = _utc_timestamp(data_start, "data_start")
        end = _utc_timestamp(data_end, "data_end")
        if end < start:
            raise ModelRegistryError(f"data_end {end} is before data_start {start}.")
        fset = feature_set_version or self._feature_set_version(names)
        metrics_json = _json_ready({k: float(v) for k, v in metrics.items()}, "metrics")
        config_json = _json_ready(config or {}, "config")
        class_path = _class_path(model)
        if not callable(getattr(type(model), "load", None)):
            raise ModelRegistryError(f"{class_path} has no load(directory) class method.")

        with self._writing() as session:
            self._sweep(name)
            latest = session.scalar(
                select(func.max(_VersionRow.version)).where(_VersionRow.name == name)
            )
            version = int(latest or 0) + 1
            final = self._artifacts(name) / f"v{version}"
            staging = self._artifacts(name) / f"{_STAGING_PREFIX}{uuid.uuid4().hex}"
            staging.mkdir(parents=True)
            row = _VersionRow(
                name=name,
                version=version,
                kind=kind or type(model).__name__,
                class_path=class_path,
                created_at=datetime.now(UTC).isoformat(),
                feature_names=names,
                feature_set_version=fset,
                data_start=start.isoformat(),
                data_end=end.isoformat(),
                symbols=[str(s) for s in symbols],
                label=label,
                splitter=splitter,
                metrics=metrics_json,
                seed=int(seed),
                code_version=code_version,
                config=config_json,
                stage="candidate",
                path=str(final.relative_to(self.root)),
            )
            try:
                model.save(staging)
                record = self._to_version(row)
                atomic_write_text(
                    staging / METADATA_FILE, json.dumps(record.to_dict(), indent=2) + "\n"
                )
                _fsync_tree(staging)
                session.add(row)
                session.flush()
                _move_into_place(staging, final)
                session.commit()
            except BaseException:
                session.rollback()
                # The number is ours (we hold the lock), so whatever sits at ``final`` is ours.
                shutil.rmtree(staging, ignore_errors=True)
                shutil.rmtree(final, ignore_errors=True)
                raise
        return record

    def promote(
        self,
        name: str,
        version: int,
        *,
        reason: str,
        numbers: Mapping[str, Any] | None = None,
        promoted: bool = True,
    ) -> PromotionRecord:
        """Record a champion/challenger decision; when ``promoted``, make ``version`` champion.

        The previous champion (if any) becomes ``retired``. A refused challenger
        (``promoted=False``) keeps its stage, but the decision and its numbers are recorded
        all the same: every decision is kept (:meth:`decisions`).
        """
        numbers_json = _json_ready(numbers or {}, "numbers")
        with self._writing() as session:
            row = self._row(session, name, version)
            current = session.scalars(
                select(_VersionRow).where(_VersionRow.name == name, _VersionRow.stage == "champion")
            ).all()
            previous = max((r.version for r in current), default=None)
            decision = _DecisionRow(
                name=name,
                version=version,
                previous_champion=previous,
                decided_at=datetime.now(UTC).isoformat(),
                promoted=promoted,
                reason=reason,
                numbers=numbers_json,
            )
            session.add(decision)
            changed: list[_VersionRow] = []
            if promoted:
                for other in current:
                    if other.version != version:
                        other.stage = "retired"
                        changed.append(other)
                row.stage = "champion"
                changed.append(row)
            session.commit()
            record = self._to_decision(decision)
            # The index is authoritative; the metadata files follow it for humans and backups.
            for changed_row in changed:
                version_info = self._to_version(changed_row)
                atomic_write_text(
                    version_info.path / METADATA_FILE,
                    json.dumps(version_info.to_dict(), indent=2) + "\n",
                )
        return record

    # ------------------------------------------------------------------ reading
    def list(self, name: str | None = None) -> list[ModelVersion]:
        """Return every registered version (of ``name`` when given), by name then version."""
        query = select(_VersionRow).order_by(_VersionRow.name, _VersionRow.version)
        if name is not None:
            query = query.where(_VersionRow.name == name)
        with Session(self._engine) as session:
            return [self._to_version(r) for r in session.scalars(query)]

    def get(self, name: str, version: int | Literal["champion"] | None = None) -> ModelVersion:
        """Return one version: a number, ``"champion"``, or ``None`` for the latest."""
        with Session(self._engine) as session:
            return self._to_version(self._row(session, name, version))

    def decisions(self, name: str | None = None) -> builtins.list[PromotionRecord]:
        """Return every recorded promotion decision (of ``name`` when given), oldest first."""
        query = select(_DecisionRow).order_by(_DecisionRow.id)
        if name is not None:
            query = query.where(_DecisionRow.name == name)
        with Session(self._engine) as session:
            return [self._to_decision(r) for r in session.scalars(query)]

    def load(
        self,
        name: str,
        version: int | Literal["champion"] | None = None,
        *,
        expected_features: Sequence[str],
        expected_feature_set_version: str | None = None,
    ) -> Any:
        """Load a registered model after checking it matches the caller's features.

        Parameters
        ----------
        name, version
            As in :meth:`get`.
        expected_features
            The columns the caller will pass, in order.
        expected_feature_set_version
            The caller's feature-set version; defaults to
            :func:`alphaforge.features.panel.combined_feature_set_version` of
            ``expected_features`` (so a feature whose math changed since registration is
            caught).

        Raises
        ------
        ModelRegistryError
            The feature names, their order or the feature-set version differ from the
            registered ones; the artifact is missing; the model class cannot be imported.
        """
        info = self.get(name, version)
        given = [str(n) for n in expected_features]
        if list(info.feature_names) != given:
            raise ModelRegistryError(
                f"Model {name} v{info.version} was trained on {len(info.feature_names)} "
                f"features that differ from the {len(given)} given "
                f"({_describe_mismatch(info.feature_names, given)}).",
                hint="Compute the registered feature set, or retrain and register a new version.",
            )
        fset = expected_feature_set_version or self._feature_set_version(given)
        if fset != info.feature_set_version:
            raise ModelRegistryError(
                f"Model {name} v{info.version} was trained on feature-set version "
                f"{info.feature_set_version}, the given features are version {fset}.",
                hint="A feature's formula changed since training: retrain the model.",
            )
        if not (info.path / METADATA_FILE).is_file():
            raise ModelRegistryError(f"The artifact of {name} v{info.version} is missing.")
        cls = _import_class(info.class_path)
        return cls.load(info.path)

    # ------------------------------------------------------------------ helpers
    def _row(
        self, session: Session, name: str, version: int | Literal["champion"] | None
    ) -> _VersionRow:
        query = select(_VersionRow).where(_VersionRow.name == name)
        if version is None:
            query = query.order_by(_VersionRow.version.desc()).limit(1)
        elif version == "champion":
            query = query.where(_VersionRow.stage == "champion")
        else:
            query = query.where(_VersionRow.version == int(version))
        row = session.scalars(query).first()
        if row is None:
            what = "any version" if version is None else f"version {version}"
            raise ModelRegistryError(
                f"The registry has no {what} of model {name!r}.",
                hint="List the registered models with `alphaforge models list`.",
            )
        return row

    def _to_version(self, row: _VersionRow) -> ModelVersion:
        return ModelVersion(
            name=row.name,
            version=row.version,
            kind=row.kind,
            class_path=row.class_path,
            created_at=datetime.fromisoformat(row.created_at),
            feature_names=tuple(row.feature_names),
            feature_set_version=row.feature_set_version,
            data_start=pd.Timestamp(row.data_start),
            data_end=pd.Timestamp(row.data_end),
            symbols=tuple(row.symbols),
            label=row.label,
            splitter=row.splitter,
            metrics=dict(row.metrics),
            seed=row.seed,
            code_version=row.code_version,
            config=dict(row.config),
            stage=row.stage,
            path=self.root / row.path,
        )

    @staticmethod
    def _to_decision(row: _DecisionRow) -> PromotionRecord:
        return PromotionRecord(
            name=row.name,
            version=row.version,
            previous_champion=row.previous_champion,
            decided_at=datetime.fromisoformat(row.decided_at),
            promoted=row.promoted,
            reason=row.reason,
            numbers=dict(row.numbers),
        )

    @staticmethod
    def _feature_set_version(names: builtins.list[str]) -> str:
        try:
            return _feature_set_version(names)
        except RegistryError as exc:
            raise ModelRegistryError(
                f"Cannot version the feature set: {exc}",
                hint="Pass feature_set_version explicitly for columns that are not "
                "registered features.",
            ) from exc

    def _sweep(self, name: str) -> None:
        """Remove what a crashed writer left for ``name`` (caller holds the lock)."""
        directory = self._artifacts(name)
        if not directory.is_dir():
            return
        with Session(self._engine) as session:
            known = set(session.scalars(select(_VersionRow.path).where(_VersionRow.name == name)))
        for child in directory.iterdir():
            relative = str(child.relative_to(self.root))
            if child.name.startswith(_STAGING_PREFIX) or (
                child.name.startswith("v") and relative not in known
            ):
                shutil.rmtree(child, ignore_errors=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        # FULL: a committed version survives power loss (NORMAL may drop the last commit).
        configure_wal(cursor, busy_timeout_ms=30_000, synchronous="FULL")
    finally:
        cursor.close()


def _fsync_tree(directory: Path) -> None:
    """Flush every file under ``directory`` so the rename publishes complete bytes."""
    for path in sorted(directory.rglob("*")):
        if path.is_file():
            fd = os.open(path, os.O_RDWR | getattr(os, "O_BINARY", 0))
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


def _move_into_place(staging: Path, final: Path) -> None:
    """Rename the finished staging directory to its version directory (atomic on POSIX)."""
    os.replace(staging, final)
