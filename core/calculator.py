"""The bots' calculator: a block of lines, each `name = expression` or just `expression`.

`#{variable}` inserts a client variable (as text inside quotes, as a value outside them) and
variables can also be named bare; expressions run in `simpleeval`, never in `eval`.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from simpleeval import (
    BASIC_ALLOWED_ATTRS,
    DISALLOW_METHODS,
    EvalWithCompoundTypes,
    FunctionNotDefined,
    NameNotDefined,
)

from core.errors import CrmError, ValidationError
from core.i18n import gettext as _

FIELD = "actions"

_VARIABLE = re.compile(r"#\{([^\W\d]\w*)\}")
_ASSIGNABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# No sign, no leading zeros: "+79991234567" and "007" keep their text.
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?")
_ESCAPES = {"\\": "\\\\", "'": "\\'", '"': '\\"'}
# f-strings are left out: a value inserted into one could carry `{expression}`.
_SUPPORTED = frozenset(
    {
        *(ast.Constant, ast.Name, ast.UnaryOp, ast.BinOp, ast.BoolOp, ast.Compare, ast.IfExp),
        *(ast.Call, ast.Subscript, ast.Attribute, ast.Slice),
        *(ast.List, ast.Tuple, ast.Dict, ast.Set, ast.ListComp, ast.GeneratorExp, ast.DictComp),
    }
)
_METHODS = frozenset().union(*BASIC_ALLOWED_ATTRS.values()) - set(DISALLOW_METHODS)


def _lower(value: Any) -> str:
    return str(value).lower()


def _upper(value: Any) -> str:
    return str(value).upper()


BUILTINS: Mapping[str, Callable[..., Any]] = {
    **{f.__name__: f for f in (int, float, str, len, round, abs, min, max)},
    **{"lower": _lower, "upper": _upper},
    # EvalWithCompoundTypes adds these four whatever it is given.
    **{f.__name__: f for f in (list, tuple, dict, set)},
}


class CalculatorError(ValidationError):
    """A calculator line that cannot be parsed or run; the message (field `actions`) names it."""


@dataclass(frozen=True)
class Outcome:
    assigned: dict[str, str]  # variables set by `name = expression` lines, as text, in order
    results: list[Any]  # the value of each line that was run, in order


@dataclass(frozen=True)
class _Line:
    number: int
    source: str  # after substitution
    target: str | None
    expression: ast.expr
    bound: dict[str, Any]  # placeholders for `#{variable}` written outside quotes


class _FunctionFailed(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def check(lines: str, functions: Iterable[str] = ()) -> None:
    """Refuse a block that cannot run whatever the variables: bad syntax, an assignment to an
    invalid name, or a call to a function outside `functions` and the built-ins."""
    known = {*functions, *BUILTINS}
    for number, text in _numbered(lines):
        _compile(number, text, {}, (), known)


def evaluate(
    lines: str, variables: Mapping[str, str], functions: Mapping[str, Callable[..., Any]]
) -> Outcome:
    """Run the lines top to bottom for a client whose variables are `variables`.

    A `CrmError` raised by one of `functions` propagates unchanged; any other failure is a
    `CalculatorError` naming the line."""
    callables = {**{n: _guarded(n, f) for n, f in functions.items()}, **BUILTINS}
    names: dict[str, Any] = {k: _typed(v) for k, v in variables.items()}
    texts = dict(variables)
    evaluator = EvalWithCompoundTypes(
        functions=callables, names=names, allowed_attrs=BASIC_ALLOWED_ATTRS
    )
    evaluator.operators = {**evaluator.operators, ast.Pow: _bounded_power}
    assigned: dict[str, str] = {}
    results: list[Any] = []
    for number, text in _numbered(lines):
        line = _compile(number, text, texts, names, callables)
        if line is None:
            continue
        evaluator.names = {**names, **line.bound}
        value, value_text = _run(evaluator, line)
        if line.target is not None:
            names[line.target] = value
            texts[line.target] = assigned[line.target] = value_text
        results.append(value)
    return Outcome(assigned, results)


def _bounded_power(base: Any, exponent: Any) -> Any:
    """`**` whose result stays small: simpleeval bounds the operands, not the result, and
    `4000000 ** 4000000` would hold the CPU for half a minute."""
    if isinstance(base, (int, float)) and isinstance(exponent, (int, float)):
        size = abs(exponent) * math.log2(abs(base)) if abs(base) > 1 else 0
        if size > 10_000:
            raise ValueError("power too large")
    return base**exponent


def _numbered(lines: str) -> Iterator[tuple[int, str]]:
    for number, text in enumerate(lines.splitlines(), start=1):
        if text.strip():
            yield number, text.strip()


def _compile(
    number: int,
    text: str,
    texts: Mapping[str, str],
    taken: Collection[str],
    functions: Collection[str],
) -> _Line | None:
    """Substitute, parse and vet one line before anything in it runs; None for a comment."""
    source, bound, written = _substitute(text, texts, taken)
    try:
        body = ast.parse(source).body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise _error(number, _("Строка {line}: ошибка в выражении")) from None
    if not body:
        return None
    statement, target = body[0], None
    if len(body) > 1:
        raise _error(number, _("Строка {line}: ошибка в выражении"))
    if isinstance(statement, ast.Expr):
        expression = statement.value
    elif (
        isinstance(statement, ast.Assign)
        and len(statement.targets) == 1
        and isinstance(statement.targets[0], ast.Name)
    ):
        target, expression = statement.targets[0].id, statement.value
        if target in bound or not _ASSIGNABLE.fullmatch(target):
            name = written.get(target, target)
            raise _error(number, _("Строка {line}: недопустимое имя переменной {name}"), name=name)
    else:
        raise _error(number, _("Строка {line}: ошибка в выражении"))
    for node in ast.walk(expression):
        match node:
            case ast.expr() if type(node) not in _SUPPORTED:
                raise _error(number, _("Строка {line}: ошибка в выражении"))
            case ast.Call(func=ast.Name(id=name)) if name not in functions:
                raise _error(number, _("Строка {line}: неизвестная функция {name}"), name=name)
            case ast.Attribute(attr=name) if name not in _METHODS:
                raise _error(number, _("Строка {line}: неизвестный метод {name}"), name=name)
    return _Line(number, source, target, expression, bound)


def _substitute(
    line: str, texts: Mapping[str, str], taken: Collection[str]
) -> tuple[str, dict[str, Any], dict[str, str]]:
    """The line with every `#{variable}` replaced, the placeholders bound outside quotes, and
    how each placeholder was written.

    The scan follows Python's own rules for where a string literal starts and ends (both
    quotes, tripled or not, backslash escapes, `#` comments), so a value can only ever land
    inside a literal, fully escaped, or become a single name: never code."""
    out: list[str] = []
    bound: dict[str, Any] = {}
    written: dict[str, str] = {}
    quote = ""  # the delimiter of the literal being read: ' " ''' or """
    i = 0
    while i < len(line):
        variable = _VARIABLE.match(line, i)
        if variable is not None:
            value = texts.get(variable[1], "")
            if quote:
                out.append(_escaped(value))
            else:
                name = _placeholder(line, taken, bound)
                bound[name], written[name] = _typed(value), variable[0]
                out.append(f" {name} ")  # spaces: `2#{n}` must not read as one token
            i = variable.end()
        elif quote and line[i] == "\\":
            out.append(line[i : i + 2])
            i += 2
        elif quote and line.startswith(quote, i):
            out.append(quote)
            i += len(quote)
            quote = ""
        elif not quote and line[i] in "'\"":
            quote = line[i] * 3 if line.startswith(line[i] * 3, i) else line[i]
            out.append(quote)
            i += len(quote)
        elif not quote and line[i] == "#":
            break  # a comment
        else:
            out.append(line[i])
            i += 1
    return "".join(out).strip(), bound, written


