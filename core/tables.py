"""SQLAlchemy Core descriptions of the tables the migrations create, for building queries."""

import sqlalchemy as sa

from core.clock import UtcDateTime

metadata = sa.MetaData()

projects = sa.Table(
    "projects",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("api_key", sa.String(64), unique=True),
    sa.Column("messengers", sa.String(200), nullable=False, default=""),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("project_id", sa.Integer, nullable=False),
    sa.Column("email", sa.String(254), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("call_method", sa.String(16), nullable=False),
    sa.Column("pbx_user", sa.String(200)),
    sa.Column("is_active", sa.Boolean, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

clients = sa.Table(
    "clients",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("project_id", sa.Integer, nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("client_type", sa.String(16), nullable=False),
    sa.Column("phone", sa.String(20)),
    sa.Column("responsible_id", sa.Integer),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

client_variables = sa.Table(
    "client_variables",
    metadata,
    sa.Column("client_id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

search_terms = sa.Table(
    "search_terms",
    metadata,
    sa.Column("project_id", sa.Integer, nullable=False),
    sa.Column("term", sa.String(200), nullable=False),
    sa.Column("client_id", sa.Integer, nullable=False),
    sa.Column("kind", sa.String(1), nullable=False),
)

messages = sa.Table(
    "messages",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("project_id", sa.Integer, nullable=False),
    sa.Column("client_id", sa.Integer, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("author_id", sa.Integer),
    sa.Column("created_at", UtcDateTime, nullable=False),
)
