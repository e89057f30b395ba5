"""A call is one living item in the dialog (issue 12, item 5): the `megafon_call_*` system
messages a call writes carry its id, so the dialog shows them beside their call."""

VERSION = 11


def statements(dialect: str) -> list[str]:
    return [
        "ALTER TABLE messages ADD COLUMN call_id INTEGER REFERENCES calls (id)",
    ]
