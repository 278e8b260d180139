"""The renderers of ``perstack log``: terminal text and ``--json``, byte-exact with the original.

The original (apps/perstack/src/lib/log/formatter.ts) builds its text with JavaScript template
literals and ``JSON.stringify``. Python's ``str()``, ``json`` and slicing differ from those in
ways that show in the output, so this module carries the few JavaScript value semantics it needs:

- ``String(x)``: numbers print like JavaScript (``1`` not ``1.0``, ``1e+21``, ``1e-7``, ``-0`` as
  ``0``), ``true``/``false``/``null``/``undefined``, arrays joined with ``,``, objects as
  ``[object Object]``.
- ``.length``/``.slice`` count UTF-16 code units: a cut can split an emoji in two, and Node writes
  the lone half as U+FFFD when it prints.
- ``JSON.stringify``: object keys that are array indices (``"0"``, ``"17"``) come first in numeric
  order (a JavaScript object always orders them so), numbers are formatted as above, non-ASCII
  is written raw, lone surrogates are escaped as ``\\udxxx``.
- Dates: ``new Date(ms).toISOString()`` in UTC, including its behaviour on fractional and
  out-of-range times.

Both renderers return the text without the final newline: the original hands its string to
``console.log``, which adds it, so the caller prints the result followed by one newline.

Where the original would crash with a TypeError on a malformed event (an event whose
``toolCalls`` is not an array, a ``callDelegate`` tool call without ``args``, ...), the terminal
renderer carries on and shows the missing value the way JavaScript prints ``undefined``; for
events the runtime writes, the output is identical. A time that is not a number (or is out of
JavaScript's date range) fails like the original: ``Error: Invalid time value``.

Our additions to the output, and only these: the ``Storage:`` line names the storage type before
its location, and ``--json`` carries a ``storage`` object right after ``storagePath``.
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Iterator
from typing import Any

import orjson

from perstack_logq.decode.canonical import canonical_message
from perstack_logq.errors import LogqError
from perstack_logq.views.model import JsonObject, LogOutput, LogSummary
from perstack_logq.views.terminal import json_bytes


class _Undefined:
    """JavaScript's ``undefined``: what reading a missing property gives."""

    def __repr__(self) -> str:
        return "undefined"


UNDEFINED: Any = _Undefined()

# Integers up to 2**53 are exact doubles; past that JavaScript only has the nearest double.
_MAX_SAFE = 2**53
_RULE = "─" * 50


