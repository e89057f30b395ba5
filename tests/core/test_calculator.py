import contextlib
import time
import tracemalloc

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
        ("'a' * 10000000", "Строка 1: значение больше 10000 символов"),
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


# Limits: a run is bounded in lines, calls, time and the size of every value it makes.

SIZE = "Строка {line}: значение больше 10000 символов"


@pytest.mark.parametrize(
    "line",
    [
        "'a'.ljust(1500000000)",
        "'a'.center(10**9)",
        "'a'.rjust(10**9, 'b')",
        "'1'.zfill(10**9)",
        "'ab' * 10**9",
        "10**9 * 'ab'",
        "[0] * 10**9",
        "(1, 2) * 10**9",
        "'%1000000000d' % 1",
        "'%.1000000000f' % 1.5",
        "'%*d' % (10**9, 1)",
        "'%(a)1000000000s' % {'a': 1}",
        "b'%1000000000d' % 1",
        "b'ab' * 10**9",
        "(1).to_bytes(10**9, 'big')",
        "('\\t' * 100).expandtabs(10**9)",
        "('a' * 10000).replace('', 'bb' * 5000)",
        "('a' * 10000).join(['x'] * 10000)",
        "('a' * 10000).translate({97: 'b' * 10000})",
    ],
)
def test_what_would_make_a_huge_value_is_refused_before_it_is_made(line):
    tracemalloc.start()
    try:
        started = time.monotonic()
        message = error_of(f"x = 1\ny = {line}")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert message == SIZE.format(line=2)
    assert peak < 2_000_000
    assert time.monotonic() - started < 1


@pytest.mark.parametrize(
    "lines, line",
    [
        ("s = 'a' * 10000\nt = s + s", 2),
        ("s = 'a' * 10000\nt = [s, s]", 2),
        ("n = 2 ** 9000\nm = n * n * n * n", 2),
        ("s = 'a' * 10000\nt = str(list(s))", 2),
        ("l = [1] * 10000\nl.append(2)", 2),
        ("l = [1] * 6000\nl.extend(l)", 2),
        ("l = []\nl.append(l)", 2),
    ],
)
def test_a_value_over_the_limit_made_from_allowed_ones_is_refused(lines, line):
    assert error_of(lines) == SIZE.format(line=line)


def test_a_line_that_makes_too_much_in_all_is_stopped_while_it_runs():
    tracemalloc.start()
    try:
        message = error_of("s = 'a' * 9999\nt = len([s + c for c in s])")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert message == "Строка 2: строка создаёт больше 1000000 символов данных"
    assert peak < 5_000_000


def test_values_up_to_the_limit_are_fine():
    outcome = run("s = 'ab'.ljust(10000)\nn = len(s + '') + len(str(2 ** 100))\nl = list(s)")
    assert outcome.assigned["n"] == "10031"
    assert len(outcome.results[2]) == 10000


def test_a_block_of_too_many_lines_is_refused_when_saved_and_when_run():
    lines = "\n".join(f"x{n} = {n}" for n in range(50))
    calculator.check(lines)
    assert run("\n\n" + lines + "\n\n").assigned["x49"] == "49"  # blank lines do not count
    too_many = lines + "\n\nx = 1"
    with pytest.raises(CalculatorError) as error:
        calculator.check(too_many)
    assert error.value.errors == {"actions": "Строка 52: в реакции больше 50 строк"}
    megafon_call = FakeMegafonCall()
    with pytest.raises(CalculatorError) as error:
        calculator.evaluate("megafon_call()\n" + too_many, {}, {"megafon_call": megafon_call})
    assert error.value.errors == {"actions": "Строка 51: в реакции больше 50 строк"}
    assert megafon_call.calls == []  # nothing of it ran


def test_a_function_is_called_no_more_than_three_times_a_run():
    megafon_call = FakeMegafonCall()
    lines = "\n".join(f"c{n} = megafon_call('{n}', 'ivanov')" for n in range(1, 5))
    with pytest.raises(CalculatorError) as error:
        calculator.evaluate(lines, {}, {"megafon_call": megafon_call})
    assert error.value.errors == {
        "actions": "Строка 4: больше 3 вызовов megafon_call за один запуск"
    }
    assert [c[0] for c in megafon_call.calls] == ["1", "2", "3"]
    in_one_line = "x = [megafon_call(c, 'ivanov') for c in '12345']"
    with pytest.raises(CalculatorError) as error:
        calculator.evaluate(in_one_line, {}, {"megafon_call": FakeMegafonCall()})
    assert error.value.errors == {
        "actions": "Строка 1: больше 3 вызовов megafon_call за один запуск"
    }


SLOW = "s = list('ab' * 2500)\nx = 1\nn = [s.count('z') for c in s]\ny = 2"


def test_a_slow_line_is_stopped_when_the_run_is_out_of_time():
    started = time.monotonic()
    with pytest.raises(CalculatorError) as error:
        calculator.evaluate(SLOW, {}, {}, calculator.Limits(seconds=0.05))
    assert error.value.errors == {"actions": "Строка 3: реакция считается дольше 0.05 с"}
    assert time.monotonic() - started < 1  # the run did not go on for its whole budget


def test_by_default_a_run_has_two_seconds():
    slow = "s = list('ab' * 5000)\n" + "\n".join(["n = [s.count('z') for c in s]"] * 49)
    started = time.monotonic()
    with pytest.raises(CalculatorError) as error:
        calculator.evaluate(slow, {}, {})
    assert "реакция считается дольше 2 с" in error.value.errors["actions"]
    assert time.monotonic() - started < 2.5


def test_the_time_a_function_takes_is_not_the_runs():
    def megafon_call(*args: object) -> str:
        time.sleep(0.2)
        return "call"

    outcome = calculator.evaluate(
        "a = megafon_call()\nb = 1",
        {},
        {"megafon_call": megafon_call},
        calculator.Limits(seconds=0.1),
    )
    assert outcome.assigned == {"a": "call", "b": "1"}
