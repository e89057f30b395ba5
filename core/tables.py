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
    sa.Column("messengers", sa.String(200), nullable=False, server_default=""),
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
    sa.Column("call_id", sa.Integer),  # the call a `megafon_call_*` message tells about
    sa.Column("origin", sa.String(16), nullable=False, server_default=""),  # "" or pbx_history
)

calls = sa.Table(
    "calls",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("project_id", sa.Integer, nullable=False),
    sa.Column("callid", sa.String(200), nullable=False),
    sa.Column("client_id", sa.Integer),
    sa.Column("phone", sa.String(40), nullable=False, server_default=""),
    sa.Column("direction", sa.String(3), nullable=False, server_default=""),
    sa.Column("pbx_user", sa.String(200), nullable=False, server_default=""),
    sa.Column("ext", sa.String(40), nullable=False, server_default=""),
    sa.Column("telnum", sa.String(40), nullable=False, server_default=""),
    sa.Column("diversion", sa.String(40), nullable=False, server_default=""),
    sa.Column("group_name", sa.String(200), nullable=False, server_default=""),
    sa.Column("last_event", sa.String(16), nullable=False, server_default=""),
    sa.Column("status", sa.String(16), nullable=False, server_default=""),
    sa.Column("started_at", UtcDateTime),
    sa.Column("duration", sa.Integer),
    sa.Column("wait", sa.Integer),
    sa.Column("record_link", sa.Text, nullable=False, server_default=""),
    sa.Column("rating", sa.Integer),
    sa.Column("second_callid", sa.String(200), nullable=False, server_default=""),
    sa.Column("transferred_from", sa.String(200), nullable=False, server_default=""),
    sa.Column("incoming_at", UtcDateTime),
    sa.Column("accepted_at", UtcDateTime),
    sa.Column("ended_at", UtcDateTime),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("popup_topics", sa.Text, nullable=False, server_default=""),
    sa.Column("restored_at", UtcDateTime),  # reconciliation first told something about it
    sa.Column("status_raw", sa.String(40), nullable=False, server_default=""),  # unknown status
)

webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("project_id", sa.Integer, nullable=False),
    sa.Column("received_at", UtcDateTime, nullable=False),
    sa.Column("cmd", sa.String(40), nullable=False, server_default=""),
    sa.Column("event_type", sa.String(40), nullable=False, server_default=""),
    sa.Column("callid", sa.String(200), nullable=False, server_default=""),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("result", sa.String(16), nullable=False),
    sa.Column("error", sa.Text, nullable=False, server_default=""),
    sa.Column("processed_at", UtcDateTime),
    sa.Column("origin", sa.String(16), nullable=False, server_default=""),  # "" or pbx_history
)

webhook_effects = sa.Table(
    "webhook_effects",
    metadata,
    sa.Column("project_id", sa.Integer, primary_key=True),
    sa.Column("key", sa.String(300), primary_key=True),
    sa.Column("delivery_id", sa.Integer, nullable=False),
)

pbx_connections = sa.Table(
    "pbx_connections",
    metadata,
    sa.Column("project_id", sa.Integer, primary_key=True),
    sa.Column("base_url", sa.String(300), nullable=False),
    sa.Column("api_token", sa.String(300), nullable=False),
    sa.Column("api", sa.String(8), nullable=False, server_default=""),
    sa.Column("connected_at", UtcDateTime, nullable=False),
    sa.Column("checked_at", UtcDateTime),
    sa.Column("check_result", sa.Text, nullable=False, server_default=""),
)

