import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import calculator
from core.calculator import CalculatorError
from core.errors import Conflict, ValidationError

FUNCTIONS = ["megafon_call"]


class FakeMegafonCall:
    def __init__(self) -> None:
        self.calls: list[tuple[object, ...]] = []

    def __call__(self, *args: object) -> str:
        self.calls.append(args)
        return f"call-{len(self.calls)}"


def run(lines: str, **variables: str) -> calculator.Outcome:
    return calculator.evaluate(lines, variables, {})


def error_of(lines: str, **variables: str) -> str:
    with pytest.raises(CalculatorError) as error:
        run(lines, **variables)
    return error.value.errors["actions"]


def test_arithmetic_and_assignment():
    outcome = run("total = 2 + 3 * 4")
    assert outcome.assigned == {"total": "14"}
    assert outcome.results == [14]


def test_lines_run_in_order_and_see_earlier_assignments():
    outcome = run("price = 100\ncount = 3\n\ntotal = price * count\ntotal - 50")
    assert outcome.assigned == {"price": "100", "count": "3", "total": "300"}
    assert outcome.results == [100, 3, 300, 250]


@pytest.mark.parametrize(
    "expression, text",
    [
        ("10 / 2", "5"),
        ("7 / 2", "3.5"),
        ("None", ""),
        ("2 > 1", "True"),
        ("'a' + 'b'", "ab"),
        ("[1, 2]", "[1, 2]"),
        ("round(2.567, 2)", "2.57"),
        ("upper('ivanov')", "IVANOV"),
        ("'Москва, Россия'.split(', ')[0]", "Москва"),
    ],
)
def test_assigned_values_are_text(expression, text):
    assert run(f"x = {expression}").assigned == {"x": text}


@pytest.mark.parametrize("line", ["a == 1", "a <= 1", "a != 1", "a >= 1"])
def test_comparisons_are_not_assignments(line):
    outcome = run(line, a="1")
    assert outcome.assigned == {}
    assert outcome.results in ([True], [False])


def test_comments_and_blank_lines_are_skipped():
    outcome = run("\n# the price\nx = 1  # one\n   \n")
    assert outcome.results == [1]


def test_variable_inside_quotes_is_its_text():
    outcome = run("""greeting = 'Привет, #{name}!'\nsame = "#{name}" """, name="Анна")
    assert outcome.assigned == {"greeting": "Привет, Анна!", "same": "Анна"}


def test_variable_outside_quotes_is_a_value_numbers_converted():
    outcome = run("sum = #{a} + #{b}\nlabel = #{city} + '!'", a="2", b="3.5", city="Казань")
    assert outcome.assigned == {"sum": "5.5", "label": "Казань!"}
    assert outcome.results[0] == 5.5


@pytest.mark.parametrize("text", ["+79991234567", "007", "1e5", "1,5", "٣", "12 "])
def test_text_that_only_looks_numeric_stays_text(text):
    assert run("x = #{v}\ny = v", v=text).results == [text, text]


def test_variables_are_names_too():
    outcome = run("total = price * 2\ncity_low = lower(город)", price="150", город="КАЗАНЬ")
    assert outcome.assigned == {"total": "300", "city_low": "казань"}


def test_assigned_values_are_variables_for_later_lines():
    outcome = run("n = 2 + 2\nmessage = 'n=#{n}'\nm = #{n} * 2")
    assert outcome.assigned == {"n": "4", "message": "n=4", "m": "8"}


def test_unknown_variable_is_empty():
    assert run("x = '[#{nope}]'\ny = #{nope}").results == ["[]", ""]


def test_placeholder_glued_to_a_name_does_not_form_another_name():
    assert error_of("x = foo#{a}", a="1") == "Строка 1: ошибка в выражении"


INJECTION = "') + megafon_call('1', '2') + ('"


@pytest.mark.parametrize(
    "value",
    [
        INJECTION,
        INJECTION.replace("'", '"'),
        "megafon_call(client_phone, 'x')",
        "\\' + megafon_call('1', '2') + '",
        "''' + megafon_call('1', '2') + '''",
        "x'\nmegafon_call('1', '2')\n'",
        "{megafon_call(client_phone, client_name)}",
    ],
)
@pytest.mark.parametrize(
    "line",
    [
        "note = '#{comment}'",
        'note = "#{comment}"',
        "note = '''#{comment}'''",
        'note = """#{comment}"""',
        "note = '''a'b''' + '#{comment}'",
        "note = 'a\\'' + '#{comment}'",
        "note = #{comment}",
        "note = '#{comment}' + #{comment} + \"#{comment}\"",
    ],
)
def test_variable_values_cannot_call_anything(value, line):
    megafon_call = FakeMegafonCall()
    variables = {"comment": value, "client_phone": "79991234567", "client_name": "Анна"}
    outcome = calculator.evaluate(line, variables, {"megafon_call": megafon_call})
    assert megafon_call.calls == []
    assert value in outcome.assigned["note"]


def test_values_cannot_reach_code_through_an_f_string():
    megafon_call = FakeMegafonCall()
    with pytest.raises(CalculatorError):
        calculator.evaluate(
            "note = f'#{comment}'",
            {"comment": "{megafon_call(1, 2)}"},
            {"megafon_call": megafon_call},
        )
    assert megafon_call.calls == []


@given(value=st.text())
def test_any_text_survives_quotes_unchanged(value):
    lines = "\n".join(f"x = {q}#{{v}}{q}" for q in ("'", '"', "'''", '"""'))
    assert run(lines, v=value).results == [value] * 4


