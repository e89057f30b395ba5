"""«Пропущенные» (issue 12, item 3): a queue of clients who called and were not answered.

One item per client while it is open (a partial unique index): each missed or unanswered
inbound call opens it or adds an attempt to it; an answered call with the client closes it by
itself and records who reached the client and how long after the first attempt; an employee can
close it by hand with a reason. `missed_settings` holds the admin's waiting thresholds; a project
without a row has the defaults (15 min and 1 h)."""

VERSION = 10


def statements(dialect: str) -> list[str]:
    return [
        """CREATE TABLE missed_calls (
            id {pk},
            project_id INTEGER NOT NULL REFERENCES projects (id),
            client_id INTEGER NOT NULL REFERENCES clients (id),
            phone VARCHAR(40) NOT NULL DEFAULT '',
            attempts INTEGER NOT NULL,
            first_call_id INTEGER NOT NULL REFERENCES calls (id),
            last_call_id INTEGER NOT NULL REFERENCES calls (id),
            opened_at {ts} NOT NULL,
            last_attempt_at {ts} NOT NULL,
            closed_at {ts},
            close_kind VARCHAR(16) NOT NULL DEFAULT '',
            close_reason VARCHAR(200) NOT NULL DEFAULT '',
            closed_by_call_id INTEGER REFERENCES calls (id),
            closed_by_pbx_user VARCHAR(200) NOT NULL DEFAULT '',
            closed_by_user_id INTEGER REFERENCES users (id),
            callback_seconds INTEGER
        )""",
        # At most one open item per client; the queue reads the open ones, longest waiting first.
        "CREATE UNIQUE INDEX missed_calls_open_client ON missed_calls (project_id, client_id)"
        " WHERE closed_at IS NULL",
        "CREATE INDEX missed_calls_open ON missed_calls (project_id, opened_at)"
        " WHERE closed_at IS NULL",
        # Analytics reads the items closed in a period (time to callback).
        "CREATE INDEX missed_calls_closed ON missed_calls (project_id, closed_at)",
        "CREATE INDEX missed_calls_client ON missed_calls (client_id, id)",
        """CREATE TABLE missed_settings (
            project_id INTEGER PRIMARY KEY REFERENCES projects (id),
            warn_minutes INTEGER NOT NULL,
            alert_minutes INTEGER NOT NULL,
            updated_at {ts} NOT NULL
        )""",
    ]