call_requests = sa.Table(
    "call_requests",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("project_id", sa.Integer, nullable=False),
    sa.Column("client_id", sa.Integer),
    sa.Column("user_id", sa.Integer),
    sa.Column("source", sa.String(8), nullable=False),
    sa.Column("pbx_user", sa.String(200), nullable=False),
    sa.Column("phone", sa.String(40), nullable=False),
    sa.Column("state", sa.String(8), nullable=False),
    sa.Column("callid", sa.String(200), nullable=False, server_default=""),
    sa.Column("error", sa.Text, nullable=False, server_default=""),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

call_rules = sa.Table(  # which calls the CRM may place (core/telephony/call_rules.py)
    "call_rules",
    metadata,
    sa.Column("project_id", sa.Integer, primary_key=True),
    sa.Column("international", sa.Boolean, nullable=False),
    sa.Column("premium", sa.Boolean, nullable=False),
    sa.Column("per_minute", sa.Integer, nullable=False),
    sa.Column("per_hour", sa.Integer, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

wrong_token_counts = sa.Table(  # core/telephony/wrong_tokens.py
    "wrong_token_counts",
    metadata,
    sa.Column("hour", UtcDateTime, primary_key=True),
    sa.Column("requests", sa.Integer, nullable=False),
)

bot_reactions = sa.Table(
    "bot_reactions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("project_id", sa.Integer, nullable=False),
    sa.Column("pattern", sa.Text, nullable=False),
    sa.Column("actions", sa.Text, nullable=False),
    sa.Column("is_active", sa.Boolean, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

bot_jobs = sa.Table(
    "bot_jobs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("project_id", sa.Integer, nullable=False),
    sa.Column("client_id", sa.Integer, nullable=False),
    sa.Column("reaction_id", sa.Integer, nullable=False),
    sa.Column("message_id", sa.Integer),
    sa.Column("state", sa.String(8), nullable=False),
    sa.Column("result", sa.Text, nullable=False, server_default=""),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("finished_at", UtcDateTime),
)

live_events = sa.Table(
    "live_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("project_id", sa.Integer, nullable=False),
    sa.Column("topic", sa.String(60), nullable=False),
    sa.Column("name", sa.String(40), nullable=False),
    sa.Column("data", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

setup_codes = sa.Table(
    "setup_codes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("code", sa.String(40), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

audit_log = sa.Table(  # «Журнал действий» (core/audit.py)
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("project_id", sa.Integer, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("action", sa.String(40), nullable=False),
    sa.Column("actor_id", sa.Integer),
    sa.Column("actor_email", sa.String(254), nullable=False, server_default=""),
    sa.Column("subject_id", sa.Integer),
    sa.Column("address", sa.String(64), nullable=False, server_default=""),
    sa.Column("details", sa.Text, nullable=False, server_default="{}"),
)

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("user_id", sa.Integer, nullable=False),
    sa.Column("project_id", sa.Integer, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("last_seen_at", UtcDateTime, nullable=False),
    sa.Column("address", sa.String(64), nullable=False),
    sa.Column("user_agent", sa.String(300), nullable=False),
)

missed_calls = sa.Table(
    "missed_calls",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("project_id", sa.Integer, nullable=False),
    sa.Column("client_id", sa.Integer, nullable=False),
    sa.Column("phone", sa.String(40), nullable=False, server_default=""),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("first_call_id", sa.Integer, nullable=False),
    sa.Column("last_call_id", sa.Integer, nullable=False),
    sa.Column("opened_at", UtcDateTime, nullable=False),
    sa.Column("last_attempt_at", UtcDateTime, nullable=False),
    sa.Column("closed_at", UtcDateTime),
    sa.Column(
        "close_kind", sa.String(16), nullable=False, server_default=""
    ),  # outbound/inbound/manual
    sa.Column("close_reason", sa.String(200), nullable=False, server_default=""),
    sa.Column("closed_by_call_id", sa.Integer),
    sa.Column("closed_by_pbx_user", sa.String(200), nullable=False, server_default=""),
    sa.Column("closed_by_user_id", sa.Integer),
    sa.Column("callback_seconds", sa.Integer),
)

missed_settings = sa.Table(
    "missed_settings",
    metadata,
    sa.Column("project_id", sa.Integer, primary_key=True),
    sa.Column("warn_minutes", sa.Integer, nullable=False),
    sa.Column("alert_minutes", sa.Integer, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

pbx_sync = sa.Table(  # reconciliation with the PBX's history (issue 13)
    "pbx_sync",
    metadata,
    sa.Column("project_id", sa.Integer, primary_key=True),
    sa.Column("synced_until", UtcDateTime),  # the history is read up to this moment
    sa.Column("started_at", UtcDateTime),
    sa.Column("finished_at", UtcDateTime),
    sa.Column("result", sa.String(16), nullable=False, server_default=""),
    sa.Column("error", sa.Text, nullable=False, server_default=""),
    sa.Column("calls_read", sa.Integer, nullable=False, server_default="0"),
    sa.Column("calls_restored", sa.Integer, nullable=False, server_default="0"),
    sa.Column("lease_owner", sa.String(64), nullable=False, server_default=""),
    sa.Column("lease_until", UtcDateTime),
)

recordings = sa.Table(  # the CRM's own copies of call recordings (issue 13)
    "recordings",
    metadata,
    sa.Column("call_id", sa.Integer, primary_key=True),
    sa.Column("project_id", sa.Integer, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("source_url", sa.Text, nullable=False),
    sa.Column("path", sa.String(300), nullable=False, server_default=""),
    sa.Column("size", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("content_type", sa.String(100), nullable=False, server_default=""),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UtcDateTime),
    sa.Column("last_error", sa.Text, nullable=False, server_default=""),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("stored_at", UtcDateTime),
)

recording_settings = sa.Table(
    "recording_settings",
    metadata,
    sa.Column("project_id", sa.Integer, primary_key=True),
    sa.Column("keep_days", sa.Integer, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

pbx_users = sa.Table(  # the PBX's employees as last read (issue 13)
    "pbx_users",
    metadata,
    sa.Column("project_id", sa.Integer, primary_key=True),
    sa.Column("login", sa.String(200), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, server_default=""),
    sa.Column("ext", sa.String(40), nullable=False, server_default=""),
    sa.Column("telnum", sa.String(40), nullable=False, server_default=""),
    sa.Column("email", sa.String(254), nullable=False, server_default=""),
)

pbx_user_lists = sa.Table(
    "pbx_user_lists",
    metadata,
    sa.Column("project_id", sa.Integer, primary_key=True),
    sa.Column("fetched_at", UtcDateTime),
    sa.Column("error", sa.Text, nullable=False, server_default=""),
)
