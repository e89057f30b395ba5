"""«Журнал действий» (issue 11, item 12), and emails unique per project only (item 11), so an
admin cannot learn whether an email is taken in another project."""

VERSION = 8


def statements(dialect: str) -> list[str]:
    return [
        """CREATE TABLE audit_log (
            id {pk},
            project_id INTEGER NOT NULL REFERENCES projects (id),
            created_at {ts} NOT NULL,
            action VARCHAR(40) NOT NULL,
            actor_id INTEGER REFERENCES users (id),
            actor_email VARCHAR(254) NOT NULL DEFAULT '',
            subject_id INTEGER REFERENCES users (id),
            address VARCHAR(64) NOT NULL DEFAULT '',
            details TEXT NOT NULL DEFAULT '{{}}'
        )""",
        "CREATE INDEX audit_log_project ON audit_log (project_id, id)",
        # One account per email in a project; the same email may sign in to several projects.
        "DROP INDEX users_email",
        "CREATE UNIQUE INDEX users_project_email ON users (project_id, email)",
        "CREATE INDEX users_email ON users (email, id)",
    ]
