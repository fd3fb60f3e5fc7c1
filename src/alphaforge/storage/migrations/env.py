"""Alembic environment of the trading ledger: runs on the connection ``Ledger.open`` passes.

``Ledger.open`` builds the Alembic ``Config`` in code and puts an open connection, inside its
transaction, in ``config.attributes["connection"]``; the whole upgrade commits or rolls back
with it. There is no offline (SQL script) mode.
"""

from __future__ import annotations

from alembic import context

from alphaforge.storage.ledger_tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "the ledger's migrations run through alphaforge.storage.ledger.Ledger.open, "
        "which passes the connection"
    )
context.configure(connection=connection, target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