def _has_lone_surrogate(text: str) -> bool:
    """Whether a string holds a UTF-16 surrogate, which no UTF-8 text can: encoding finds it
    eight times faster than a regular expression scans for it (tool results are long)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


# --- JavaScript values -----------------------------------------------------------------------


def js_number_to_string(x: float | int) -> str:
    """``String(x)`` for a JavaScript number (ECMAScript Number::toString, radix 10)."""
    if type(x) is int:
        if -_MAX_SAFE <= x <= _MAX_SAFE:
            return str(x)
        x = int_to_double(x)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "0"  # also -0
    sign = "-" if x < 0 else ""
    # repr() gives the shortest digit string that round-trips, which is also what JavaScript
    # picks; only the layout (where the point goes, when to switch to an exponent) differs.
    mantissa, _, exp_text = repr(abs(x)).partition("e")
    int_part, _, frac_part = mantissa.partition(".")
    all_digits = int_part + frac_part
    stripped = all_digits.lstrip("0")
    digits = stripped.rstrip("0")
    # value = 0.<digits> * 10**n
    n = len(int_part) + (int(exp_text) if exp_text else 0) - (len(all_digits) - len(stripped))
    k = len(digits)
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * -n + digits
    e = n - 1
    exponent = f"e{'+' if e >= 0 else '-'}{abs(e)}"
    return sign + digits[0] + ("." + digits[1:] if k > 1 else "") + exponent


def int_to_double(x: int) -> float:
    """The double JSON.parse makes of an integer literal (Infinity past the double range)."""
    try:
        return float(x)
    except OverflowError:
        return math.inf if x > 0 else -math.inf


def js_string(value: Any) -> str:
    """``String(value)`` / template-literal interpolation for a JSON value."""
    if value is UNDEFINED:
        return "undefined"
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if type(value) is int or type(value) is float:
        return js_number_to_string(value)
    if type(value) is str:
        return value
    if type(value) is list:
        return _js_join(value, ",")
    return "[object Object]"


def _js_join(items: list[Any], separator: str) -> str:
    """``Array.prototype.join``: null and undefined become empty strings."""
    return separator.join("" if v is None or v is UNDEFINED else js_string(v) for v in items)


def js_length(text: str) -> int:
    """``text.length``: UTF-16 code units (characters past U+FFFF count twice)."""
    if text.isascii():
        return len(text)
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def js_slice_prefix(text: str, units: int) -> str:
    """``text.slice(0, units)`` on UTF-16 code units.

    Cutting through a character past U+FFFF keeps its high surrogate alone, as JavaScript does;
    the renderers turn it into U+FFFD at output time, as Node does when it writes UTF-8.
    """
    if text.isascii():
        return text[:units]
    out: list[str] = []
    used = 0
    for ch in text:
        width = 2 if ord(ch) > 0xFFFF else 1
        if used + width > units:
            if used < units:  # one unit left: the high half of this pair
                out.append(chr(0xD800 + ((ord(ch) - 0x10000) >> 10)))
            break
        out.append(ch)
        used += width
    return "".join(out)


def _preview(value: Any, limit: int) -> str:
    """``value.length > limit ? `${value.slice(0, limit)}...` : value``, then ``String()``.

    Strings and arrays have a length; anything else is printed whole, like the original.
    """
    if type(value) is str:
        if js_length(value) > limit:
            return js_slice_prefix(value, limit) + "..."
        return value
    if type(value) is list and len(value) > limit:
        return js_string(value[:limit]) + "..."
    return js_string(value)


def _utf8_safe(text: str) -> str:
    """What Node writes for a JavaScript string: lone surrogates become U+FFFD."""
    if not _has_lone_surrogate(text):
        return text
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


# --- Dates -----------------------------------------------------------------------------------

_MAX_TIME = 8.64e15  # ECMAScript TimeClip: the Date range is +-100,000,000 days around 1970


def _js_iso_string(value: Any) -> str:
    """``new Date(value).toISOString()``; LogqError("Invalid time value") like the original."""
    if value is None or type(value) is bool:
        ms: float = float(bool(value))  # Number(null) is 0, Number(true) is 1
    elif type(value) is int or type(value) is float:
        ms = value if type(value) is float else int_to_double(value)
    else:
        # A string would go through Date.parse in the original; times in the store are numbers.
        raise LogqError("Invalid time value")
    if not math.isfinite(ms) or abs(ms) > _MAX_TIME:
        raise LogqError("Invalid time value")
    t = int(ms)  # TimeClip truncates toward zero
    days, ms_of_day = divmod(t, 86_400_000)
    year, month, day = _civil_from_days(days)
    seconds, millis = divmod(ms_of_day, 1000)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    # Years outside 0..9999 take the expanded form: sign and six digits.
    year_text = f"{year:04d}" if 0 <= year <= 9999 else f"{'+' if year > 0 else '-'}{abs(year):06d}"
    return f"{year_text}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}.{millis:03d}Z"


def _civil_from_days(days: int) -> tuple[int, int, int]:
    """Proleptic Gregorian (year, month, day) of a day count from 1970-01-01, for any year."""
    z = days + 719_468
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    year = yoe + era * 400 + (1 if month <= 2 else 0)
    return year, month, day


def _format_timestamp(value: Any) -> str:
    """``YYYY-MM-DD HH:MM:SS`` in UTC (the original's formatTimestamp)."""
    iso = _js_iso_string(value).replace("T", " ", 1)
    return re.sub(r"\.[0-9]{3}Z\Z", "", iso)


def _format_time(value: Any) -> str:
    """``HH:MM:SS`` in UTC: characters 11..19 of the ISO string (the original's formatTime)."""
    return _js_iso_string(value)[11:19]


# --- Terminal --------------------------------------------------------------------------------


def _get(obj: Any, key: str) -> Any:
    """``obj[key]`` for a JSON object; undefined for a missing key or a non-object."""
    if type(obj) is dict:
        return obj.get(key, UNDEFINED)
    return UNDEFINED


def format_terminal(output: LogOutput, *, verbose: bool, messages: bool, summary: bool) -> str:
    lines: list[str] = []
    if output.is_latest_job:
        lines += ["(showing latest job)", ""]
    lines += [f"Storage: {output.storage}", ""]
    lines += [*_job_header(output.job), ""]
    if output.checkpoint is not None:
        lines += _checkpoint_header(output.checkpoint)
        if messages:
            lines += ["", "Messages:"]
            for message in _as_list(_get(output.checkpoint, "messages")):
                preview = _preview(_extract_text(_get(message, "contents")), 100)
                lines.append(f"  [{js_string(_get(message, 'type'))}] {preview}")
        lines.append("")
    if summary:
        lines += [*_summary_section(output.summary), ""]
    if output.events:
        lines += ["Events:", _RULE]
        for event in output.events:
            lines += _format_event(event, verbose)
        lines.append(_RULE)
        # The original compares the kept count (not the shown count, which includes context
        # events) with the matched count: context alone never triggers the note.
        if output.total_events_before_limit > output.matched_after_pagination:
            extra = len(output.events) - output.matched_after_pagination
            context_note = f" (+{extra} context)" if extra > 0 else ""
            lines.append(
                f"(showing {output.matched_after_pagination} of "
                f"{output.total_events_before_limit} matched events{context_note})"
            )
            lines.append("Use --take and --offset to paginate, or --take 0 for all")
    elif output.total_events_before_limit > 0:
        lines.append(f"({output.total_events_before_limit} events available, use --offset to view)")
    return _utf8_safe("\n".join(lines))


def _as_list(value: Any) -> list[Any]:
    # The original iterates these and would throw on a non-array; we show nothing instead.
    return value if type(value) is list else []


def _job_header(job: JsonObject) -> list[str]:
    lines = [
        f"Job: {js_string(_get(job, 'id'))} ({js_string(_get(job, 'status'))})",
        f"Expert: {js_string(_get(job, 'coordinatorExpertKey'))}",
        f"Started: {_format_timestamp(_get(job, 'startedAt'))}",
        f"Steps: {js_string(_get(job, 'totalSteps'))}",
    ]
    finished_at = _get(job, "finishedAt")
    if _js_truthy(finished_at):  # `if (job.finishedAt)`: a finishedAt of 0 is not shown
        lines.append(f"Finished: {_format_timestamp(finished_at)}")
    return lines


def _js_truthy(value: Any) -> bool:
    if value is UNDEFINED or value is None:
        return False
    if type(value) is float and math.isnan(value):
        return False
    if type(value) in (bool, int, float, str):
        return bool(value)
    return True  # objects and arrays, even empty ones


def _checkpoint_header(checkpoint: JsonObject) -> list[str]:
    return [
        f"Checkpoint: {js_string(_get(checkpoint, 'id'))}",
        f"Status: {js_string(_get(checkpoint, 'status'))}",
        f"Step: {js_string(_get(checkpoint, 'stepNumber'))}",
        f"Expert: {js_string(_get(_get(checkpoint, 'expert'), 'key'))}",
    ]


def _summary_section(summary: LogSummary) -> list[str]:
    lines = [
        "Summary:",
        f"  Total Events: {summary.total_events}",
        f"  Errors: {summary.error_count}",
        f"  Tool Calls: {summary.tool_call_count}",
        f"  Delegations: {summary.delegation_count}",
    ]
    if summary.step_range is not None:
        low, high = summary.step_range
        lines.append(f"  Step Range: {js_number_to_string(low)} - {js_number_to_string(high)}")
    return lines


def _extract_text(contents: Any) -> str:
    """The first textPart's text (``String(text)``), or "" (the original's extractTextContent)."""
    for part in _as_list(contents):
        if type(part) is dict and part.get("type") == "textPart" and "text" in part:
            return js_string(part["text"])
    return ""


def _format_event(event: JsonObject, verbose: bool) -> list[str]:
    event_type = _get(event, "type")
    if type(event_type) is str:
        padding = " " * max(0, 24 - js_length(event_type))
    elif type(event_type) is list:
        padding = " " * max(0, 24 - len(event_type))
    else:  # `24 - undefined` is NaN, and " ".repeat(NaN) is ""
        padding = ""
    time = _format_time(_get(event, "timestamp"))
    step = js_string(_get(event, "stepNumber"))
    lines = [f"[Step {step}] {js_string(event_type)}{padding}{time}"]
    if type(event) is not dict:
        return [*lines, ""]
    # Each detail needs its key present (`"text" in event`), whatever the value.
    if event_type == "startRun" and "inputMessages" in event:
        user_message = next(
            (m for m in _as_list(event["inputMessages"]) if _get(m, "type") == "userMessage"),
            None,
        )
        if user_message is not None:
            text = _extract_text(_get(user_message, "contents"))
            lines.append(f'  Query: "{_preview(text, 60)}"')
    if event_type == "callTools" and "toolCalls" in event:
        tool_calls = _as_list(event["toolCalls"])
        if verbose:
            for call in tool_calls:
                lines.append(
                    f"  [{js_string(_get(call, 'skillName'))}] {js_string(_get(call, 'toolName'))}"
                )
                lines.append(f"    Args: {_json_stringify_or_undefined(_get(call, 'args'))}")
        else:
            lines.append(f"  Tools: {_js_join([_get(c, 'toolName') for c in tool_calls], ', ')}")
    if event_type == "resolveToolResults" and "toolResults" in event:
        for result in _as_list(event["toolResults"]):
            text = _extract_text(_get(result, "result"))
            symbol = "✗" if text.lower().startswith("error") else "✓"
            lines.append(f"  {symbol} {js_string(_get(result, 'toolName'))}: {_preview(text, 40)}")
    if event_type == "stopRunByError" and "error" in event:
        error = event["error"]
        lines.append(f"  Error: {js_string(_get(error, 'name'))}")
        lines.append(f"  Message: {js_string(_get(error, 'message'))}")
        lines.append(f"  Retryable: {js_string(_get(error, 'isRetryable'))}")
    if event_type == "callDelegate" and "toolCalls" in event:
        for call in _as_list(event["toolCalls"]):
            args = _get(call, "args")
            # `args.expertKey ?? args.expert ?? "unknown"`: null counts as missing
            expert_key = next(
                (
                    v
                    for v in (_get(args, "expertKey"), _get(args, "expert"))
                    if v is not None and v is not UNDEFINED
                ),
                "unknown",
            )
            lines.append(f"  Delegate to: {js_string(expert_key)}")
    if event_type == "completeRun" and "text" in event:
        lines.append(f"  Result: {_preview(event['text'], 80)}")
    if event_type == "retry" and "reason" in event:
        lines.append(f"  Reason: {js_string(event['reason'])}")
    lines.append("")
    return lines


def _json_stringify_or_undefined(value: Any) -> str:
    """`${JSON.stringify(value)}`: JSON.stringify(undefined) is undefined, printed as such."""
    if value is UNDEFINED:
        return "undefined"
    return orjson.dumps(_js_json(value)).decode()


# --- JSON ------------------------------------------------------------------------------------


def is_array_index(key: str) -> bool:
    """Whether ``key`` is an array index (0 .. 2**32-2, no leading zero).

    A JavaScript object lists such keys first, in numeric order, and an array answers them.
    """
    if key == "0":
        return True
    return (
        0 < len(key) <= 10
        and key[0] in "123456789"
        and key.isascii()
        and key.isdigit()
        and int(key) < 2**32 - 1
    )


def _js_json(value: Any) -> Any:
    """A copy of ``value`` that orjson serialises exactly as JSON.stringify would."""
    kind = type(value)
    if kind is dict:
        items = value.items()
        if any(k[:1].isdigit() and is_array_index(k) for k in value):
            indexed = sorted((k for k in value if is_array_index(k)), key=int)
            named = [k for k in value if not is_array_index(k)]
            items = [(k, value[k]) for k in (*indexed, *named)]
        return {k: _js_json(v) for k, v in items}
    if kind is list:
        return [_js_json(v) for v in value]
    if kind is float:
        if not math.isfinite(value):
            return None  # JSON.stringify writes NaN and Infinity as null
        if value.is_integer() and -_MAX_SAFE <= value <= _MAX_SAFE:
            return int(value)  # 1.0 -> 1, -0.0 -> 0; larger ones print like 1e+21, 2**60 rounded
        return orjson.Fragment(js_number_to_string(value).encode())
    if kind is int:
        if -_MAX_SAFE <= value <= _MAX_SAFE:
            return value
        return orjson.Fragment(js_number_to_string(value).encode())
    if kind is str and not value.isascii() and _has_lone_surrogate(value):
        return orjson.Fragment(_json_string_with_surrogates(value).encode())
    return value


_JSON_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}


