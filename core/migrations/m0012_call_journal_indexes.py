"""«Звонки» at a million calls (issue 12, «Speed»): two more indexes on `calls`, measured with
`bench/calls_million.py`.

- `(project_id, created_at, id)`: a period. The journal reads the lowest and highest id of
  the period's calls from this index alone, then walks the project's calls newest first
  within them, so its first page never sorts a month of calls; «Аналитика» counts a period
  over the same range. (SQLite keeps the id in every index anyway; PostgreSQL needs it
  written for an index-only scan.)
- `(project_id, pbx_user, id)`: an employee, 2% of the calls each in a team of 50: without
  it a page walks 50 calls to find one.

Direction and status have none: the commonest values match every second call, and the
rarest status measured (NotFound, 0.4% of the calls) still fills a page within ~13,000
calls of the project's newest-first walk (~20 ms at a million). Each index costs every
webhook's writes (bench/webhooks.py; the README has the numbers)."""

VERSION = 12


def statements(dialect: str) -> list[str]:
    return [
        "CREATE INDEX calls_project_created ON calls (project_id, created_at, id)",
        "CREATE INDEX calls_project_user ON calls (project_id, pbx_user, id)",
    ]
