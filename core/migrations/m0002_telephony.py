"""Calls, the raw webhook journal, and the keys that make each webhook take effect once."""

VERSION = 2


def statements(dialect: str) -> list[str]:
    return [
        """CREATE TABLE calls (
            id {pk},
            project_id INTEGER NOT NULL REFERENCES projects (id),
            callid VARCHAR(200) NOT NULL,
            client_id INTEGER REFERENCES clients (id) ON DELETE SET NULL,
            phone VARCHAR(40) NOT NULL DEFAULT '',
            direction VARCHAR(3) NOT NULL DEFAULT '',
            pbx_user VARCHAR(200) NOT NULL DEFAULT '',
            ext VARCHAR(40) NOT NULL DEFAULT '',
            telnum VARCHAR(40) NOT NULL DEFAULT '',
            diversion VARCHAR(40) NOT NULL DEFAULT '',
            group_name VARCHAR(200) NOT NULL DEFAULT '',
            last_event VARCHAR(16) NOT NULL DEFAULT '',
            status VARCHAR(16) NOT NULL DEFAULT '',
            started_at {ts},
            duration INTEGER,
            wait INTEGER,
            record_link TEXT NOT NULL DEFAULT '',
            rating INTEGER,
            second_callid VARCHAR(200) NOT NULL DEFAULT '',
            transferred_from VARCHAR(200) NOT NULL DEFAULT '',
            incoming_at {ts},
            accepted_at {ts},
            ended_at {ts},
            created_at {ts} NOT NULL,
            updated_at {ts} NOT NULL
        )""",
        "CREATE UNIQUE INDEX calls_callid ON calls (project_id, callid)",
        "CREATE INDEX calls_client ON calls (client_id, id)",
        # Every webhook with a valid token, exactly as it arrived, and what became of it.
        """CREATE TABLE webhook_deliveries (
            id {pk},
            project_id INTEGER NOT NULL REFERENCES projects (id),
            received_at {ts} NOT NULL,
            cmd VARCHAR(40) NOT NULL DEFAULT '',
            event_type VARCHAR(40) NOT NULL DEFAULT '',
            callid VARCHAR(200) NOT NULL DEFAULT '',
            payload TEXT NOT NULL,
            result VARCHAR(16) NOT NULL,
            error TEXT NOT NULL DEFAULT '',
            processed_at {ts}
        )""",
        "CREATE INDEX webhook_deliveries_project ON webhook_deliveries (project_id, id)",
        "CREATE INDEX webhook_deliveries_result ON webhook_deliveries (project_id, result, id)",
        """CREATE TABLE webhook_effects (
            project_id INTEGER NOT NULL REFERENCES projects (id),
            key VARCHAR(300) NOT NULL,
            delivery_id INTEGER NOT NULL,
            PRIMARY KEY (project_id, key)
        )""",
    ]
