"""The bots' calculator: a block of lines, each `name = expression` or just `expression`.

`#{variable}` inserts a client variable (as text inside quotes, as a value outside them) and
variables can also be named bare; expressions run in `simpleeval`, never in `eval`.

A run is bounded (`Limits`): how many lines, how many calls of each function, how long it
calculates, and how large any value it makes may be. Whatever would make a value too large is
refused before it is made (`'a'.ljust(1500000000)`, `'ab' * 10**9`), so one line can neither
fill the memory nor hold the CPU; a run over a limit stops with a `CalculatorError` naming
the limit and the line.
"""

from __future__ import annotations

import ast
import functools
import math
import re
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
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
# Methods whose result can be far larger than what they are given: checked before they run.
_WIDTH_METHODS = frozenset({"ljust", "rjust", "center", "zfill"})
_GROWING_METHODS = frozenset(
    {"append", "extend", "insert", "add", "update", "setdefault"}
    | {"difference_update", "intersection_update", "symmetric_difference_update"}
)
# `%` formatting: a width or precision written as a number, or taken from the values (`*`).
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|[0-9]+)?(?:\.(\*|[0-9]+))?")


@dataclass(frozen=True)
class Limits:
    """What one run of a block may do."""

    lines: int = 50  # lines in a block, blank ones aside (comments count)
    calls: int = 3  # calls of each function given to `evaluate` (megafon_call)
    seconds: float = 2.0  # of calculation; the time a function (the PBX) takes is not counted
    value: int = 10_000  # characters in a text, elements in a list (nested ones too), digits
    # what one line may make in all, its intermediate values counted: a list comprehension
    # of long texts is stopped while it is being built, not after
    work: int = 1_000_000


LIMITS = Limits()


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


class _LimitExceeded(Exception):
    """A limit reached; `message` has `{line}` still to fill in."""

    def __init__(self, message: str, **values: Any) -> None:
        super().__init__(message)
        self.message, self.values = message, values


@dataclass
class _Budget:
    """What a run has left; `deadline` moves on by the time functions take."""

    limits: Limits
    deadline: float
    calls: dict[str, int] = field(default_factory=dict)
    work: int = 0  # made by the current line

    def tick(self) -> None:
        if time.monotonic() > self.deadline:
            seconds = f"{self.limits.seconds:g}"
            raise _LimitExceeded(
                _("Строка {line}: реакция считается дольше {seconds} с"), seconds=seconds
            )

    def made(self, value: Any) -> None:
        """`value` was made: refuse it if it is too large, or the line has made too much."""
        size = _size(value, self.limits.value)
        if size > self.limits.value:
            raise self.too_large()
        self.work += size
        if self.work > self.limits.work:
            raise _LimitExceeded(
                _("Строка {line}: строка создаёт больше {limit} символов данных"),
                limit=self.limits.work,
            )

    def too_large(self) -> _LimitExceeded:
        return _LimitExceeded(
            _("Строка {line}: значение больше {limit} символов"), limit=self.limits.value
        )

    def fits(self, size: Any) -> None:
        """Refuse, before it is made, a value of `size` characters or elements."""
        if isinstance(size, (int, float)) and size > self.limits.value:
            raise self.too_large()


