"""Nothing lost even when we were down (issue 13): reconciliation with the PBX's call history,
recordings kept by the CRM, the PBX's employees.

- `messages.origin`, `webhook_deliveries.origin`: '' for what the PBX pushed, `pbx_history` for
  what reconciliation read back from the PBX's history («восстановлено из истории АТС»).
- `calls.restored_at`: when reconciliation first told the CRM something about the call;
  `calls.status_raw`: a `status` the CRM does not know, kept as it came (the call's `status`
  then holds the fallback it was applied as).
- `pbx_sync`: one row per project: how far the history has been read, the last run's outcome,
  and the lease that keeps one reconciler per project at a time across processes.
- `recordings`: the CRM's own copy of each call's recording, its download state and retries;
  `recording_settings`: how many days an admin keeps them.
- `pbx_users`, `pbx_user_lists`: the PBX's employees as last read, for «Сотрудники»."""

VERSION = 13


def statements(dialect: str) -> list[str]:
    big = "BIGINT" if dialect == "postgresql" else "INTEGER"
    return [
        "ALTER TABLE messages ADD COLUMN origin VARCHAR(16) NOT NULL DEFAULT ''",
        "ALTER TABLE webhook_deliveries ADD COLUMN origin VARCHAR(16) NOT NULL DEFAULT ''",
        "ALTER TABLE calls ADD COLUMN restored_at {ts}",
        "ALTER TABLE calls ADD COLUMN status_raw VARCHAR(40) NOT NULL DEFAULT ''",
        # «восстановлено за сутки» on «Телефония»
        "CREATE INDEX calls_project_restored ON calls (project_id, restored_at)"
        " WHERE restored_at IS NOT NULL",
        """CREATE TABLE pbx_sync (
            project_id INTEGER PRIMARY KEY REFERENCES projects (id),
            synced_until {ts},
            started_at {ts},
            finished_at {ts},
            result VARCHAR(16) NOT NULL DEFAULT '',
            error TEXT NOT NULL DEFAULT '',
            calls_read INTEGER NOT NULL DEFAULT 0,
            calls_restored INTEGER NOT NULL DEFAULT 0,
            lease_owner VARCHAR(64) NOT NULL DEFAULT '',
            lease_until {ts}
        )""",
        f"""CREATE TABLE recordings (
            call_id INTEGER PRIMARY KEY REFERENCES calls (id),
            project_id INTEGER NOT NULL REFERENCES projects (id),
            state VARCHAR(16) NOT NULL,
            source_url TEXT NOT NULL,
            path VARCHAR(300) NOT NULL DEFAULT '',
            size {big} NOT NULL DEFAULT 0,
            content_type VARCHAR(100) NOT NULL DEFAULT '',
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at {{ts}},
            last_error TEXT NOT NULL DEFAULT '',
            created_at {{ts}} NOT NULL,
            stored_at {{ts}}
        )""",
        "CREATE INDEX recordings_due ON recordings (state, next_attempt_at)",
        "CREATE INDEX recordings_project_stored ON recordings (project_id, stored_at)",
        """CREATE TABLE recording_settings (
            project_id INTEGER PRIMARY KEY REFERENCES projects (id),
            keep_days INTEGER NOT NULL,
            updated_at {ts} NOT NULL
        )""",
        """CREATE TABLE pbx_users (
            project_id INTEGER NOT NULL REFERENCES projects (id),
            login VARCHAR(200) NOT NULL,
            name VARCHAR(200) NOT NULL DEFAULT '',
            ext VARCHAR(40) NOT NULL DEFAULT '',
            telnum VARCHAR(40) NOT NULL DEFAULT '',
            email VARCHAR(254) NOT NULL DEFAULT '',
            PRIMARY KEY (project_id, login)
        )""",
        """CREATE TABLE pbx_user_lists (
            project_id INTEGER PRIMARY KEY REFERENCES projects (id),
            fetched_at {ts},
            error TEXT NOT NULL DEFAULT ''
        )""",
    ]
