"""Client search terms: every word a client can be found by, kept in an indexed table.

A client is found by a prefix of its name (or any word of it), of its phone, or of any
variable value, and by any phone number written inside a variable in any common format.
Each lookup is one index range scan on `search_terms (project_id, term, client_id)`, so
search stays fast at a million clients; no query ever scans `clients` or their variables.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import phonenumbers

from core import phones

MAX_TERM = 100
MAX_WORDS = 5
NAME, PHONE, VARIABLE, VARIABLE_PHONE = "n", "p", "v", "q"


def normalize_text(text: str) -> str:
    """Case- and ё-insensitive form of free text, whitespace folded."""
    return " ".join(text.casefold().replace("ё", "е").split())[:MAX_TERM]


def phones_in(text: str) -> list[str]:
    """Canonical forms of the phone numbers written anywhere in a piece of text."""
    whole = phones.normalize(text)
    if whole:
        return [whole]
    found = []
    for match in phonenumbers.PhoneNumberMatcher(text[:2000], phones.DEFAULT_REGION):
        digits = phones.normalize(match.raw_string)
        if digits:
            found.append(digits)
        if len(found) >= MAX_WORDS:
            break
    return found


def _words(kind: str, text: str) -> set[tuple[str, str]]:
    """The whole text and its first words; bare numbers are left out (phones are indexed apart)."""
    normal = normalize_text(text)
    if not normal:
        return set()
    terms = {(normal, kind)}
    words = [w for w in normal.split()[:MAX_WORDS] if not w.isdigit()]
    terms.update((word, kind) for word in words if word != normal)
    return terms


def terms_for(name: str, phone: str | None, variables: Iterable[str] = ()) -> set[tuple[str, str]]:
    """The (term, kind) pairs a client is indexed under."""
    terms = _words(NAME, name)
    if phone:
        terms.add((phone, PHONE))
    for value in variables:
        terms |= _words(VARIABLE, value)
        terms.update((digits, VARIABLE_PHONE) for digits in phones_in(value))
    return terms


def query_range(query: str) -> tuple[str, str] | None:
    """The [lo, hi) range of terms that start with what someone typed, or None for nothing."""
    query = query.strip()
    if not query:
        return None
    if re.fullmatch(r"[\d\s()+\-.]+", query) and re.search(r"\d", query):
        prefix = phones.search_prefix(query)
    else:
        prefix = normalize_text(query)
    if not prefix:
        return None
    return prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1)


def rows_for(
    project_id: int, client_id: int, terms: set[tuple[str, str]]
) -> list[Mapping[str, object]]:
    return [
        {"project_id": project_id, "client_id": client_id, "term": term, "kind": kind}
        for term, kind in sorted(terms)
    ]