def _json_string_with_surrogates(text: str) -> str:
    """JSON.stringify of a string holding lone surrogates (orjson refuses those)."""
    text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in _JSON_ESCAPES:
            out.append(_JSON_ESCAPES[ch])
        elif code < 0x20 or 0xD800 <= code <= 0xDFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


class JsonText:
    """Conversations as ``--json`` writes them (engine/conversations.ConversationText): the
    text of ``JSON.stringify(value)``, or of ``JSON.stringify(value, null, 2)`` when
    ``pretty``, as it reads in a record written on its own (``json_chunks`` writes each event
    and checkpoint so, then indents it for its place)."""

    def __init__(self, *, pretty: bool) -> None:
        self.pretty = pretty
        self._option = orjson.OPT_INDENT_2 if pretty else 0

    def message(self, message: bytes, in_checkpoint_file: bool) -> bytes | None:
        """A stored message's text, in zod's key order when a checkpoint file holds it. None
        for a message nested too deep for orjson (or for Python's default recursion limit):
        its conversation takes ``_value_json``'s own path."""
        value = orjson.loads(message)
        if in_checkpoint_file:
            value = canonical_message(value)
        try:
            return orjson.dumps(_js_json(value), option=self._option)
        except (orjson.JSONEncodeError, RecursionError):
            return None

    def array(self, parts: list[bytes], depth: int) -> bytes:
        """The array of these texts as the value at ``depth`` in a record: pretty, each item
        on its own lines, indented one level deeper than the array (as orjson indents)."""
        if not self.pretty:
            return b"[" + b",".join(parts) + b"]"
        if not parts:
            return b"[]"
        inner = b"\n" + b"  " * (depth + 1)
        items = (b"," + inner).join(part.replace(b"\n", inner) for part in parts)
        return b"[" + inner + items + b"\n" + b"  " * depth + b"]"


