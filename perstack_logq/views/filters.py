"""The filters of ``perstack log``, with the original's parsing rules and messages.

Mirrors apps/perstack/src/lib/log/filter.ts and the option parsing of apps/perstack/src/log.ts.
The log view runs the filters as SQL in DuckDB: ``StepFilter.to_sql`` gives the ``--step``
predicate, the event classes are the ``ERROR_TYPES``/``TOOL_TYPES``/``DELEGATION_TYPES`` sets, and
``FilterCondition.matches_json`` is meant to be registered as a Python UDF over an event's raw
JSON text, because ``--filter`` follows JavaScript semantics that SQL cannot express.

JavaScript details reproduced on purpose (each one changes which events match):

- Regular expressions: ``\\d`` and ``\\w`` are ASCII only, ``\\s`` and ``trim()`` use
  JavaScript's whitespace set (which has U+FEFF but not U+001C..U+001F or U+0085), ``.`` stops at
  line terminators (``\\n``, ``\\r``, U+2028, U+2029) and ``$`` only matches at the very end.
- ``Number(text)``: hexadecimal/octal/binary literals, ``Infinity``, ``.5``, ``5.`` and ``1e3`` are
  numbers; ``inf``, ``1_000`` or ``12abc`` are not. ``parseInt`` takes the leading digits.
- Strict equality: ``1 == 1.0``, but a boolean never equals a number and a string never equals a
  number; integers past 2**53 compare as the doubles JavaScript would have parsed.
- Property access: arrays are objects (``.toolCalls.0.toolName``, ``.toolCalls.length`` work),
  strings and numbers are not (``.type.length`` is undefined), and inherited members exist
  (``.constructor`` is a function, so ``.constructor != 1`` matches every event; ``.__proto__``
  is Object.prototype, whose own ``__proto__`` is null).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal, cast

import orjson

from perstack_logq.errors import UsageError
from perstack_logq.views.model import LogSummary
from perstack_logq.views.render import (
    UNDEFINED,
    int_to_double,
    is_array_index,
    js_number_to_string,
    js_string,
)

ERROR_TYPES = frozenset({"stopRunByError", "retry"})
TOOL_TYPES = frozenset({"callTools", "resolveToolResults", "callInteractiveTool"})
DELEGATION_TYPES = frozenset({"callDelegate", "stopRunByDelegate"})

# JavaScript's WhiteSpace and LineTerminator: what trim(), \s and Number() skip.
_JS_SPACE = (
    "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
)
_S = f"[{re.escape(_JS_SPACE)}]"
_NOT_LINE_TERMINATOR = "[^\n\r\u2028\u2029]"


def _js_trim(text: str) -> str:
    return text.strip(_JS_SPACE)


# --- Numbers ---------------------------------------------------------------------------------

_DECIMAL = re.compile(
    r"[+-]?(?:Infinity|[0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?|\.[0-9]+(?:[eE][+-]?[0-9]+)?)"
)
_RADIX = re.compile(r"0(?:[xX](?P<x>[0-9a-fA-F]+)|[oO](?P<o>[0-7]+)|[bB](?P<b>[01]+))")


def js_string_to_number(text: str) -> float:
    """``Number(text)`` for a string: a double, NaN when JavaScript gives NaN."""
    body = _js_trim(text)
    if body == "":
        return 0.0
    if _DECIMAL.fullmatch(body):
        return float(body)  # Python's float() rounds decimal strings as JavaScript does
    radix = _RADIX.fullmatch(body)
    if radix:
        base = {"x": 16, "o": 8, "b": 2}
        letter = next(k for k in base if radix.group(k) is not None)
        return int_to_double(int(radix.group(letter), base[letter]))
    return math.nan


def _js_to_number(value: Any) -> float:
    """``Number(value)`` for a JSON value (what Math.min does to its arguments)."""
    if value is UNDEFINED:
        return math.nan
    if value is None:
        return 0.0
    if type(value) is bool:
        return float(value)
    if type(value) is int:
        return int_to_double(value)
    if type(value) is float:
        return value
    if type(value) is str:
        return js_string_to_number(value)
    if type(value) is list:
        return js_string_to_number(js_string(value))  # ToPrimitive joins the array
    return math.nan


def _as_js_value(number: float) -> int | float:
    """A double as Python shows it best: an int when it is one (so 5 not 5.0)."""
    return int(number) if number.is_integer() else number


# --- --step ----------------------------------------------------------------------------------

StepKind = Literal["exact", "gt", "gte", "lt", "lte", "range"]
_STEP_SQL_OPERATORS = {"exact": "=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
_STEP_PATTERNS: list[tuple[StepKind, re.Pattern[str]]] = [
    ("gte", re.compile(r">=([0-9]+)")),
    ("gt", re.compile(r">([0-9]+)")),
    ("lte", re.compile(r"<=([0-9]+)")),
    ("lt", re.compile(r"<([0-9]+)")),
    ("exact", re.compile(r"([0-9]+)")),
]
_STEP_RANGE = re.compile(r"([0-9]+)-([0-9]+)")
_INT64_MAX = 2**63 - 1
_MAX_COUNT = 2**53


@dataclass(frozen=True)
class StepFilter:
    """``--step``: ``value`` for one bound, ``min``/``max`` (inclusive) for a range.

    Bounds are JavaScript numbers: ``Number("99999999999999999999")`` is 1e20, and a long enough
    run of digits is Infinity.
    """

    kind: StepKind
    value: int | float | None = None
    min: int | float | None = None
    max: int | float | None = None

    def to_sql(self, column: str = "step_number") -> tuple[str, list[int | float]]:
        """A WHERE predicate with ``?`` placeholders, and its parameters.

        ``column`` is spliced into the SQL as is: pass a column name, never user input. A NULL
        step matches nothing, as an undefined stepNumber does in the original.
        """
        if self.kind == "range":
            assert self.min is not None and self.max is not None
            bounds = [_sql_bound(self.min), _sql_bound(self.max)]
            return f"({column} >= ? AND {column} <= ?)", bounds
        assert self.value is not None
        return f"{column} {_STEP_SQL_OPERATORS[self.kind]} ?", [_sql_bound(self.value)]


def _sql_bound(bound: int | float) -> int | float:
    # DuckDB binds a Python int as BIGINT: past its range, bind the double JavaScript compares.
    if type(bound) is int and abs(bound) > _INT64_MAX:
        return float(bound)
    return bound


def parse_step_filter(text: str) -> StepFilter:
    """``N``, ``>N``, ``>=N``, ``<N``, ``<=N`` or ``A-B`` (surrounding whitespace allowed)."""
    trimmed = _js_trim(text)
    match = _STEP_RANGE.fullmatch(trimmed)
    if match:
        low, high = (_as_js_value(float(group)) for group in match.groups())
        if low > high:
            raise UsageError(
                f"Invalid step range: {text} "
                f"(min {js_number_to_string(low)} > max {js_number_to_string(high)})"
            )
        return StepFilter("range", min=low, max=high)
    for kind, pattern in _STEP_PATTERNS:
        match = pattern.fullmatch(trimmed)
        if match:
            return StepFilter(kind, value=_as_js_value(float(match.group(1))))
    raise UsageError(f"Invalid step filter: {text}")


# --- --filter --------------------------------------------------------------------------------

Operator = Literal["==", "!=", ">", ">=", "<", "<="]
_FILTER = re.compile(
    rf"\.([A-Za-z_][A-Za-z0-9_.\[\]]*){_S}*(==|!=|>=|<=|>|<){_S}*({_NOT_LINE_TERMINATOR}+)"
)


class _JsSpecial:
    """A JavaScript value that JSON cannot hold but a property lookup can reach."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


