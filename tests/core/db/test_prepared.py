"""Prepared statements: compiled once per driver, bound and read with SQLAlchemy's types."""

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import sqlite

from core.clock import UtcDateTime
from core.db import prepared
from core.db.prepared import bind_values, compile_prepared, result_rows

pytestmark = pytest.mark.anyio

events = sa.Table(
    "events",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("topic", sa.String(50)),
    sa.Column("at", UtcDateTime),
)
DIALECT = sqlite.dialect()


def test_parameters_come_in_the_driver_order_with_the_statements_own_defaults():
    statement = sa.select(events.c.id).where(
        events.c.topic == sa.bindparam("topic"), events.c.id > sa.bindparam("after", value=0)
    )
    compiled = compile_prepared(statement, DIALECT)
    assert compiled.sql.count("?") == 2
    assert bind_values(compiled, {"topic": "1:managers"}) == ["1:managers", 0]
    assert bind_values(compiled, {"topic": "t", "after": 7}) == ["t", 7]


def test_types_convert_on_the_way_in_and_out():
    when = datetime(2025, 3, 1, 12, 30, tzinfo=UTC)
    compiled = compile_prepared(events.insert().values(at=sa.bindparam("at")), DIALECT)
    (stored,) = bind_values(compiled, {"at": when})
    assert stored == "2025-03-01 12:30:00.000000"  # SQLite keeps naive UTC text
    read = compile_prepared(sa.select(events.c.id, events.c.at), DIALECT)
    assert result_rows(read, [(1, "2025-03-01 12:30:00.000000")]) == [{"id": 1, "at": when}]
    assert bind_values(compiled, {"at": None}) == [None]


def test_in_lists_are_refused():
    statement = sa.select(events.c.id).where(events.c.id.in_(sa.bindparam("ids", expanding=True)))
    with pytest.raises(ValueError, match="no IN lists"):
        compile_prepared(statement, DIALECT)


async def test_a_statement_is_compiled_once_and_runs_on_every_engine(db):
    statement = prepared(
        sa.select(sa.literal_column("version"))
        .select_from(sa.table("schema_migrations"))
        .where(sa.literal_column("version") == sa.bindparam("v", type_=sa.Integer))
    )
    assert await db.fetch_val(statement, {"v": 1}) == 1
    compiled = statement.sqlite or statement.asyncpg
    assert compiled is not None
    assert await db.fetch_all(statement, {"v": 1}) == [{"version": 1}]
    assert await db.fetch_one(statement, {"v": -1}) is None
    assert (statement.sqlite or statement.asyncpg) is compiled
