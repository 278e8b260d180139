"""What never leaves: credentials in run settings (spec §2, Security).

A run setting carries the provider key, the Perstack API key, the runtime's whole process
environment and HTTP headers. Nothing downstream (tables, output, exports) sees them: the
decoder passes every run setting through ``redact_run_setting`` before anything else.
Redaction works by key name and by shape, recursively, so a credential that moves to a new
place in a future runtime is still caught by its name.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import orjson

REDACTED = "<redacted>"

# Objects whose every value is a secret, whatever its name (names stay, values go).
_SECRET_VALUE_MAPS = frozenset({"env", "environment", "envvars", "headers", "secrets"})
# Objects holding a login: every value but these is a secret (auth.bearer, auth.pass, ...).
_AUTH_OBJECTS = frozenset({"auth", "authentication", "basicauth", "proxyauth", "credentials"})
_AUTH_PLAIN = frozenset({"type", "scheme", "username", "user", "name"})
# Key names (lowercased, without "_", "-" and ".") that hold a secret. "token" only at the end:
# usage has maxTokens/totalTokens, which are counts.
SECRET_KEY_PATTERN = (
    r"(secret|password|passwd|passphrase|apikey|accesskey|sessiontoken|authtoken|"
    r"accesstoken|refreshtoken|idtoken|bearer|authorization|credential|privatekey|cookie|"
    r"signature|token$|^(pass|pwd|pw)$)"
)
_SECRET_KEY = re.compile(SECRET_KEY_PATTERN)
_PLAIN, _SECRET, _ALL_VALUES_SECRET, _AUTH = 0, 1, 2, 3

# Secrets by the shape of a value, wherever it sits:
# - userinfo of a URL, with or without a scheme (user:pa/ss@host, " http://u:p@h");
USERINFO_PATTERN = r"(?:[A-Za-z][A-Za-z0-9+.-]*://)?[^\s/@:\"]+:[^\s@\"]+@(?=[A-Za-z0-9\[])"
# - a credential in a URL query (?token=, &key=, api_key=, X-Amz-Signature=, sig=);
QUERY_SECRET_PATTERN = (
    r"(?i)([?&](?:[a-z0-9_-]*(?:token|key|secret|password|passwd|pwd|signature|sig|"
    r"credential|auth)[a-z0-9_-]*)=)[^&#\s\"]+"
)
# - a credential on a command line (--api-key=x, --token x, -p x) or an assignment before a
#   command (ANTHROPIC_API_KEY=x cmd).
ARGUMENT_SECRET_PATTERN = (
    r"(?i)((?:^|\s)--?[a-z0-9-]*(?:token|key|secret|password|passwd|pwd|credential|auth)"
    r"[a-z0-9-]*(?:=|\s+))[^\s\"]+"
)
ASSIGNMENT_SECRET_PATTERN = (
    r"(?i)((?:^|\s)[a-z_][a-z0-9_]*(?:token|key|secret|password|passwd|pwd|credential)"
    r"[a-z0-9_]*=)[^\s\"]+"
)
_USERINFO = re.compile(USERINFO_PATTERN)
_VALUE_SECRETS = (
    re.compile(QUERY_SECRET_PATTERN),
    re.compile(ARGUMENT_SECRET_PATTERN),
    re.compile(ASSIGNMENT_SECRET_PATTERN),
)


def redact_run_setting(setting: dict[str, Any]) -> dict[str, Any]:
    """A copy of a run setting that holds no credential."""
    return _redact(setting)


def strip_userinfo(url: str) -> str:
    """``http://user:pw@host:8080/x`` -> ``http://<redacted>@host:8080/x``."""
    return redact_text(url)


def redact_text(text: str) -> str:
    """A string with every credential-shaped part replaced (see the patterns above)."""
    if "@" in text:
        text = _USERINFO.sub(_keep_scheme, text)
    if "=" in text or " -" in text or text.startswith("-"):
        for pattern in _VALUE_SECRETS:
            text = pattern.sub(rf"\g<1>{REDACTED}", text)
    return text


def _keep_scheme(match: re.Match[str]) -> str:
    scheme, sep, _ = match[0].partition("://")
    return f"{scheme}{sep}{REDACTED}@" if sep else f"{REDACTED}@"


@lru_cache(maxsize=4096)
def _key_rule(key: str) -> int:
    """What a key name says of its value; cached because run settings repeat the same names."""
    squashed = key.lower().replace("_", "").replace("-", "").replace(".", "")
    if squashed in _SECRET_VALUE_MAPS:
        return _ALL_VALUES_SECRET
    if squashed in _AUTH_OBJECTS:
        return _AUTH
    return _SECRET if _SECRET_KEY.search(squashed) else _PLAIN


def _redact(value: Any, key: str | None = None) -> Any:
    rule = _PLAIN if key is None else _key_rule(key)
    if rule == _ALL_VALUES_SECRET:
        return _all_values_redacted(value)
    if rule == _SECRET and value not in (None, "", [], {}):
        return REDACTED
    if rule == _AUTH:
        if isinstance(value, dict):
            return {
                k: _redact(v, k) if k.lower() in _AUTH_PLAIN else REDACTED for k, v in value.items()
            }
        return REDACTED if value not in (None, "", [], {}) else value
    if isinstance(value, dict):
        return {k: _redact(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v) for v in value]
    if isinstance(value, str):
        return _redact_string(value)
    return value


def _all_values_redacted(value: Any) -> Any:
    """env/headers: names stay, values go; also as a list of {name, value} pairs."""
    if isinstance(value, dict):
        return {name: REDACTED for name in value}
    if isinstance(value, list):
        return [
            {k: (v if k.lower() in ("name", "key") else REDACTED) for k, v in item.items()}
            if isinstance(item, dict)
            else REDACTED
            for item in value
        ]
    return REDACTED


def _redact_string(text: str) -> str:
    # A JSON document inside a string (providerConfig given as a string): redact what it holds.
    stripped = text.lstrip()
    if stripped[:1] in ("{", "[") and len(stripped) > 1:
        try:
            inner = orjson.loads(stripped)
        except orjson.JSONDecodeError:
            inner = None
        if isinstance(inner, dict | list):
            return orjson.dumps(_redact(inner)).decode()
    return redact_text(text)
