"""The domain's exception family; `web/errors.py` maps each one to an HTTP answer.

CrmError
├── NotFound           the thing does not exist in this project
├── PermissionDenied   the employee's role does not allow it
├── Conflict           the change contradicts the current state (e.g. setup already done)
├── InvalidCredentials wrong email or password, or an inactive employee
└── ValidationError    user input is wrong; carries a message per field
"""

from __future__ import annotations


class CrmError(Exception):
    """Base of every error the domain raises on purpose."""

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message


class NotFound(CrmError):
    """The requested object does not exist (or belongs to another project)."""


class PermissionDenied(CrmError):
    """The signed-in employee may not do this."""


class Conflict(CrmError):
    """The request contradicts the current state."""


class InvalidCredentials(CrmError):
    """Email and password do not match an active employee."""


class ValidationError(CrmError):
    """Input that cannot be accepted, with a human message for each offending field."""

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