class _FunctionFailed(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def check(lines: str, functions: Iterable[str] = ()) -> None:
    """Refuse a block that cannot run whatever the variables: bad syntax, an assignment to an
    invalid name, or a call to a function outside `functions` and the built-ins."""
    known = {*functions, *BUILTINS}
    _check_length(lines, LIMITS)
    for number, text in _numbered(lines):
        _compile(number, text, {}, (), known)


def evaluate(
    lines: str,
    variables: Mapping[str, str],
    functions: Mapping[str, Callable[..., Any]],
    limits: Limits = LIMITS,
) -> Outcome:
    """Run the lines top to bottom for a client whose variables are `variables`.

    A `CrmError` raised by one of `functions` propagates unchanged; any other failure, a
    limit reached too, is a `CalculatorError` naming the line."""
    _check_length(lines, limits)
    budget = _Budget(limits, time.monotonic() + limits.seconds)
    callables = {**{n: _guarded(n, f, budget) for n, f in functions.items()}, **BUILTINS}
    names: dict[str, Any] = {k: _typed(v) for k, v in variables.items()}
    texts = dict(variables)
    evaluator = _Evaluator(budget, functions=callables, names=names)
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


def _check_length(lines: str, limits: Limits) -> None:
    for count, (number, _line) in enumerate(_numbered(lines), start=1):
        if count > limits.lines:
            message = _("Строка {line}: в реакции больше {limit} строк")
            raise _error(number, message, limit=limits.lines)


class _Evaluator(EvalWithCompoundTypes):  # type: ignore[misc]  # simpleeval has no types
    """simpleeval with every value it makes measured, and whatever could make a large one
    (`*`, `%`, `ljust`...) checked before it runs."""

    def __init__(self, budget: _Budget, **kwargs: Any) -> None:
        super().__init__(allowed_attrs=BASIC_ALLOWED_ATTRS, **kwargs)
        self.budget = budget
        self.operators.update(
            {ast.Pow: _bounded_power, ast.Mult: self._multiply, ast.Mod: self._modulo}
        )

    def eval(self, expr: str, previously_parsed: Any = None) -> Any:
        self.budget.work = 0
        return super().eval(expr, previously_parsed)

    def _eval(self, node: ast.AST) -> Any:
        self.budget.tick()
        value = super()._eval(node)
        if not isinstance(node, (ast.Name, ast.Constant)):  # those make nothing new
            self.budget.made(value)
        return value

    def _eval_attribute(self, node: ast.Attribute) -> Any:
        item = super()._eval_attribute(node)
        if callable(item):
            return functools.partial(self._method, item, node.attr)
        return item

    def _method(self, method: Callable[..., Any], name: str, *args: Any, **kwargs: Any) -> Any:
        owner = getattr(method, "__self__", None)
        self._precheck(owner, name, args, kwargs)
        result = method(*args, **kwargs)
        if (
            name in _GROWING_METHODS
            and _size(owner, self.budget.limits.value) > self.budget.limits.value
        ):
            raise self.budget.too_large()
        return result

    def _precheck(self, owner: Any, name: str, args: tuple[Any, ...], kw: dict[str, Any]) -> None:
        fits = self.budget.fits
        if name in _WIDTH_METHODS and args:
            fits(args[0])
        elif name == "to_bytes":
            fits(args[0] if args else kw.get("length", 1))
        elif isinstance(owner, str) and name == "expandtabs":
            tabsize = args[0] if args else kw.get("tabsize", 8)
            if isinstance(tabsize, int):
                fits(len(owner) + owner.count("\t") * tabsize)
        elif isinstance(owner, str) and name == "replace" and len(args) >= 2:
            old, new = args[0], args[1]
            if isinstance(old, str) and isinstance(new, str) and len(new) > len(old):
                times = owner.count(old) if old else len(owner) + 1
                if len(args) > 2 and isinstance(args[2], int) and args[2] >= 0:
                    times = min(times, args[2])
                fits(len(owner) + times * (len(new) - len(old)))
        elif isinstance(owner, str) and name == "join" and args and hasattr(args[0], "__len__"):
            items = args[0]
            fits(len(owner) * len(items))
            fits(sum(len(item) for item in items if isinstance(item, str)))
        elif isinstance(owner, str) and name == "translate" and args:
            table = args[0]
            if isinstance(table, dict):
                longest = max((len(v) for v in table.values() if isinstance(v, str)), default=1)
                fits(len(owner) * longest)

    def _multiply(self, a: Any, b: Any) -> Any:
        """`*`: a text or list repeated is measured before it is made."""
        for sequence, times in ((a, b), (b, a)):
            if isinstance(sequence, (str, bytes, list, tuple)) and isinstance(times, int):
                self.budget.fits(len(sequence) * times)
        return a * b

    def _modulo(self, a: Any, b: Any) -> Any:
        """`%`: a format's widths and precisions are measured before the text is made."""
        if isinstance(a, (str, bytes)):
            text = a.decode("latin-1") if isinstance(a, bytes) else a
            for spec in _PERCENT_SPEC.finditer(text):
                for number in spec.groups():
                    if number == "*":
                        raise self.budget.too_large()
                    if number is not None:
                        self.budget.fits(int(number))
        return a % b


def _size(value: Any, limit: int) -> int:
    """How large `value` is: characters of a text, elements of a collection (each at least
    one, their own size counted in), about the digits of a number. Counting stops past
    `limit`, so a huge or self-containing list costs no more than `limit` steps."""
    total = steps = 0
    stack = [value]
    while stack and total <= limit:
        item = stack.pop()
        steps += 1
        if steps > 2 * limit + 1:  # a list inside itself, or nested deeper than anyone needs
            return limit + 1
        if isinstance(item, (str, bytes)):
            total += max(1, len(item))
        elif isinstance(item, int):
            total += item.bit_length() // 3 + 1
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            total += not item
            stack.extend(item)
        else:
            total += 1
    return total


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


def _guarded(name: str, function: Callable[..., Any], budget: _Budget) -> Callable[..., Any]:
    """`function`, its own failures told apart from the expression's, called no more often
    than the limit, the time it takes given back to the run."""

    def call(*args: Any, **kwargs: Any) -> Any:
        calls = budget.calls[name] = budget.calls.get(name, 0) + 1
        if calls > budget.limits.calls:
            message = _("Строка {line}: больше {limit} вызовов {name} за один запуск")
            raise _LimitExceeded(message, limit=budget.limits.calls, name=name)
        started = time.monotonic()
        try:
            return function(*args, **kwargs)
        except CrmError:
            raise
        except Exception as e:
            raise _FunctionFailed(name) from e
        finally:
            budget.deadline += time.monotonic() - started

    return call


def _run(evaluator: _Evaluator, line: _Line) -> tuple[Any, str]:
    number = line.number
    try:
        value = evaluator.eval(line.source, previously_parsed=line.expression)
        if callable(value):  # `megafon_call` without brackets, `'a'.upper`
            raise _error(number, _("Строка {line}: ошибка в выражении"))
        return value, _text(value)
    except CrmError:
        raise
    except _LimitExceeded as e:
        raise _error(number, e.message, **e.values) from None
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
