"""The migrations build exactly the schema the models describe (SQLite and PostgreSQL).

The migrations are written by hand; a table, column or index the models expect
but no migration creates (or the reverse) would only show as a slow query or a
failure on a real database.  Alembic compares the migrated database with the models.
"""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine
from sqlmodel import SQLModel

import bot.store.clockindex
import bot.store.copies
import bot.store.lease
import bot.store.models
import bot.store.people
import bot.store.signed
from bot.store.db import upgrade

pytestmark = pytest.mark.storage

# Every module that declares tables (imported for their side effect on the metadata).
TABLE_MODULES = (bot.store.models, bot.store.clockindex, bot.store.copies, bot.store.lease,
                 bot.store.people, bot.store.signed)


def test_migrated_schema_equals_the_models(db_url: str) -> None:
    upgrade(db_url)
    engine = create_engine(db_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": False})
            diff = compare_metadata(context, SQLModel.metadata)
    finally:
        engine.dispose()
    assert diff == []
    assert {"case", "event", "caseclock", "servicelease", "alternatecopy", "person",
            "signedcontent"} <= set(SQLModel.metadata.tables)


def test_versions_read_without_alembic_are_alembics(db_url: str) -> None:
    from alembic.runtime.migration import MigrationContext

    from bot.store.db import _alembic_head, current_revision, file_head, head_revision, make_engine

    # The fast path reads the head from the files, and agrees with alembic.
    assert file_head() == head_revision() == _alembic_head() is not None
    engine = make_engine(db_url)
    try:
        assert current_revision(engine) is None  # never migrated
        upgrade(db_url)
        with engine.connect() as connection:
            expected = MigrationContext.configure(connection).get_current_revision()
        assert current_revision(engine) == expected == head_revision()
    finally:
        engine.dispose()
