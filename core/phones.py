"""Phone numbers in the one canonical form the Salebot page defines: digits with the country code.

`8 (900) 444-33-22`, `+7 900 444 33 22` and `79004443322` are all `79004443322`; other
countries keep their code (`375291234567`). Parsing is `phonenumbers`' job; this module only
decides how to read the digits a Russian sales team types.
"""

from __future__ import annotations

import functools
import re

import phonenumbers

from core.errors import ValidationError
from core.i18n import gettext as _

DEFAULT_REGION = "RU"
MIN_DIGITS = 11
_PHONE_CHARS = re.compile(r"^[\d\s()+\-.]+$")


def _parse(raw: str) -> phonenumbers.PhoneNumber | None:
    text = raw.strip()
    digits = re.sub(r"\D", "", text)
    if not digits or len(digits) > 17:
        return None
    try:
        if text.startswith("+"):
            return phonenumbers.parse(text, None)
        if len(digits) == 11 and digits.startswith("8"):
            # Russian trunk prefix: 8 XXX XXX-XX-XX is +7 XXX XXX-XX-XX.
            return phonenumbers.parse(digits, DEFAULT_REGION)
        if len(digits) >= MIN_DIGITS:
            return phonenumbers.parse("+" + digits, None)
        if len(digits) == 10:
            return phonenumbers.parse(digits, DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return None
    return None


def canonical(number: phonenumbers.PhoneNumber) -> str:
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)[1:]


@functools.lru_cache(maxsize=65536)  # a call's number comes with each of its webhooks
def normalize(raw: str | None) -> str | None:
    """The canonical digits of a valid number written in any common format, else None."""
    if not raw or not _PHONE_CHARS.match(raw.strip()):
        return None
    number = _parse(raw)
    if number is None or not phonenumbers.is_valid_number(number):
        return None
    digits = canonical(number)
    return digits if len(digits) >= MIN_DIGITS else None


def from_pbx(raw: str | None) -> str | None:
    """A caller's number as the PBX sends it (bare digits, `7…` or `8…`), canonical; None for
    internal short numbers. Numbers too new for the metadata still count if they are long enough."""
    digits = re.sub(r"\D", "", raw or "")
    if len(digits) < MIN_DIGITS or len(digits) > 15:
        return None
    return normalize(raw) or (
        "7" + digits[1:] if len(digits) == 11 and digits[0] == "8" else digits
    )


def parse(raw: str, field: str = "phone") -> str:
    """Like `normalize`, but a number that cannot be read is a `ValidationError` for `field`."""
    digits = normalize(raw)
    if digits is None:
        raise ValidationError.single(
            field,
            _(
                "Не похоже на номер телефона. Укажите номер с кодом страны, "
                "например 79004443322 или +7 900 444-33-22."
            ),
        )
    return digits


def looks_like_phone(text: str) -> bool:
    """True for text made only of phone characters with enough digits to be a number."""
    return bool(_PHONE_CHARS.match(text.strip())) and len(re.sub(r"\D", "", text)) >= 10


def search_prefix(text: str) -> str:
    """The digits to look for when someone types (part of) a number into a search box."""
    full = normalize(text)
    if full:
        return full
    digits = re.sub(r"\D", "", text)
    if digits.startswith("8") and not text.strip().startswith("+"):
        digits = "7" + digits[1:]
    return digits


def display(digits: str | None) -> str:
    """A number as people read it: `+7 900 444-33-22`."""
    if not digits:
        return ""
    try:
        number = phonenumbers.parse("+" + digits, None)
    except phonenumbers.NumberParseException:
        return digits
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
