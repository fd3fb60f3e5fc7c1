"""Alembic migrations of the trading ledger, applied by ``Ledger.open`` (no alembic.ini needed).

To change the schema, change ``storage/ledger_tables.py`` and add a revision in ``versions/``
(``NNNN_what.py`` with ``down_revision`` the newest one's ``revision``); ``Ledger.open`` applies
it, and ``tests/unit/storage/test_ledger_migrations.py`` checks that the migrated schema equals
the tables.
"""
