"""Ledger migrations: applied on open, a no-op when current, one head, older databases upgraded."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from alphaforge.storage import ledger_db
from alphaforge.storage.ledger import Ledger, LedgerError, alembic_config
from alphaforge.storage.ledger_tables import metadata

HEAD = "0001"

#: A later revision, as a later issue would add one.
_REVISION_0002 = '''
"""Test revision: adds a table."""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("later", sa.Column("id", sa.Integer, primary_key=True))
    op.add_column("alerts", sa.Column("acknowledged", sa.Boolean, nullable=True))


def downgrade() -> None:
    op.drop_column("alerts", "acknowledged")
    op.drop_table("later")
'''


def _revision(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return set(MigrationContext.configure(conn).get_current_heads())
    finally:
        engine.dispose()


def _tables(url: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_the_history_is_one_line_from_revision_0001() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    assert script.get_heads() == [HEAD]
    assert script.get_bases() == ["0001"]
    revisions = list(script.walk_revisions())
    assert all(len(r.revision) == 4 and r.revision.isdigit() for r in revisions)


def test_open_migrates_an_empty_database_to_the_tables(ledger_url: str) -> None:
    with Ledger.open(ledger_url) as ledger, ledger.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    assert _revision(ledger_url) == {HEAD}
    assert set(metadata.tables) | {"alembic_version"} == _tables(ledger_url)


def test_a_second_open_of_a_current_database_changes_nothing(
    ledger_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Ledger.open(ledger_url) as ledger:
        ledger.set_cash(100.0, "funding")
        before = ledger.trading_state_history()

    def no_upgrade(*_: object, **__: object) -> None:
        raise AssertionError("a current database was migrated again")

    monkeypatch.setattr(command, "upgrade", no_upgrade)
    with Ledger.open(ledger_url) as again:
        assert again.trading_state_history() == before  # not seeded twice
        assert again.cash() == 100.0
    assert _revision(ledger_url) == {HEAD}


def test_a_database_at_an_older_revision_is_upgraded_on_open(
    ledger_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Ledger.open(ledger_url) as ledger:
        ledger.add_alert("info", "test", "before the upgrade")
    newer = tmp_path / "migrations"
    shutil.copytree(ledger_db.MIGRATIONS_DIR, newer, ignore=shutil.ignore_patterns("__pycache__"))
    (newer / "versions" / "0002_later.py").write_text(_REVISION_0002)
    monkeypatch.setattr(ledger_db, "MIGRATIONS_DIR", newer)
    with Ledger.open(ledger_url) as ledger:
        assert [a.message for a in ledger.alerts()] == ["before the upgrade"]
    assert _revision(ledger_url) == {"0002"}
    assert "later" in _tables(ledger_url)


def test_a_database_from_a_newer_alphaforge_is_refused(
    ledger_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    newer = tmp_path / "migrations"
    shutil.copytree(ledger_db.MIGRATIONS_DIR, newer, ignore=shutil.ignore_patterns("__pycache__"))
    (newer / "versions" / "0002_later.py").write_text(_REVISION_0002)
    with monkeypatch.context() as patch:
        patch.setattr(ledger_db, "MIGRATIONS_DIR", newer)
        Ledger.open(ledger_url).close()
    with pytest.raises(LedgerError, match="0002") as caught:
        Ledger.open(ledger_url)
    assert "newer AlphaForge" in caught.value.hint


def test_a_failed_migration_leaves_the_database_as_it_was(
    ledger_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Ledger.open(ledger_url).close()
    newer = tmp_path / "migrations"
    shutil.copytree(ledger_db.MIGRATIONS_DIR, newer, ignore=shutil.ignore_patterns("__pycache__"))
    broken = _REVISION_0002.replace('op.add_column("alerts"', 'op.add_column("no_such_table"')
    (newer / "versions" / "0002_later.py").write_text(broken)
    monkeypatch.setattr(ledger_db, "MIGRATIONS_DIR", newer)
    with pytest.raises(LedgerError):
        Ledger.open(ledger_url)
    assert _revision(ledger_url) == {HEAD}
    assert "later" not in _tables(ledger_url)  # the revision's first step was rolled back


def test_the_revision_can_be_downgraded_and_reapplied(ledger_url: str) -> None:
    url = ledger_url
    Ledger.open(url).close()
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            config = alembic_config()
            config.attributes["connection"] = conn
            command.downgrade(config, "base")
        assert set(sa.inspect(engine).get_table_names()) == {"alembic_version"}
    finally:
        engine.dispose()
    with Ledger.open(url) as ledger:
        assert ledger.trading_state().state == "active"
    assert _revision(url) == {HEAD}