_FUNCTION = _JsSpecial("[Function]")  # an inherited method: typeof "function", not an object
_OBJECT_PROTOTYPE = _JsSpecial("Object.prototype")
_ARRAY_PROTOTYPE = _JsSpecial("Array.prototype")  # Array.isArray(Array.prototype) is true
_OBJECT_MEMBERS = frozenset(
    {
        "constructor",
        "hasOwnProperty",
        "isPrototypeOf",
        "propertyIsEnumerable",
        "toLocaleString",
        "toString",
        "valueOf",
        "__defineGetter__",
        "__defineSetter__",
        "__lookupGetter__",
        "__lookupSetter__",
    }
)
# Array.prototype's methods in current Node (22/24), on top of Object.prototype's.
_ARRAY_MEMBERS = _OBJECT_MEMBERS | frozenset(
    {
        *("at", "concat", "copyWithin", "entries", "every", "fill", "filter", "find"),
        *("findIndex", "findLast", "findLastIndex", "flat", "flatMap", "forEach", "includes"),
        *("indexOf", "join", "keys", "lastIndexOf", "map", "pop", "push", "reduce"),
        *("reduceRight", "reverse", "shift", "slice", "some", "sort", "splice", "toReversed"),
        *("toSorted", "toSpliced", "unshift", "values", "with"),
    }
)


