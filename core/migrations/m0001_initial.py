"""Projects, employees, clients with variables and search terms, dialog messages."""

VERSION = 1


def statements(dialect: str) -> list[str]:
    return [
        """CREATE TABLE projects (
            id {pk},
            name VARCHAR(200) NOT NULL,
            api_key VARCHAR(64) UNIQUE,
            messengers VARCHAR(200) NOT NULL DEFAULT '',
            created_at {ts} NOT NULL
        )""",
        """CREATE TABLE users (
            id {pk},
            project_id INTEGER NOT NULL REFERENCES projects (id),
            email VARCHAR(254) NOT NULL,
            name VARCHAR(200) NOT NULL,
            role VARCHAR(16) NOT NULL,
            password_hash VARCHAR(255) NOT NULL,
            call_method VARCHAR(16) NOT NULL DEFAULT 'disabled',
            pbx_user VARCHAR(200),
            is_active BOOLEAN NOT NULL DEFAULT TRUE,
            created_at {ts} NOT NULL
        )""",
        "CREATE UNIQUE INDEX users_email ON users (email)",
        "CREATE INDEX users_project ON users (project_id, id)",
        """CREATE TABLE clients (
            id {pk},
            project_id INTEGER NOT NULL REFERENCES projects (id),
            name VARCHAR(200) NOT NULL DEFAULT '',
            client_type VARCHAR(16) NOT NULL,
            phone VARCHAR(20),
            responsible_id INTEGER REFERENCES users (id),
            created_at {ts} NOT NULL
        )""",
        "CREATE INDEX clients_project ON clients (project_id, id)",
        "CREATE INDEX clients_phone ON clients (project_id, phone, client_type, id)",
        """CREATE TABLE client_variables (
            client_id INTEGER NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
            name VARCHAR(100) NOT NULL,
            value TEXT NOT NULL,
            updated_at {ts} NOT NULL,
            PRIMARY KEY (client_id, name)
        )""",
        # One row per searchable word of a client: name words, its phone, variable values
        # and the phones found in them. `kind`: n name, p phone, v variable, q variable phone.
        """CREATE TABLE search_terms (
            project_id INTEGER NOT NULL,
            term VARCHAR(200) {bytes_c} NOT NULL,
            client_id INTEGER NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
            kind CHAR(1) NOT NULL
        )""",
        "CREATE INDEX search_terms_lookup ON search_terms (project_id, term, client_id)",
        "CREATE INDEX search_terms_client ON search_terms (client_id)",
        """CREATE TABLE messages (
            id {pk},
            project_id INTEGER NOT NULL REFERENCES projects (id),
            client_id INTEGER NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
            kind VARCHAR(16) NOT NULL,
            text TEXT NOT NULL,
            author_id INTEGER REFERENCES users (id),
            created_at {ts} NOT NULL
        )""",
        "CREATE INDEX messages_client ON messages (client_id, id)",
    ]
