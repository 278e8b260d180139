"""The filters of ``perstack log``: every parsing rule and message of the original, and the
JavaScript semantics of ``--filter`` (filter.ts, log.ts)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import duckdb
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import FIXTURE_STORE
from support.cli import run_cli
from views.test_render import step_matches  # the original's matchesStepFilter

from perstack_logq.errors import UsageError
from perstack_logq.views.filters import (
    DELEGATION_TYPES,
    ERROR_TYPES,
    TOOL_TYPES,
    FilterCondition,
    StepFilter,
    js_string_to_number,
    parse_filter_expression,
    parse_non_negative_int,
    parse_step_filter,
    summarize,
)
from perstack_logq.views.model import LogSummary

# The parsers get thousands of inputs; the costlier properties fewer. All together they stay
# within a few seconds on an idle machine.
PARSER_INPUTS = settings(
    max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
FEW = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_event_classes_are_the_originals() -> None:
    assert frozenset({"stopRunByError", "retry"}) == ERROR_TYPES
    assert frozenset({"callTools", "resolveToolResults", "callInteractiveTool"}) == TOOL_TYPES
    assert frozenset({"callDelegate", "stopRunByDelegate"}) == DELEGATION_TYPES


# --- --step ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5", StepFilter("exact", value=5)),
        ("007", StepFilter("exact", value=7)),
        (" 5\t", StepFilter("exact", value=5)),
        ("\ufeff5\u3000", StepFilter("exact", value=5)),  # JavaScript trims U+FEFF and U+3000
        ("5\n", StepFilter("exact", value=5)),
        (">5", StepFilter("gt", value=5)),
        (">=5", StepFilter("gte", value=5)),
        ("<5", StepFilter("lt", value=5)),
        ("<=0", StepFilter("lte", value=0)),
        ("1-3", StepFilter("range", min=1, max=3)),
        ("3-3", StepFilter("range", min=3, max=3)),
        ("99999999999999999999", StepFilter("exact", value=10**20)),  # Number() is a double
        ("9" * 400, StepFilter("exact", value=math.inf)),
    ],
)
def test_parse_step_filter(text: str, expected: StepFilter) -> None:
    assert parse_step_filter(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        *("", " ", "abc", "1.5", "-1", "+1", "> 5", "=5", "==5", "5-", "-5", "1-2-3", "1 - 2"),
        *("5\n6", "\u0665", "\uff15", "\x1c5", "5\x85", "0x5", "1e2", ">=-1", "<>1"),
    ],
)
def test_parse_step_filter_rejects(text: str) -> None:
    with pytest.raises(UsageError) as error:
        parse_step_filter(text)
    assert str(error.value) == f"Invalid step filter: {text}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("3-1", "Invalid step range: 3-1 (min 3 > max 1)"),
        (" 10-02 ", "Invalid step range:  10-02  (min 10 > max 2)"),  # the text as given
        (
            "99999999999999999999999-1",
            "Invalid step range: 99999999999999999999999-1 (min 1e+23 > max 1)",
        ),
        ("9" * 400 + "-1", f"Invalid step range: {'9' * 400}-1 (min Infinity > max 1)"),
    ],
)
def test_parse_step_range_min_above_max(text: str, message: str) -> None:
    with pytest.raises(UsageError) as error:
        parse_step_filter(text)
    assert str(error.value) == message


def test_step_filter_sql() -> None:
    assert parse_step_filter("5").to_sql() == ("step_number = ?", [5])
    assert parse_step_filter(">5").to_sql("s") == ("s > ?", [5])
    assert parse_step_filter(">=5").to_sql() == ("step_number >= ?", [5])
    assert parse_step_filter("<5").to_sql() == ("step_number < ?", [5])
    assert parse_step_filter("<=5").to_sql() == ("step_number <= ?", [5])
    assert parse_step_filter("2-4").to_sql() == ("(step_number >= ? AND step_number <= ?)", [2, 4])
    # past BIGINT: bound as the double JavaScript compares with
    assert parse_step_filter("99999999999999999999").to_sql() == ("step_number = ?", [1e20])


@pytest.fixture(scope="module")
def connection() -> Iterator[duckdb.DuckDBPyConnection]:
    with duckdb.connect() as con:
        con.execute("CREATE TABLE steps (step_number BIGINT)")
        con.execute("INSERT INTO steps SELECT * FROM range(0, 12) UNION ALL SELECT NULL")
        yield con


@FEW
@given(
    st.sampled_from(["{a}", ">{a}", ">={a}", "<{a}", "<={a}", "{a}-{b}"]),
    st.integers(0, 13) | st.sampled_from([10**19, 10**20, 10**400]),
    st.integers(0, 13),
)
def test_step_sql_agrees_with_javascript(
    connection: duckdb.DuckDBPyConnection, template: str, a: int, b: int
) -> None:
    try:
        step = parse_step_filter(template.format(a=a, b=b))
    except UsageError:
        return
    sql, params = step.to_sql()
    rows = connection.execute(f"SELECT step_number FROM steps WHERE {sql}", params).fetchall()
    assert sorted(n for (n,) in rows) == [n for n in range(12) if step_matches(step, n)]


@PARSER_INPUTS
@given(
    st.text(alphabet="0123456789<>=- \t\n\u00a0\ufeff\x1c.x", max_size=12) | st.text(max_size=12)
)
def test_parse_step_filter_only_raises_usage_errors(text: str) -> None:
    try:
        parse_step_filter(text)
    except UsageError as error:
        assert str(error).startswith(("Invalid step filter: ", "Invalid step range: "))


# --- --filter: parsing -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "field", "operator", "value"),
    [
        ('.type == "callTools"', ("type",), "==", "callTools"),
        (" .type=='x' ", ("type",), "==", "x"),
        (
            ".toolCalls[].toolName == readTextFile",
            ("toolCalls", "*", "toolName"),
            "==",
            "readTextFile",
        ),
        (".a[0].b != 1", ("a[0]", "b"), "!=", 1.0),  # no index syntax: "a[0]" is a key
        (".a..b > 1", ("a", "b"), ">", 1.0),
        (".a[][] >= 1", ("a", "*", "*"), ">=", 1.0),
        (".a.[].b < 1", ("a", "*", "b"), "<", 1.0),
        (".a[ <= 1", ("a[",), "<=", 1.0),
        (".a]b[c] == 1", ("a]b[c]",), "==", 1.0),
        ("._x.0 == 1", ("_x", "0"), "==", 1.0),
        (".a. == 1", ("a",), "==", 1.0),
        (".a<==1", ("a",), "<=", "=1"),
        (".a===1", ("a",), "==", "=1"),
        (".a>>1", ("a",), ">", ">1"),
        (".a\u3000==\u00a01", ("a",), "==", 1.0),  # \s is JavaScript's whitespace
    ],
)
def test_parse_filter_expression(
    text: str, field: tuple[str, ...], operator: str, value: Any
) -> None:
    condition = parse_filter_expression(text)
    assert (condition.field, condition.operator, condition.value) == (field, operator, value)
    assert type(condition.value) is type(value)


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("true", True),
        ("false", False),
        ("True", "True"),
        ('"x y"', "x y"),
        ("'x y'", "x y"),
        ('"', ""),  # a lone quote starts and ends with a quote
        ("'", ""),
        ('""', ""),
        ("\"it's'", "\"it's'"),  # mismatched quotes: the bare text
        ('"5"', "5"),
        ("5", 5.0),
        ("-5", -5.0),
        ("+5", 5.0),
        ("1.50", 1.5),
        (".5", 0.5),
        ("5.", 5.0),
        ("1e3", 1000.0),
        ("1E-3", 0.001),
        ("0x10", 16.0),
        ("0XfF", 255.0),
        ("0o17", 15.0),
        ("0b101", 5.0),
        ("010", 10.0),  # no legacy octal in Number()
        ("Infinity", math.inf),
        ("-Infinity", -math.inf),
        ("1e400", math.inf),
        ("-0", -0.0),
        ("12abc", "12abc"),
        ("inf", "inf"),
        ("infinity", "infinity"),
        ("NaN", "NaN"),
        ("nan", "nan"),
        ("null", "null"),
        ("1_000", "1_000"),
        ("-0x10", "-0x10"),
        ("0x", "0x"),
        ("1e", "1e"),
        (".", "."),
        ("\u0665", "\u0665"),  # not an ASCII digit
        ("a b", "a b"),
    ],
)
def test_filter_values(raw: str, value: Any) -> None:
    parsed = parse_filter_expression(f".f == {raw}").value
    assert type(parsed) is type(value)
    if isinstance(value, float) and value == 0:
        assert math.copysign(1, parsed) == math.copysign(1, value)  # type: ignore[arg-type]
    assert parsed == value


@pytest.mark.parametrize(
    "text",
    [
        "",
        "type == x",
        ".1a == x",
        ". a == x",
        ".é == x",
        ".a",
        ".a ==",
        ".a == ",
        ".a = 1",
        ".a ! = 1",
        ".a == x\ny",  # "." stops at line terminators
        ".a == x\u2028y",
        ".a-b == 1",
        ".[] == 1",
        "..a == 1",
    ],
)
def test_parse_filter_expression_rejects(text: str) -> None:
    with pytest.raises(UsageError) as error:
        parse_filter_expression(text)
    assert str(error.value) == f"Invalid filter expression: {text}"


def test_filter_expression_text_is_trimmed_first() -> None:
    assert parse_filter_expression("\n.a == 1\u2029").value == 1.0
    assert parse_filter_expression(".a == x\r\n").value == "x"


_FILTER_ALPHABET = ".abc_01[]=!<> \t\"'\n\u2028\u3000xe-+"


@PARSER_INPUTS
@given(st.text(alphabet=_FILTER_ALPHABET, max_size=20) | st.text(max_size=20))
def test_parse_filter_expression_only_raises_usage_errors(text: str) -> None:
    try:
        parse_filter_expression(text)
    except UsageError as error:
        # "Missing value in filter expression" cannot happen: see filters.py
        assert str(error) == f"Invalid filter expression: {text}"


@FEW
@given(st.from_regex(r"\.[a-z_][a-z0-9_.\[\]]{0,8} ?(==|!=|>=|<=|>|<) ?.{1,8}", fullmatch=True))
def test_well_formed_filter_expressions_parse(text: str) -> None:
    try:
        parse_filter_expression(text)
    except UsageError:
        # only a value the regex of the original refuses: it ends in whitespace or spans lines
        assert any(c in text for c in "\n\r\u2028\u2029") or text != text.strip()


# --- --filter: matching ----------------------------------------------------------------------

EVENT: dict[str, Any] = {
    "id": "e1",
    "type": "callTools",
    "stepNumber": 2,
    "ratio": 0.5,
    "flag": True,
    "off": False,
    "nothing": None,
    "zero": 0,
    "big": 2**53 + 1,
    "text": "12",
    "toolCalls": [
        {"toolName": "readTextFile", "skillName": "fs", "args": {"path": "a"}},
        {"toolName": "writeTextFile", "skillName": "fs", "args": {}},
        {"skillName": "fs"},
    ],
    "nested": [[1, 2], [3]],
    "numbers": [1, 5, 10],
    "empty": [],
    "__proto__": "own",
}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('.type == "callTools"', True),
        (".type == callTools", True),
        ('.type != "callTools"', False),
        (".type == 'retry'", False),
        (".stepNumber == 2", True),
        (".stepNumber == 2.0", True),
        (".stepNumber == '2'", False),  # quoted: a string, never equal to a number
        (".stepNumber == 0x2", True),
        (".stepNumber != 3", True),
        (".stepNumber > 1", True),
        (".stepNumber >= 2", True),
        (".stepNumber < 2", False),
        (".stepNumber <= 2", True),
        (".stepNumber > Infinity", False),
        (".stepNumber < Infinity", True),
        (".stepNumber > abc", False),  # ordering needs two numbers
        (".text == 12", False),  # "12" is a string
        (".text == '12'", True),
        (".text > 1", False),
        (".flag == true", True),
        (".flag == 1", False),  # a boolean is not a number
        (".flag > 0", False),
        (".off == false", True),
        (".zero == false", False),
        (".zero == -0", True),
        (".ratio == .5", True),
        (".ratio < 1", True),
        (".big == 9007199254740992", True),  # JSON.parse rounds 2**53 + 1 to 2**53
        (".missing == 1", False),
        (".missing != 1", False),  # a missing field never matches, not even with !=
        (".nothing == null", False),  # "null" is a string
        (".nothing != null", True),  # null !== "null"
        (".nothing.x != 1", False),  # through null: undefined
        (".toolCalls[].toolName == writeTextFile", True),
        (".toolCalls[].toolName == deleteFile", False),
        (".toolCalls[].toolName != readTextFile", True),  # some() element differs
        (".toolCalls[].args.path == a", True),
        (".toolCalls.toolName == readTextFile", False),  # no implicit mapping
        (".toolCalls.0.toolName == readTextFile", True),  # arrays are objects
        (".toolCalls.1.toolName == writeTextFile", True),
        (".toolCalls.01.toolName == writeTextFile", False),  # "01" is not an index
        (".toolCalls.3.toolName != x", False),
        (".toolCalls.length == 3", True),
        (".toolCalls.length > 2", True),
        (".type.length == 9", False),  # strings are not objects in getFieldValue
        (".type.length != 9", False),
        (".stepNumber.x != 1", False),
        (".numbers > 7", True),  # an array value matches when any element does
        (".numbers < 1", False),
        (".numbers[] == 5", True),
        (".numbers[].x == 5", False),
        (".numbers.length == 3", True),
        (".empty != 1", False),  # some() over nothing
        (".empty[] != 1", False),
        (".nested[] == 1", False),  # the elements are arrays
        (".nested[] != 1", True),
        (".nested[][] == 3", False),  # the mapped elements are arrays again
        (".nested[][] != 3", True),
        (".type[] == c", False),  # a string is not an array
        (".constructor != 1", True),  # inherited: a function, so != holds
        (".constructor == 1", False),
        (".constructor.name == Object", False),  # a function is not an object
        (".hasOwnProperty != x", True),
        (".__proto__ == own", True),  # an own "__proto__" key wins
        (".toolCalls.0.__proto__ != 1", True),  # Object.prototype
        (".toolCalls.0.__proto__.__proto__ != 1", True),  # null !== 1
        (".toolCalls.0.__proto__.__proto__.x != 1", False),
        (".toolCalls.0.__proto__.length != 1", False),
        (".toolCalls.map != 1", True),
        (".toolCalls.__proto__ != 1", False),  # Array.prototype is an (empty) array
        (".toolCalls.__proto__.length == 0", True),
        (".toolCalls.__proto__[] != 1", False),
        (".toolCalls.__proto__.__proto__.toString != 1", True),
    ],
)
def test_matches_javascript_semantics(expression: str, expected: bool) -> None:
    condition = parse_filter_expression(expression)
    assert condition.matches(EVENT) is expected


def test_matches_non_object_events() -> None:
    condition = parse_filter_expression(".a != 1")
    assert [condition.matches(v) for v in (None, 5, "a", [], [{"a": 2}])] == [
        False,
        False,
        False,
        False,
        False,
    ]
    assert parse_filter_expression(".length == 1").matches([7]) is True
    with pytest.raises(UsageError):  # a path starts with a letter or "_"
        parse_filter_expression(".0 == 7")


def test_matches_json() -> None:
    condition = parse_filter_expression('.toolCalls[].toolName == "askUser"')
    assert condition.matches_json('{"toolCalls":[{"toolName":"askUser"}]}') is True
    assert condition.matches_json('{"toolCalls":[]}') is False
    assert condition.matches_json('{"1":{"x":1},"toolCalls":[{"toolName":"x"}]}') is False


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**64), 2**64)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(["a", "b", "0", "1", "length", "__proto__"]), children)
    ),
    max_leaves=12,
)


@FEW
@given(
    _json,
    st.from_regex(r"\.[ab_](\.|\[\]|[ab01]|length|__proto__|constructor){0,5}", fullmatch=True),
    st.sampled_from(["==", "!=", ">", ">=", "<", "<="]),
    st.sampled_from(["1", "0", "true", "'a'", "x", "1e400", "-0"]),
)
def test_matching_never_raises(event: Any, path: str, operator: str, value: str) -> None:
    condition = parse_filter_expression(f"{path} {operator} {value}")
    assert condition.matches(event) in (True, False)
    assert isinstance(condition, FilterCondition)


# --- --take / --offset / --context -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("5", 5),
        ("0", 0),
        ("007", 7),
        ("+7", 7),
        ("-0", 0),  # parseInt gives -0, which is not negative
        ("  12abc", 12),
        ("\ufeff\u00a03", 3),
        ("1e3", 1),
        ("0x10", 0),
        ("12.9", 12),
        ("99999999999999999999", 2**53),  # clamped; no store is that large
        ("9" * 5000, 2**53),
        (str(2**53 + 1), 2**53),
    ],
)
def test_parse_non_negative_int(text: str, value: int) -> None:
    assert parse_non_negative_int("--take", text) == value


@pytest.mark.parametrize("text", ["", " ", "abc", "-", "+", "- 1", "x1", "\x1c1", "\u0661", "½"])
def test_parse_non_negative_int_not_a_number(text: str) -> None:
    with pytest.raises(UsageError) as error:
        parse_non_negative_int("--take", text)
    assert str(error.value) == f'Invalid value for --take: "{text}" is not a valid number'


@pytest.mark.parametrize("text", ["-1", " -5abc", "-00001", "-" + "9" * 30])
def test_parse_non_negative_int_negative(text: str) -> None:
    with pytest.raises(UsageError) as error:
        parse_non_negative_int("--offset", text)
    assert str(error.value) == f'Invalid value for --offset: "{text}" must be non-negative'


@PARSER_INPUTS
@given(st.text(alphabet="0123456789+- \t\u00a0xe.", max_size=12) | st.text(max_size=12))
def test_parse_non_negative_int_only_raises_usage_errors(text: str) -> None:
    try:
        assert 0 <= parse_non_negative_int("--context", text) <= 2**53
    except UsageError as error:
        assert str(error).startswith(f'Invalid value for --context: "{text}" ')


@FEW
@given(st.integers(0, 2**53))
def test_parse_non_negative_int_round_trips(number: int) -> None:
    assert parse_non_negative_int("--take", str(number)) == number


# --- Number() ---------------------------------------------------------------------------------


@FEW
@given(st.floats(allow_nan=False))
def test_number_parses_what_javascript_prints(number: float) -> None:
    from perstack_logq.views.render import js_number_to_string

    assert js_string_to_number(js_number_to_string(number)) == number


def test_number_of_blank_is_zero() -> None:
    assert js_string_to_number(" \n") == 0.0


# --- Summary ---------------------------------------------------------------------------------


def test_summarize() -> None:
    assert summarize([]) == LogSummary(0, 0, 0, 0, None)
    events = [
        {"type": "startRun", "stepNumber": 3},
        {"type": "retry", "stepNumber": 1},
        {"type": "stopRunByError", "stepNumber": 2},
        {"type": "callTools", "stepNumber": 2},
        {"type": "resolveToolResults", "stepNumber": 2},
        {"type": "callInteractiveTool", "stepNumber": 2},
        {"type": "callDelegate", "stepNumber": 5},
        {"type": "stopRunByDelegate", "stepNumber": 5},
        {"type": ["retry"], "stepNumber": 4},
    ]
    assert summarize(events) == LogSummary(9, 2, 3, 2, (1, 5))


def test_summarize_step_range_like_math_min() -> None:
    summary = summarize([{"type": "x", "stepNumber": 1}, {"type": "x"}])
    assert summary.step_range is not None
    assert all(math.isnan(v) for v in summary.step_range)  # undefined -> NaN
    assert summarize([{"stepNumber": None}, {"stepNumber": 3}]).step_range == (0, 3)
    assert summarize([{"stepNumber": "7"}, {"stepNumber": True}]).step_range == (1, 7)
    assert summarize([{"stepNumber": 1.5}]).step_range == (1.5, 1.5)


def test_a_filter_into_a_conversation_sees_the_messages_as_stored() -> None:
    """The cache keeps each message once (records hold their ids): a --filter on a path into
    `messages` still sees them, in a real process (its function runs inside the query)."""
    job = "anaew4v18s62aanmx116dgi2"  # a delegation: tool messages in its conversations
    text = '.checkpoint.messages[].type == "toolMessage"'
    condition = parse_filter_expression(text)
    store = ["--storage", str(FIXTURE_STORE), "--no-cache"]
    everything = run_cli("log", "--job", job, "--json", "--take", "0", *store, check=True)
    expected = [e for e in orjson.loads(everything.stdout)["events"] if condition.matches(e)]
    assert expected
    filtered = run_cli(
        "log", "--job", job, "--json", "--take", "0", "--filter", text, *store, check=True
    )
    events = orjson.loads(filtered.stdout)["events"]
    assert events == expected and len(events) < len(orjson.loads(everything.stdout)["events"])