def _property(obj: Any, key: str) -> Any:
    """``obj[key]`` where ``typeof obj === "object"`` and obj is not null."""
    if type(obj) is dict:
        if key in obj:
            return obj[key]
        if key == "__proto__":
            return _OBJECT_PROTOTYPE
        return _FUNCTION if key in _OBJECT_MEMBERS else UNDEFINED
    if type(obj) is list:
        if key == "length":
            return len(obj)
        if is_array_index(key):
            index = int(key)
            return obj[index] if index < len(obj) else UNDEFINED
        if key == "__proto__":
            return _ARRAY_PROTOTYPE
        return _FUNCTION if key in _ARRAY_MEMBERS else UNDEFINED
    if obj is _ARRAY_PROTOTYPE:
        if key == "length":
            return 0
        if key == "__proto__":
            return _OBJECT_PROTOTYPE
        return _FUNCTION if key in _ARRAY_MEMBERS else UNDEFINED
    # Object.prototype, the end of every chain
    if key == "__proto__":
        return None
    return _FUNCTION if key in _OBJECT_MEMBERS else UNDEFINED


def _is_js_object(value: Any) -> bool:
    """``typeof value === "object"`` for a non-null value."""
    return type(value) in (dict, list) or value is _OBJECT_PROTOTYPE or value is _ARRAY_PROTOTYPE


def _array_items(value: Any) -> list[Any] | None:
    """The elements when ``Array.isArray(value)``, else None."""
    if type(value) is list:
        return value
    if value is _ARRAY_PROTOTYPE:
        return []
    return None


def _field_value(obj: Any, path: tuple[str, ...]) -> Any:
    """The original's getFieldValue: ``*`` maps over an array and drops undefined results."""
    current = obj
    for i, segment in enumerate(path):
        if current is None or current is UNDEFINED:
            return UNDEFINED
        if segment == "*":
            items = _array_items(current)
            if items is None:
                return UNDEFINED
            rest = path[i + 1 :]
            if not rest:
                return current
            mapped = (_field_value(item, rest) for item in items)
            return [v for v in mapped if v is not UNDEFINED]
        if not _is_js_object(current):
            return UNDEFINED
        current = _property(current, segment)
    return current


def _is_number(value: Any) -> bool:
    return type(value) is int or type(value) is float  # bool is not a JavaScript number


def _as_double(value: int | float) -> int | float:
    """The number JavaScript holds: integers past 2**53 only as their nearest double."""
    if type(value) is int and abs(value) > 2**53:
        return int_to_double(value)
    return value


def _strictly_equal(actual: Any, expected: str | float | bool) -> bool:
    if type(expected) is bool:
        return type(actual) is bool and actual == expected
    if type(expected) is float:
        return _is_number(actual) and _as_double(actual) == expected
    return type(actual) is str and actual == expected


@dataclass(frozen=True)
class FilterCondition:
    """``--filter``: ``.<field> <operator> <value>``.

    ``field`` is the path split on ``.``, with ``[]`` as ``*``; ``value`` is a string, a
    JavaScript number (always a float here) or a boolean.
    """

    field: tuple[str, ...]
    operator: Operator
    value: str | float | bool

    def matches(self, event: Any) -> bool:
        """The original's evaluateCondition over one decoded event."""
        actual = _field_value(event, self.field)
        if actual is UNDEFINED:
            return False  # a missing field never matches, not even with !=
        items = _array_items(actual)
        if items is not None:
            return any(self._compare(item) for item in items)
        return self._compare(actual)

    def matches_json(self, raw: str) -> bool:
        """``matches`` over an event's JSON text (what the log view registers as a UDF).

        ``raw`` must be valid JSON: like the original, the view drops events it cannot decode.
        """
        return self.matches(orjson.loads(raw))

    def _compare(self, actual: Any) -> bool:
        expected = self.value
        if self.operator == "==":
            return _strictly_equal(actual, expected)
        if self.operator == "!=":
            return not _strictly_equal(actual, expected)
        if not (_is_number(actual) and type(expected) is float):
            return False  # ordering only between numbers
        number = _as_double(actual)
        if self.operator == ">":
            return number > expected
        if self.operator == ">=":
            return number >= expected
        if self.operator == "<":
            return number < expected
        return number <= expected