def _summary_json(summary: LogSummary) -> JsonObject:
    data: JsonObject = {
        "totalEvents": summary.total_events,
        "errorCount": summary.error_count,
        "toolCallCount": summary.tool_call_count,
        "delegationCount": summary.delegation_count,
    }
    if summary.step_range is not None:
        data["stepRange"] = {"min": summary.step_range[0], "max": summary.step_range[1]}
    return data


def format_json(output: LogOutput, *, pretty: bool) -> str:
    """``--json`` as one text, terminal-safe (``json_bytes``), as written to stdout."""
    return b"".join(json_chunks(output, pretty=pretty)).decode()


def json_chunks(output: LogOutput, *, pretty: bool) -> Iterator[bytes]:
    """``--json`` in pieces, each terminal-safe, that join to the whole (``JSON.stringify``'s
    text): one stored record (event, checkpoint) at a time, so that the output of a long
    session (150 MB for one job of the bench's long-session store) is never held whole."""
    data: JsonObject = {"job": output.job, "events": output.events}
    data["summary"] = _summary_json(output.summary)
    if output.checkpoint is not None:
        data["checkpoint"] = output.checkpoint
    if output.checkpoints:
        data["checkpoints"] = output.checkpoints
    if output.runs:
        data["runs"] = output.runs
    if output.is_latest_job:
        data["isLatestJob"] = True
    if output.storage.location:
        data["storagePath"] = output.storage.location
    data["storage"] = {"type": output.storage.type, "location": output.storage.location}
    data["totalEventsBeforeLimit"] = output.total_events_before_limit
    data["matchedAfterPagination"] = output.matched_after_pagination
    # The text of {key: value, ...} written one value at a time: each value's own text, its
    # lines indented for its depth when pretty (a newline never occurs inside a JSON string).
    newline = b"\n  " if pretty else b""
    colon = b": " if pretty else b":"
    opener = b"{" + newline
    for key, value in data.items():
        yield opener + orjson.dumps(key) + colon
        opener = b"," + newline
        if key not in ("events", "checkpoints"):
            yield _value_json(value, pretty=pretty, depth=1)
        elif not value:
            yield b"[]"
        else:  # events, checkpoints: one record at a time
            item_newline = newline + (b"  " if pretty else b"")
            separator = b"[" + item_newline
            for record in value:
                yield separator
                yield _value_json(record, pretty=pretty, depth=2)
                separator = b"," + item_newline
            yield newline + b"]"
    yield b"\n}" if pretty else b"}"


