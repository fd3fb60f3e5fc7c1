"""Alembic migrations of the trading ledger, applied by ``Ledger.open`` (no alembic.ini needed).

To change the schema, change ``storage/ledger_tables.py`` and add the next revision (numbered:
``0002``, ``0003`` ...), e.g. from Python::

    from alembic import command
    from alphaforge.storage.ledger import alembic_config

    command.revision(alembic_config(), message="what changes", rev_id="0002")

then write its ``upgrade``. ``Ledger.open`` applies it, and
``tests/unit/storage/test_ledger_migrations.py`` checks that the migrated schema equals the
tables and that the history keeps one head.
"""