def _parse_field_path(path: str) -> tuple[str, ...]:
    """Split on ``.``; ``[]`` is a segment of its own (``*``); other brackets stay in names."""
    parts: list[str] = []
    current = ""
    i = 0
    while i < len(path):
        if path[i] == ".":
            if current:
                parts.append(current)
                current = ""
            i += 1
        elif path.startswith("[]", i):
            if current:
                parts.append(current)
                current = ""
            parts.append("*")
            i += 2
        else:
            current += path[i]
            i += 1
    if current:
        parts.append(current)
    return tuple(parts)


def _parse_value(raw: str) -> str | float | bool:
    if raw == "true":
        return True
    if raw == "false":
        return False
    # A lone `"` both starts and ends with a quote: it is the empty string.
    for quote in ('"', "'"):
        if raw.startswith(quote) and raw.endswith(quote):
            return raw[1:-1]
    number = js_string_to_number(raw)
    return raw if math.isnan(number) else number


def parse_filter_expression(text: str) -> FilterCondition:
    match = _FILTER.fullmatch(_js_trim(text))
    if not match:
        raise UsageError(f"Invalid filter expression: {text}")
    field_path, operator, raw_value = match.groups()
    value_text = _js_trim(raw_value)
    # Unreachable with this pattern (the trimmed text ends in a non-space that the value
    # group must take), kept because the original checks it and the message is documented.
    if value_text == "":
        raise UsageError(f"Missing value in filter expression: {text}")
    return FilterCondition(
        _parse_field_path(field_path), cast(Operator, operator), _parse_value(value_text)
    )


# --- --take / --offset / --context -----------------------------------------------------------

_LEADING_INT = re.compile(r"([+-]?)([0-9]+)")


def parse_non_negative_int(option: str, text: str) -> int:
    """``parseInt(text, 10)``, refused when NaN or negative (the original's parsePositiveInt).

    Leading whitespace, a sign and trailing junk are accepted (``"12abc"`` is 12, ``"1e3"`` is
    1, ``"-0"`` is 0). Values past 2**53 (JavaScript's largest exact integer) are clamped to
    it: no store holds that many events, and offset + take + context still fit SQL's BIGINT.
    """
    match = _LEADING_INT.match(text.lstrip(_JS_SPACE))
    if not match:
        raise UsageError(f'Invalid value for {option}: "{text}" is not a valid number')
    sign, digits = match.groups()
    digits = digits.lstrip("0")
    if sign == "-" and digits:
        raise UsageError(f'Invalid value for {option}: "{text}" must be non-negative')
    if len(digits) > len(str(_MAX_COUNT)):
        return _MAX_COUNT
    return min(int(digits or "0"), _MAX_COUNT)


# --- Summary ---------------------------------------------------------------------------------


def _type_in(event: Any, types: frozenset[str]) -> bool:
    event_type = event.get("type") if type(event) is dict else None
    return type(event_type) is str and event_type in types


def summarize(events: Iterable[Any]) -> LogSummary:
    """The original's createSummary, over the events shown (context events included).

    The step range is ``Math.min``/``Math.max`` of the events' ``stepNumber``: an event without
    a numeric step makes both NaN, as in the original (shown as ``NaN``, or null in JSON).
    """
    events = list(events)
    if not events:
        return LogSummary(0, 0, 0, 0, None)
    steps = [
        _js_to_number(event.get("stepNumber", UNDEFINED) if type(event) is dict else UNDEFINED)
        for event in events
    ]
    if any(math.isnan(step) for step in steps):
        step_range: tuple[Any, Any] = (math.nan, math.nan)
    else:
        step_range = (_as_js_value(min(steps)), _as_js_value(max(steps)))
    return LogSummary(
        total_events=len(events),
        error_count=sum(_type_in(e, ERROR_TYPES) for e in events),
        tool_call_count=sum(_type_in(e, TOOL_TYPES) for e in events),
        delegation_count=sum(_type_in(e, DELEGATION_TYPES) for e in events),
        step_range=step_range,
    )