PIECES = ["'", '"', "'''", '"""', "\\", "#{v}", " + ", "a", "#", "(", ")", "r", "f", "b", "{"]
NASTY = [INJECTION, "megafon_call(1, 2)", "{megafon_call(1, 2)}", "'''", '"""', "\\", "\n"]


@settings(max_examples=300)
@given(
    pieces=st.lists(st.sampled_from(PIECES), max_size=12),
    value=st.one_of(st.sampled_from(NASTY), st.text()),
)
def test_no_line_template_lets_a_value_call_anything(pieces, value):
    megafon_call = FakeMegafonCall()
    with contextlib.suppress(CalculatorError):
        calculator.evaluate(
            "x = " + "".join(pieces), {"v": value, "a": "1"}, {"megafon_call": megafon_call}
        )
    assert megafon_call.calls == []


def test_caller_function_gets_substituted_arguments_and_its_result_is_assigned():
    megafon_call = FakeMegafonCall()
    outcome = calculator.evaluate(
        "call_id = megafon_call('#{client_phone}', 'ivanov')",
        {"client_phone": "79991234567"},
        {"megafon_call": megafon_call},
    )
    assert megafon_call.calls == [("79991234567", "ivanov")]
    assert outcome.assigned == {"call_id": "call-1"}


@pytest.mark.parametrize(
    "lines, message",
    [
        ("x = 1\ny = foo(2)", "Строка 2: неизвестная функция foo"),
        ("\nx = missing + 1", "Строка 2: неизвестная переменная missing"),
        ("x = (1 +", "Строка 1: ошибка в выражении"),
        ("a = 1\nb = 2\nc = a / 0", "Строка 3: деление на ноль"),
        ("x = 5 % 0", "Строка 1: деление на ноль"),
        ("итог = 1", "Строка 1: недопустимое имя переменной итог"),
        ("#{a} = 1", "Строка 1: недопустимое имя переменной #{a}"),
        ("a, b = 1, 2", "Строка 1: ошибка в выражении"),
        ("a = b = 1", "Строка 1: ошибка в выражении"),
        ("a += 1", "Строка 1: ошибка в выражении"),
        ("a = 1; b = 2", "Строка 1: ошибка в выражении"),
        ("import os", "Строка 1: ошибка в выражении"),
        ("(lambda: 1)()", "Строка 1: ошибка в выражении"),
        ("f'{1}'", "Строка 1: ошибка в выражении"),
        ("'a'.__class__", "Строка 1: неизвестный метод __class__"),
        ("'{}'.format(1)", "Строка 1: неизвестный метод format"),
        ("x = len", "Строка 1: ошибка в выражении"),
        ("int('abc')", "Строка 1: не удалось вычислить выражение"),
        ("10 ** 10000000", "Строка 1: не удалось вычислить выражение"),
        ("'a' * 10000000", "Строка 1: не удалось вычислить выражение"),
    ],
)
def test_errors_name_the_line(lines, message):
    assert error_of(lines) == message


def test_calculator_error_is_a_validation_error_of_actions():
    with pytest.raises(ValidationError) as error:
        run("1 +")
    assert error.value.errors == {"actions": "Строка 1: ошибка в выражении"}


def test_a_line_is_vetted_before_any_of_it_runs():
    megafon_call = FakeMegafonCall()
    with pytest.raises(CalculatorError):
        calculator.evaluate("megafon_call('1', '2') + foo()", {}, {"megafon_call": megafon_call})
    assert megafon_call.calls == []


def test_crm_error_from_a_function_propagates():
    refusal = Conflict("линия занята")

    def megafon_call(*args: object) -> str:
        raise refusal

    with pytest.raises(Conflict) as error:
        calculator.evaluate("megafon_call('1', '2')", {}, {"megafon_call": megafon_call})
    assert error.value is refusal


def test_other_errors_from_a_function_become_calculator_errors():
    def megafon_call(*args: object) -> str:
        return str(1 / 0)

    with pytest.raises(CalculatorError) as error:
        calculator.evaluate("x = 1\nmegafon_call()", {}, {"megafon_call": megafon_call})
    assert error.value.errors == {"actions": "Строка 2: ошибка в функции megafon_call"}
    assert isinstance(error.value.__cause__, ZeroDivisionError)


def test_check_accepts_good_blocks():
    calculator.check(
        "total = price * 2\n"
        "\n"
        "call_id = megafon_call('#{client_phone}', 'ivanov')\n"
        "note = lower(#{city}) + str(len([1, 2]))  # a comment",
        FUNCTIONS,
    )


@pytest.mark.parametrize(
    "lines, message",
    [
        ("x = 1\nmegafon_call('1', '2')", "Строка 2: неизвестная функция megafon_call"),
        ("x = (1 +", "Строка 1: ошибка в выражении"),
        ("итог = 1", "Строка 1: недопустимое имя переменной итог"),
        ("x = 'a'.secret()", "Строка 1: неизвестный метод secret"),
    ],
)
def test_check_refuses_bad_blocks(lines, message):
    with pytest.raises(CalculatorError) as error:
        calculator.check(lines)
    assert error.value.errors == {"actions": message}


def test_a_huge_power_is_refused_at_once_instead_of_holding_the_cpu():
    with pytest.raises(CalculatorError) as raised:
        calculator.evaluate("x = 4000000 ** 4000000", {}, {})
    assert "Строка 1" in raised.value.errors["actions"]
    assert calculator.evaluate("x = 2 ** 10", {}, {}).assigned == {"x": "1024"}
