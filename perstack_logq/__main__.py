"""``python -m perstack_logq log ...`` works like the ``perstack`` command."""

from perstack_logq.cli import entry_point

entry_point()
