"""The domain's exception family. Each class says what kind of failure it is; `web/errors.py`
turns a kind into an HTTP answer, so a subclass is answered as its family is.

CrmError                     (kind)
├── NotFound                 NOT_FOUND      the thing does not exist in this project
├── PermissionDenied         FORBIDDEN      the employee's role does not allow it
├── Conflict                 CONFLICT       the change contradicts the current state
├── InvalidCredentials       UNAUTHENTICATED wrong email or password, or an inactive employee
├── TooManyRequests          TOO_MANY       over a rate limit; carries when to try again
├── ValidationError          INVALID        user input is wrong; carries a message per field
│   ├── CalculatorError      (core/calculator.py) a bot reaction line that cannot run
│   └── InvalidWebhook       MALFORMED      (core/telephony/protocol.py) a webhook the PBX mis-sent
├── PbxError                 PBX_FAILED     (core/telephony/pbx_client.py) the PBX or the network
│   └── PbxNotConnected      CONFLICT       there is no PBX to ask
└── StorageUnavailable       UNAVAILABLE    (core/db) the disk is full or the database read-only
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from core.i18n import gettext as _


class ErrorKind(StrEnum):
    """What went wrong, in terms any front end (HTTP, CLI, a bot) can act on."""

    NOT_FOUND = "not_found"
    FORBIDDEN = "forbidden"
    CONFLICT = "conflict"
    UNAUTHENTICATED = "unauthenticated"
    INVALID = "invalid"  # a person's input: show it next to the field
    MALFORMED = "malformed"  # a machine's request that does not follow its protocol
    PBX_FAILED = "pbx_failed"  # the PBX or the network to it, not us
    UNAVAILABLE = "unavailable"  # the database cannot store anything now: try again later
    TOO_MANY = "too_many"  # over a rate limit: try again later


class CrmError(Exception):
    """Base of every error the domain raises on purpose."""

    kind: ClassVar[ErrorKind] = ErrorKind.CONFLICT

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message


class NotFound(CrmError):
    """The requested object does not exist (or belongs to another project)."""

    kind = ErrorKind.NOT_FOUND


class PermissionDenied(CrmError):
    """The signed-in employee may not do this."""

    kind = ErrorKind.FORBIDDEN


class Conflict(CrmError):
    """The request contradicts the current state."""

    kind = ErrorKind.CONFLICT


class InvalidCredentials(CrmError):
    """Email and password do not match an active employee."""

    kind = ErrorKind.UNAUTHENTICATED


class TooManyRequests(CrmError):
    """Over a rate limit; `retry_after` says in how many seconds to try again."""

    kind = ErrorKind.TOO_MANY

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class StorageUnavailable(CrmError):
    """The database cannot write now (a full disk, a read-only file; `reason` says which):
    nothing was stored, and the same request may succeed in `retry_after` seconds."""

    kind = ErrorKind.UNAVAILABLE
    retry_after = 10

    def __init__(self, reason: str) -> None:
        message = _("База данных не может сохранить изменения: {reason}. Попробуйте позже.")
        super().__init__(message.format(reason=reason))
        self.reason = reason


class ValidationError(CrmError):
    """Input that cannot be accepted, with a human message for each offending field."""

    kind = ErrorKind.INVALID

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors

    @classmethod
    def single(cls, field: str, message: str) -> ValidationError:
        return cls({field: message})


def describe(error: CrmError) -> str:
    """The error in one line for a person: its message, or every field's message."""
    if isinstance(error, ValidationError):
        return "; ".join(error.errors.values())
    return error.message
