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
from urllib.parse import urlsplit, urlunsplit

REDACTED = "<redacted>"

# Objects whose every value is a secret, whatever its name.
_SECRET_VALUE_MAPS = frozenset({"env", "headers"})
# Key names that hold a secret. Deliberately not "token": usage has maxTokens/totalTokens.
_SECRET_KEY = re.compile(
    r"(secret|password|passwd|apikey|api_key|accesskey|access_key|sessiontoken|session_token|"
    r"authtoken|auth_token|accesstoken|access_token|refreshtoken|authorization|credential|"
    r"privatekey|private_key)",
    re.IGNORECASE,
)
_PLAIN, _SECRET, _ALL_VALUES_SECRET = 0, 1, 2
_URL_WITH_USERINFO = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://[^/@\s]+@")


def redact_run_setting(setting: dict[str, Any]) -> dict[str, Any]:
    """A copy of a run setting that holds no credential."""
    return _redact(setting)


def strip_userinfo(url: str) -> str:
    """``http://user:pw@host:8080/x`` -> ``http://<redacted>@host:8080/x``."""
    if not _URL_WITH_USERINFO.match(url):
        return url
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{REDACTED}@{host}"))


@lru_cache(maxsize=4096)
def _key_rule(key: str) -> int:
    """What a key name says of its value; cached because run settings repeat the same names."""
    if key.lower() in _SECRET_VALUE_MAPS:
        return _ALL_VALUES_SECRET
    return _SECRET if _SECRET_KEY.search(key) else _PLAIN


def _redact(value: Any, key: str | None = None) -> Any:
    rule = _PLAIN if key is None else _key_rule(key)
    if rule == _ALL_VALUES_SECRET:
        return {name: REDACTED for name in value} if isinstance(value, dict) else REDACTED
    if rule == _SECRET and value not in (None, "", [], {}):
        return REDACTED
    if isinstance(value, dict):
        return {k: _redact(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v) for v in value]
    # "@" first: almost no string holds one, and the test is far cheaper than the regex.
    if isinstance(value, str) and "@" in value:
        return strip_userinfo(value)
    return value
