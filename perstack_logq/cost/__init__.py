"""What a history cost in USD: prices (shipped and the user's), the model of every run, and
the reports of ``perstack log cost``. Prices live in two small tables that the cost views
read at query time, so a new price list needs no new sync."""

import re

_COST_VIEW = re.compile(r"\b(step_costs|run_costs|job_costs)\b", re.IGNORECASE)


def mentions_costs(sql: str) -> bool:
    """Whether SQL reads a cost view, and so needs prices filled in first (kept here, light
    to import: every ``perstack log query`` asks)."""
    return _COST_VIEW.search(sql) is not None
