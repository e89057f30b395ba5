"""«Звонки» (issue 12, item 1): a project's calls newest first, and by number.

Two indexes only: the journal pages by id within a project (filters by period, status,
direction and employee read that range and skip what does not match), and the search by number
is a range of its own. Each index on `calls` makes every webhook's writes larger, and with
three more (period, status, employee) a full disk surfaced inside the webhook's savepoint as a
500 instead of a 503 (tests/web/test_storage_unavailable.py): that is for `core/db` to fix
before more indexes come."""

VERSION = 9


def statements(dialect: str) -> list[str]:
    return [
        "CREATE INDEX calls_project ON calls (project_id, id)",
        "CREATE INDEX calls_project_phone ON calls (project_id, phone, id)",
    ]
