import pytest

from core import phones
from core.errors import ValidationError


@pytest.mark.parametrize(
    "written",
    [
        "79004443322",
        "8 (900) 444-33-22",
        "+7 900 444 33 22",
        "+7(900)444-33-22",
        "9004443322",
        " 8-900-444-33-22 ",
        "7 900 444 33 22",
    ],
)
def test_every_common_russian_spelling_is_one_canonical_number(written):
    assert phones.normalize(written) == "79004443322"


def test_other_country_codes_are_kept():
    assert phones.normalize("+375 29 123-45-67") == "375291234567"
    assert phones.normalize("375291234567") == "375291234567"


@pytest.mark.parametrize(
    "junk", ["", "701", "abc", "12345", "+7 900", "8 900 444 33 22 11 22 33 44", "ivan@x.ru"]
)
def test_what_is_not_a_number_is_rejected(junk):
    assert phones.normalize(junk) is None


def test_a_form_gets_a_clear_message_for_a_bad_number():
    with pytest.raises(ValidationError) as error:
        phones.parse("12-34", field="phone")
    assert "код" in error.value.errors["phone"]


def test_numbers_are_shown_the_way_people_read_them():
    assert phones.display("79161234567") == "+7 916 123-45-67"
    assert phones.display(None) == ""


@pytest.mark.parametrize(
    ("typed", "prefix"),
    [("+7916", "7916"), ("8 916", "7916"), ("8 (916) 123-45-67", "79161234567")],
)
def test_a_partly_typed_number_searches_by_its_canonical_prefix(typed, prefix):
    assert phones.search_prefix(typed) == prefix
