"""Well-known secret formats, masked wherever they appear in what the store holds.

An agent reads files, runs commands and calls APIs: a tool result, a message or an event can
carry an AWS key, a GitHub token or a private key it came across. The decoder masks every
value of a format below in each stored body before anything is parsed (so every table,
output and export sees only ``<redacted:kind>``), and counts them per file in the
``masked_secrets`` table (``perstack log info`` shows the total).

The formats are those of detect-secrets' plugins (AWS, GitHub, GitLab, Slack, Stripe,
SendGrid, npm, PyPI, JWT, private keys, Azure storage keys) plus the ones it lacks (Anthropic,
OpenAI project keys, GitHub fine-grained tokens, Google API keys). detect-secrets itself is not
a dependency: it scans source files line by line, needs ``requests`` and ``PyYAML`` and takes
over a second to import; its tests are the oracle here (tests/decode/test_secrets_formats.py).
What is not caught: passwords and keys without a recognisable shape (high-entropy strings in
general), which only the run-setting redaction by key name catches (redact.py).

Every pattern is RE2-compatible (no look-around, no backreference), so DuckDB's
``regexp_replace`` can apply ``SECRET_FORMATS`` unchanged; none matches ``"``, and only the
private-key block takes backslashes (whole escapes), so a match never cuts a JSON string or
escape in two: masked JSON text is still valid JSON.
"""

from __future__ import annotations

import re
from typing import Any

# kind -> pattern (applied to JSON text; character classes exclude quote and backslash).
SECRET_FORMATS: dict[str, str] = {
    # The whole block (or what there is of it when its end is cut off); JSON escapes such
    # as \n are taken whole, so the match never ends halfway into one.
    "private_key": (
        r"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----"
        r"(?:[^\"\\-]|\\[^\"]|-[^\"\\-])*"
        r"(?:-----END[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----)?"
    ),
    "aws_access_key": r"\b(?:A3T[A-Z0-9]|ABIA|ACCA|AKIA|ASIA)[0-9A-Z]{16}\b",
    "github_token": (
        r"\b(?:(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9_]{36}|github_pat_[A-Za-z0-9_]{22,255})"
    ),
    "gitlab_token": r"\b(?:glpat|gldt|glft|glsoat|glrt)-[A-Za-z0-9_-]{20,50}",
    "slack_token": r"\bxox[aboprs]-(?:[0-9]+-)+[A-Za-z0-9]+",
    "slack_webhook": (
        r"https://hooks\.slack\.com/services/T[A-Za-z0-9_]+/B[A-Za-z0-9_]+/[A-Za-z0-9_]+"
    ),
    "anthropic_key": r"\bsk-ant-[A-Za-z0-9_-]{20,}",
    "openai_key": (
        r"\bsk-(?:(?:proj|svcacct|admin)-[A-Za-z0-9_-]{20,}"
        r"|[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}|[A-Za-z0-9]{48}\b)"
    ),
    "stripe_key": r"\b[rs]k_live_[0-9A-Za-z]{24,}",
    "sendgrid_key": r"\bSG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}",
    "google_api_key": r"\bAIza[0-9A-Za-z_-]{35}",
    "npm_token": r"\bnpm_[A-Za-z0-9]{36}",
    "pypi_token": r"\bpypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{70,}",
    "jwt": r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*",
    "azure_storage_key": r"AccountKey=[A-Za-z0-9+/=]{88}",
}

# Where a match can start relative to a literal every match of its kind holds, and the most
# bytes before it that the match may begin ("-----BEGIN RSA " before "PRIVATE KEY").
_MARKERS: dict[bytes, tuple[str, int]] = {
    b"PRIVATE KEY": ("private_key", 60),
    b"AKIA": ("aws_access_key", 0),
    b"ASIA": ("aws_access_key", 0),
    b"A3T": ("aws_access_key", 0),
    b"ABIA": ("aws_access_key", 0),
    b"ACCA": ("aws_access_key", 0),
    b"ghp_": ("github_token", 0),
    b"gho_": ("github_token", 0),
    b"ghu_": ("github_token", 0),
    b"ghs_": ("github_token", 0),
    b"ghr_": ("github_token", 0),
    b"github_pat_": ("github_token", 0),
    b"glpat-": ("gitlab_token", 0),
    b"gldt-": ("gitlab_token", 0),
    b"glft-": ("gitlab_token", 0),
    b"glsoat-": ("gitlab_token", 0),
    b"glrt-": ("gitlab_token", 0),
    b"xox": ("slack_token", 0),
    b"hooks.slack": ("slack_webhook", 8),
    b"sk-ant-": ("anthropic_key", 0),
    b"sk-": ("openai_key", 0),
    b"k_live_": ("stripe_key", 1),
    b"SG.": ("sendgrid_key", 0),
    b"AIza": ("google_api_key", 0),
    b"npm_": ("npm_token", 0),
    b"pypi-": ("pypi_token", 0),
    b"eyJ": ("jwt", 0),
    b"AccountKey=": ("azure_storage_key", 0),
}
_PATTERNS = {kind: re.compile(pattern.encode()) for kind, pattern in SECRET_FORMATS.items()}
_FINDER: Any = None


def _finder() -> Any:
    """One pass of Aho-Corasick over a body finds every marker at once (ahocorasick-rs, in
    Rust): seven times faster than 28 ``bytes.find`` passes, which made masking cost as much
    as the rest of decoding; the regexes then only run where a marker is."""
    global _FINDER
    if _FINDER is None:
        from ahocorasick_rs import BytesAhoCorasick, MatchKind

        _FINDER = BytesAhoCorasick(list(_MARKERS), matchkind=MatchKind.LeftmostLongest)
    return _FINDER


def mask_secret_values(body: bytes) -> tuple[bytes, dict[str, int]]:
    """``body`` with every value of a known secret format as ``<redacted:kind>``, and how many
    of each kind were masked."""
    hits = _finder().find_matches_as_indexes(body)
    if not hits:
        return body, {}
    markers = list(_MARKERS.items())
    spans: list[tuple[int, int, str]] = []
    covered = 0
    for marker_index, start, _ in hits:
        if start < covered:
            continue  # inside a value already masked (a JWT holding "sk-")
        kind, lead = markers[marker_index][1]
        pattern = _PATTERNS[kind]
        match = (
            pattern.match(body, start)
            if lead == 0
            else pattern.search(body, max(start - lead, covered))
        )
        if match is None or match.start() > start or match.end() <= start:
            continue
        spans.append((match.start(), match.end(), kind))
        covered = match.end()
    if not spans:
        return body, {}
    counts: dict[str, int] = {}
    pieces: list[bytes] = []
    position = 0
    for begin, end, kind in spans:
        counts[kind] = counts.get(kind, 0) + 1
        pieces += (body[position:begin], b"<redacted:", kind.encode(), b">")
        position = end
    pieces.append(body[position:])
    return b"".join(pieces), counts