def _value_json(value: Any, *, pretty: bool, depth: int) -> bytes:
    """A value's JSON text as ``JSON.stringify`` writes it at ``depth`` in the output,
    terminal-safe."""
    # Stored JSON nests up to 1,024 levels (the decoder's parser stops there): more than
    # Python's default recursion limit and orjson's 254, so deep events take a slower path.
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 5_000))
    try:
        value = _js_json(value)
        try:
            text = orjson.dumps(value, option=orjson.OPT_INDENT_2 if pretty else 0)
        except orjson.JSONEncodeError:
            text = json.dumps(
                _without_fragments(value),
                ensure_ascii=False,
                indent=2 if pretty else None,
                separators=(",", ": ") if pretty else (",", ":"),
            ).encode()
    finally:
        sys.setrecursionlimit(limit)
    if pretty:
        text = text.replace(b"\n", b"\n" + b"  " * depth)
    return json_bytes(text)


def _without_fragments(value: Any) -> Any:
    """orjson Fragments (JavaScript-formatted numbers) as values the json module can write."""
    if type(value) is dict:
        return {k: _without_fragments(v) for k, v in value.items()}
    if type(value) is list:
        return [_without_fragments(v) for v in value]
    if isinstance(value, orjson.Fragment):
        return json.loads(orjson.dumps(value))
    return value
