"""Every string the interface shows goes through gettext, and English has all of them."""

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from core.i18n import gettext, use_language

ROOT = Path(__file__).resolve().parents[1]
METHOD_MAP = [("core/**.py", "python"), ("web/**.py", "python"), ("templates/**.html", "jinja2")]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "pgettext": ((1, "c"), 2)}


def extracted() -> set[str]:
    messages = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        ROOT,
        METHOD_MAP,
        keywords=KEYWORDS,
        options_map={"templates/**.html": {"extensions": "jinja2.ext.i18n"}},
    ):
        messages.add(message if isinstance(message, str) else message[0])
    return messages


def test_the_english_catalog_translates_every_message_in_the_code():
    with (ROOT / "locale/en/LC_MESSAGES/messages.po").open("rb") as f:
        catalog = read_po(f)
    translated = {m.id for m in catalog if m.id and m.string and not m.fuzzy}
    missing = sorted(extracted() - translated)
    assert missing == [], "run the catalog update from the README and translate these"


def test_russian_is_the_default_and_english_is_available():
    assert gettext("Клиенты") == "Клиенты"
    with use_language("en"):
        assert gettext("Клиенты") == "Clients"
    with use_language("xx"):
        assert gettext("Клиенты") == "Клиенты"
