"""An HTTP server for tests' own endpoints that never prints a traceback from its threads.

Python 3.11 formats tracebacks with ``ast.parse``, whose state every thread shares: a server
thread printing one (socketserver's default for any handler error) while pytest formats a
failure corrupts pytest's parse ("AST constructor recursion depth mismatch"), and the worker
dies with an INTERNALERROR, taking the report of that failure with it.
"""

from __future__ import annotations

import sys
from http.server import ThreadingHTTPServer
from typing import Any


class QuietThreadingHTTPServer(ThreadingHTTPServer):
    """A thread per connection (daemon threads). A client that went away (a timeout, Ctrl-C,
    a killed command) is part of the tests and passes silently; any other handler error gets
    one line on stderr."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if not isinstance(error, ConnectionError):
            print(f"test server: {type(error).__name__}: {error}", file=sys.stderr)
