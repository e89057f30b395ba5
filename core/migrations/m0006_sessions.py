"""Sessions as server-side records, so that signing out, a new password, a new role or
deactivation can end them (issue 11, item 2)."""

VERSION = 6


def statements(dialect: str) -> list[str]:
    return [
        # The cookie carries a random token; only its SHA-256 is kept, so reading this table
        # gives no one a working cookie. An ended session's row is deleted.
        """CREATE TABLE sessions (
            id {pk},
            token_hash CHAR(64) NOT NULL UNIQUE,
            user_id INTEGER NOT NULL,
            project_id INTEGER NOT NULL,
            created_at {ts} NOT NULL,
            last_seen_at {ts} NOT NULL,
            address VARCHAR(64) NOT NULL DEFAULT '',
            user_agent VARCHAR(300) NOT NULL DEFAULT ''
        )""",
        "CREATE INDEX sessions_user ON sessions (user_id)",
        "CREATE INDEX sessions_last_seen ON sessions (last_seen_at)",
    ]
