"""The history as OpenTelemetry traces (GenAI semantic conventions), sent over OTLP/HTTP.

- ``spans.py``: the mapping, job -> trace, run -> ``invoke_agent`` span, step -> ``chat``
  span, tool call -> ``execute_tool`` span, with ids derived from Perstack's ids
  (docs/otlp.md lists every attribute);
- ``send.py``: the receiver (endpoint, headers, environment), batches with retries, and the
  incremental state that remembers what a receiver accepted.

The OpenTelemetry SDK and its OTLP exporter are an extra (``perstack-logq[otlp]``), imported
only here.
"""
