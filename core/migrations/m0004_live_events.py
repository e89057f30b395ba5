"""Live updates: the event log that open pages follow and replay after a reconnect."""

VERSION = 4


def statements(dialect: str) -> list[str]:
    # Ids never go back, even when the newest events have been purged: a page that saw id N
    # must find every later event above N (SQLite reuses the largest rowid without this).
    pk = "INTEGER PRIMARY KEY AUTOINCREMENT" if dialect == "sqlite" else "{pk}"
    return [
        # One row per thing an open page should show; `id` is the SSE event id. A stream reads
        # its topics (`<project>:client:<id>`, `<project>:user:<id>`, `<project>:managers`)
        # after the id it last saw, so a reconnect replays exactly what it missed.
        f"""CREATE TABLE live_events (
            id {pk},
            project_id INTEGER NOT NULL,
            topic VARCHAR(60) NOT NULL,
            name VARCHAR(40) NOT NULL,
            data TEXT NOT NULL,
            created_at {{ts}} NOT NULL
        )""",
        "CREATE INDEX live_events_topic ON live_events (topic, id)",
        "CREATE INDEX live_events_created ON live_events (created_at)",
        # The topics an incoming-call popup went to, so that the end of the call closes it there.
        "ALTER TABLE calls ADD COLUMN popup_topics TEXT NOT NULL DEFAULT ''",
    ]