def _placeholder(line: str, taken: Collection[str], bound: Mapping[str, Any]) -> str:
    n = len(bound)
    while (name := f"_v{n}") in taken or name in bound or name in line:
        n += 1
    return name


def _escaped(text: str) -> str:
    """`text` as the inside of any string literal: both quotes and backslashes escaped, other
    unprintable characters (newlines too) as escapes. In an r'' literal the escapes stay."""
    return "".join(
        _ESCAPES.get(c) or (c if c.isprintable() else c.encode("unicode_escape").decode("ascii"))
        for c in text
    )


def _typed(text: str) -> int | float | str:
    """A plain number as a number ("42" -> 42, "2.5" -> 2.5); any other text as it is."""
    match = _NUMBER.fullmatch(text)
    if match is None:
        return text
    if match[1] is None:
        try:
            return int(text)
        except ValueError:  # more digits than int() accepts (sys.int_info)
            return text
    number = float(text)
    return number if math.isfinite(number) else text


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _guarded(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    """`function`, its own failures told apart from the expression's."""

    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except CrmError:
            raise
        except Exception as e:
            raise _FunctionFailed(name) from e

    return call


def _run(evaluator: EvalWithCompoundTypes, line: _Line) -> tuple[Any, str]:
    number = line.number
    try:
        value = evaluator.eval(line.source, previously_parsed=line.expression)
        if callable(value):  # `megafon_call` without brackets, `'a'.upper`
            raise _error(number, _("Строка {line}: ошибка в выражении"))
        return value, _text(value)
    except CrmError:
        raise
    except _FunctionFailed as e:
        message = _("Строка {line}: ошибка в функции {name}")
        raise _error(number, message, name=e.name) from e.__cause__
    except ZeroDivisionError:
        raise _error(number, _("Строка {line}: деление на ноль")) from None
    except NameNotDefined as e:
        raise _error(number, _("Строка {line}: неизвестная переменная {name}"), name=e.name) from e
    except FunctionNotDefined as e:
        message = _("Строка {line}: неизвестная функция {name}")
        raise _error(number, message, name=e.func_name) from e
    except Exception as e:  # simpleeval's limits, TypeError, ValueError, KeyError...
        raise _error(number, _("Строка {line}: не удалось вычислить выражение")) from e


def _error(number: int, message: str, **values: Any) -> CalculatorError:
    return CalculatorError({FIELD: message.format(line=number, **values)})
