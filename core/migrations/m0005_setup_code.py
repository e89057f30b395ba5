"""The one-time setup code: a fresh install asks for it before anyone may create the project."""

VERSION = 5


def statements(dialect: str) -> list[str]:
    return [
        # At most one row (id 1), while the install has no employee; deleted by the setup.
        """CREATE TABLE setup_codes (
            id INTEGER PRIMARY KEY,
            code VARCHAR(40) NOT NULL,
            created_at {ts} NOT NULL
        )""",
    ]
