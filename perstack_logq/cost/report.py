"""``perstack log cost``: cost totals by period, expert, model or job, and the costliest steps.

Every report prices first (``prepare_costs``), so the answer uses today's prices and the
settings given now, whatever the cache saw before.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

import duckdb

from perstack_logq.cost.pricing import CostSettings, PricingResult, prepare_costs
from perstack_logq.engine.database import Database, row_limit
from perstack_logq.engine.sqlfiles import sql_file


class CostGrouping(StrEnum):
    day = "day"
    week = "week"
    month = "month"
    expert = "expert"
    model = "model"
    job = "job"
    step = "step"


# The columns of a report without --breakdown (and without --reprice, reprice_cost_usd).
_SUMMARY_COLUMNS = ("jobs", "steps", "unpriced_steps", "input_tokens", "output_tokens", "cost_usd")
_STEP_SUMMARY_COLUMNS = ("job_id", "step_number", "event_time", "expert_key", "model", "cost_usd")


@dataclass(frozen=True)
class CostRequest:
    by: CostGrouping = CostGrouping.day
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    breakdown: bool = False
    limit: int | None = None


@dataclass
class CostReport:
    relation: duckdb.DuckDBPyRelation
    pricing: PricingResult
    total_usd: float | None  # None when a step in range has no price
    steps: int


def cost_report(database: Database, settings: CostSettings, request: CostRequest) -> CostReport:
    """Price the history and group its step costs as asked (syncs the whole store)."""
    database.sync()
    pricing = prepare_costs(database, settings)
    bounds = {"since": request.since, "until": request.until}
    if request.by is CostGrouping.step:
        relation = database.sql(
            sql_file("cost", "top_steps").text, params={**bounds, "limit": request.limit or 20}
        )
        keep = _STEP_SUMMARY_COLUMNS
    else:
        relation = database.sql(
            sql_file("cost", "totals").text, params={**bounds, "by": request.by.value}
        )
        relation = relation.project(
            ", ".join(
                f'grouping_key AS "{request.by.value}"' if c == "grouping_key" else f'"{c}"'
                for c in relation.columns
            )
        )
        if request.limit:
            relation = relation.limit(row_limit(request.limit))
        keep = (request.by.value, *_SUMMARY_COLUMNS)
    if settings.reprice_model:
        keep = (*keep, "reprice_cost_usd")
    columns = [
        c
        for c in relation.columns
        if (request.breakdown or c in keep)
        and (c != "reprice_cost_usd" or settings.reprice_model)
        and not (c == "jobs" and request.by is CostGrouping.job)
    ]
    relation = relation.project(", ".join(f'"{c}"' for c in columns))
    total, steps = database.sql(sql_file("cost", "total").text, params=bounds).fetchone()
    return CostReport(relation, pricing, total, steps)
