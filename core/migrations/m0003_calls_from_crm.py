"""Calls from the CRM: the PBX connection, click-to-call requests, bot reactions and their jobs."""

VERSION = 3


def statements(dialect: str) -> list[str]:
    return [
        # One PBX per project; `api` remembers which of its APIs answered ('rest' or 'legacy').
        """CREATE TABLE pbx_connections (
            project_id INTEGER PRIMARY KEY REFERENCES projects (id),
            base_url VARCHAR(300) NOT NULL,
            api_token VARCHAR(300) NOT NULL,
            api VARCHAR(8) NOT NULL DEFAULT '',
            connected_at {ts} NOT NULL,
            checked_at {ts},
            check_result TEXT NOT NULL DEFAULT ''
        )""",
        # Every makeCall we sent (or refused), for "no double calls" and for the card's progress.
        """CREATE TABLE call_requests (
            id {pk},
            project_id INTEGER NOT NULL REFERENCES projects (id),
            client_id INTEGER REFERENCES clients (id) ON DELETE SET NULL,
            user_id INTEGER REFERENCES users (id),
            source VARCHAR(8) NOT NULL,
            pbx_user VARCHAR(200) NOT NULL,
            phone VARCHAR(40) NOT NULL,
            state VARCHAR(8) NOT NULL,
            callid VARCHAR(200) NOT NULL DEFAULT '',
            error TEXT NOT NULL DEFAULT '',
            created_at {ts} NOT NULL
        )""",
        "CREATE INDEX call_requests_recent ON call_requests (project_id, pbx_user, phone, id)",
        """CREATE TABLE bot_reactions (
            id {pk},
            project_id INTEGER NOT NULL REFERENCES projects (id),
            pattern TEXT NOT NULL,
            actions TEXT NOT NULL,
            is_active BOOLEAN NOT NULL,
            created_at {ts} NOT NULL
        )""",
        "CREATE INDEX bot_reactions_project ON bot_reactions (project_id, id)",
        # Reactions to run, written in the transaction of the message that triggered them and
        # run after its commit: a crash between the two loses nothing.
        """CREATE TABLE bot_jobs (
            id {pk},
            project_id INTEGER NOT NULL REFERENCES projects (id),
            client_id INTEGER NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
            reaction_id INTEGER NOT NULL REFERENCES bot_reactions (id) ON DELETE CASCADE,
            message_id INTEGER,
            state VARCHAR(8) NOT NULL,
            result TEXT NOT NULL DEFAULT '',
            created_at {ts} NOT NULL,
            finished_at {ts}
        )""",
        "CREATE INDEX bot_jobs_state ON bot_jobs (state, id)",
    ]
