"""The server's own options, checked before the ``mcp`` SDK is imported (a bad one fails fast)."""

from __future__ import annotations

import ipaddress

from perstack_logq.errors import UsageError


def parse_http_address(text: str, *, any_host: bool) -> tuple[str, int]:
    """``127.0.0.1:8765`` -> (host, port); hosts other than loopback need ``any_host``."""
    host, sep, port_text = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise UsageError(f"Invalid value for --http: {text!r} (use HOST:PORT, e.g. 127.0.0.1:8765)")
    if not any_host and not _is_loopback(host):
        raise UsageError(
            f"--http {text} is not a loopback address: anyone who reaches it reads the history; "
            "add --http-any-host if that is what you want"
        )
    return host, int(port_text)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
