"""Statements built once with `bindparam()`s and run thousands of times a second.

`prepared(statement)` marks a statement for the hot paths. Each engine compiles it once for
its driver (`compile_prepared`) and runs the SQL text straight on the driver (the `sqlite3`
cursor, the asyncpg connection), with SQLAlchemy's own bind and result processors, so that
`UtcDateTime` and friends still apply. Measured: `databases` + aiosqlite compiled every
statement and crossed a thread for each, which held the webhook endpoint to 51 requests/s.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler


class Compiled(NamedTuple):
    """A statement compiled for one driver: what running it needs, and nothing else."""

    sql: str
    names: Sequence[str]  # the driver's parameters, in order
    defaults: Mapping[str, Any]  # values given in the statement itself
    processors: Mapping[str, Any]  # SQLAlchemy's bind processors: Python value → driver value
    columns: Sequence[tuple[str, Callable[[Any], Any] | None]]  # key, driver value → Python


class Prepared:
    """A statement built once at import with `bindparam()`s, compiled once per driver."""

    __slots__ = ("asyncpg", "sqlite", "statement")

    def __init__(self, statement: ClauseElement) -> None:
        self.statement = statement
        self.sqlite: Compiled | None = None
        self.asyncpg: Compiled | None = None  # `$n` parameters; inserts return their ids


def prepared(statement: ClauseElement) -> Prepared:
    """Mark `statement` for the hot path: it takes plain parameters only (no IN lists)."""
    return Prepared(statement)


def compile_prepared(statement: ClauseElement, dialect: Dialect) -> Compiled:
    """SQL text, parameter order, default values, bind and result processors, once."""
    compiled = statement.compile(dialect=dialect)
    assert isinstance(compiled, SQLCompiler)
    if compiled._post_compile_expanded_state is not None or compiled.post_compile_params:
        raise ValueError("prepared statements take plain parameters only (no IN lists)")
    defaults = {name: bind.value for bind, name in compiled.bind_names.items()}
    columns = [
        (entry.keyname, entry.type._cached_result_processor(dialect, None))
        for entry in compiled._result_columns
    ]
    return Compiled(
        str(compiled),
        compiled.positiontup or [],
        defaults,
        compiled._bind_processors,
        columns,
    )


def bind_values(compiled: Compiled, values: Mapping[str, Any] | None) -> list[Any]:
    """The driver's positional parameters: given values, else the statement's own."""
    _, names, defaults, processors, _ = compiled
    values = values or {}
    parameters = []
    for name in names:
        value = values[name] if name in values else defaults[name]
        processor = processors.get(name)
        parameters.append(processor(value) if processor and value is not None else value)
    return parameters


def result_rows(compiled: Compiled, rows: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
    """The driver's rows as dicts of Python values."""
    columns = compiled.columns
    return [
        {key: (p(v) if p else v) for (key, p), v in zip(columns, row, strict=True)} for row in rows
    ]
