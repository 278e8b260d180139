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

# Substrings one of which every match holds: a body holding none (nearly all) is not scanned.
_MARKERS = (
    b"PRIVATE KEY",
    b"AKIA",
    b"ASIA",
    b"A3T",
    b"ABIA",
    b"ACCA",
    b"ghp_",
    b"gho_",
    b"ghu_",
    b"ghs_",
    b"ghr_",
    b"github_pat_",
    b"glpat-",
    b"gldt-",
    b"glft-",
    b"glsoat-",
    b"glrt-",
    b"xox",
    b"hooks.slack",
    b"sk-",
    b"k_live_",
    b"SG.",
    b"AIza",
    b"npm_",
    b"pypi-",
    b"eyJ",
    b"AccountKey=",
)
_ANY_SECRET = re.compile(
    "|".join(f"(?P<{kind}>{pattern})" for kind, pattern in SECRET_FORMATS.items()).encode()
)


def mask_secret_values(body: bytes) -> tuple[bytes, dict[str, int]]:
    """``body`` with every value of a known secret format as ``<redacted:kind>``, and how many
    of each kind were masked."""
    if not any(marker in body for marker in _MARKERS):
        return body, {}
    counts: dict[str, int] = {}

    def mask(match: re.Match[bytes]) -> bytes:
        kind = match.lastgroup or "secret"
        counts[kind] = counts.get(kind, 0) + 1
        return b"<redacted:" + kind.encode() + b">"

    return _ANY_SECRET.sub(mask, body), counts
