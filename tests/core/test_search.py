"""Search terms: the words and numbers a client is found by, and what a typed query looks up."""

from core import search
from core.search import NAME, PHONE, VARIABLE, VARIABLE_PHONE


def test_a_client_is_indexed_by_its_name_its_words_its_phone_and_its_variables():
    terms = search.terms_for("Ёлкина Алёна", "79161234567", ["ООО Ромашка, тел. 8 (903) 000-00-01"])
    assert ("елкина алена", NAME) in terms  # case- and ё-insensitive
    assert {("елкина", NAME), ("алена", NAME)} <= terms
    assert ("79161234567", PHONE) in terms
    assert ("ооо", VARIABLE) in terms
    assert ("79030000001", VARIABLE_PHONE) in terms  # a number inside a variable, in any format


def test_bare_numbers_are_indexed_as_phones_only():
    assert search.terms_for("Заказ 12345", None) == {("заказ 12345", NAME), ("заказ", NAME)}
    assert search.terms_for("", None) == set()


def test_a_query_is_a_prefix_range_of_terms():
    assert search.query_range("  Ёлк ") == ("елк", "елл")
    assert search.query_range("") is None
    assert search.query_range("   ") is None


def test_a_typed_phone_looks_up_the_canonical_number():
    low, high = search.query_range("8 (916) 123")
    assert low.startswith("7916123") and high > low
    assert "79161234567".startswith(low)
