"""Which calls the CRM may place (issue 11, item 7), and bounded storage (item 8)."""

VERSION = 7


def statements(dialect: str) -> list[str]:
    return [
        # A project without a row has the defaults: Russian numbers only, 30 calls a minute
        # and 300 an hour through the API and bots.
        """CREATE TABLE call_rules (
            project_id INTEGER PRIMARY KEY REFERENCES projects (id),
            international BOOLEAN NOT NULL,
            premium BOOLEAN NOT NULL,
            per_minute INTEGER NOT NULL,
            per_hour INTEGER NOT NULL,
            updated_at {ts} NOT NULL
        )""",
        # The rate limit counts a project's recent requests.
        "CREATE INDEX call_requests_created ON call_requests (project_id, created_at)",
        # The journal's purge forgets the dedup keys of the deliveries it forgets.
        "CREATE INDEX webhook_effects_delivery ON webhook_effects (project_id, delivery_id)",
        # Webhooks with a wrong token, counted per hour for the whole install (a wrong token
        # names no project), never stored one by one.
        """CREATE TABLE wrong_token_counts (
            hour {ts} PRIMARY KEY,
            requests INTEGER NOT NULL
        )""",
    ]
