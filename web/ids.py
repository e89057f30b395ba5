"""Ids in addresses, query strings and forms: ASCII digits within the database's range.

`{client_id:id}` in a route matches digits like Starlette's `int`; an id no database column
can hold (past 2,147,483,647, PostgreSQL's `integer`) names nothing, so it becomes 0, which no
row has, and the page answers 404 instead of the driver failing on it. `parse_id` reads a
query or form value the same way: `²` or `١` are digits to `str.isdigit`, not ids."""

from __future__ import annotations

from starlette.convertors import Convertor, register_url_convertor

MAX_ID = 2**31 - 1
NO_ROW = 0  # ids start at 1


def parse_id(text: str) -> int | None:
    """`text` as an id, or None when it is not one."""
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(MAX_ID)):
        return None
    number = int(text)
    return number if number <= MAX_ID else None


class IdConvertor(Convertor[int]):
    regex = "[0-9]+"

    def convert(self, value: str) -> int:
        number = parse_id(value)
        return NO_ROW if number is None else number

    def to_string(self, value: int) -> str:
        return str(int(value))


def register_id_convertor() -> None:
    """Let routes say `{name:id}` (Starlette keeps convertors by name, for the process)."""
    register_url_convertor("id", IdConvertor())
