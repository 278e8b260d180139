"""Filling the cost views' inputs: which model a run without a run setting used, and the price
of every model the history (or a reprice question) needs.

``prepare_costs`` runs before any cost query; it rewrites the two small tables ``_prices`` and
``_cost_settings`` (sql/views/40_cost_inputs.sql) and reports the models it found no price
for, so the caller can warn once instead of printing a misleading $0.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from perstack_logq.config import find_config_file, read_config_document
from perstack_logq.cost.prices import Price, load_price_file, parse_user_prices, shipped_prices
from perstack_logq.engine.database import Database
from perstack_logq.errors import ConfigError


@dataclass(frozen=True)
class CostSettings:
    """Where models and prices come from, besides the store's run settings.

    ``config_model``/``config_provider``: perstack.toml's top-level ``model`` and
    ``[provider] providerName``; ``option_model``: ``--model``, for runs with neither;
    ``reprice_model``: price every step as if it had run on this model too;
    ``user_prices``: ``[pricing]`` and ``--prices`` tables, which win over shipped prices.
    """

    config_model: str | None = None
    config_provider: str | None = None
    option_model: str | None = None
    reprice_model: str | None = None
    user_prices: dict[str, Price] = field(default_factory=dict)


@dataclass(frozen=True)
class PricingResult:
    unpriced_models: list[str]  # models of steps that have no price: their costs are NULL
    unknown_model_runs: int  # runs with steps whose model nobody named
    unpriced_reprice: bool  # the reprice model has no price


def load_cost_settings(
    *,
    config: Path | None = None,
    cwd: Path | None = None,
    prices_file: Path | None = None,
    model: str | None = None,
    reprice: str | None = None,
) -> CostSettings:
    """Settings from perstack.toml (``config``, else the one found from ``cwd``), a price
    file and the ``--model``/``--reprice`` options."""
    cwd = Path(os.path.abspath(cwd if cwd is not None else Path.cwd()))
    path = Path(os.path.abspath(cwd / config)) if config is not None else find_config_file(cwd)
    config_model = config_provider = None
    user_prices: dict[str, Price] = {}
    if path is not None and path.is_file():
        document, shown = read_config_document(path, cwd)
        config_model = _optional_string(document.get("model"), f"{shown}: model")
        provider = document.get("provider", {})
        if not isinstance(provider, dict):
            raise ConfigError(f"{shown}: [provider] must be a table")
        config_provider = _optional_string(
            provider.get("providerName"), f"{shown}: [provider] providerName"
        )
        user_prices.update(parse_user_prices(document, shown))
    if prices_file is not None:
        user_prices.update(load_price_file(prices_file))
    return CostSettings(
        config_model=config_model,
        config_provider=config_provider if config_model else None,
        option_model=model or None,
        reprice_model=reprice or None,
        user_prices=user_prices,
    )


def _optional_string(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where} must be a non-empty string")
    return value.strip()


def _price_rows(settings: CostSettings, model: str, provider: str | None) -> list[tuple]:
    user = settings.user_prices.get(model)
    prices = [user] if user is not None else shipped_prices(model, provider)
    return [
        (
            model,
            provider,
            price.valid_from,
            price.valid_until,
            price.input,
            price.output,
            price.cache_read,
            price.cache_write,
            price.source,
        )
        for price in prices
    ]


def prepare_costs(database: Database, settings: CostSettings) -> PricingResult:
    """Write the settings and the prices of every model in use; what could not be priced."""
    con = database.write_connection()
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DELETE FROM _cost_settings")
        con.execute(
            "INSERT INTO _cost_settings VALUES (?, ?, ?, ?, ?, ?)",
            [
                settings.config_model,
                settings.config_provider,
                settings.option_model,
                None,
                settings.reprice_model,
                None,
            ],
        )
        wanted = con.execute(
            "SELECT DISTINCT model, provider_name FROM _run_models WHERE model IS NOT NULL"
        ).fetchall()
        if settings.reprice_model:
            wanted.append((settings.reprice_model, None))
        rows = [row for model, provider in wanted for row in _price_rows(settings, model, provider)]
        con.execute("DELETE FROM _prices")
        if rows:
            con.executemany("INSERT INTO _prices VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
    unpriced = [
        model
        for (model,) in con.execute(
            "SELECT DISTINCT model FROM step_costs "
            "WHERE cost_usd IS NULL AND model IS NOT NULL ORDER BY model"
        ).fetchall()
    ]
    (unknown_runs,) = con.execute(
        "SELECT count(DISTINCT (job_id, run_id)) FROM step_costs WHERE model IS NULL"
    ).fetchone()
    reprice_missing = bool(settings.reprice_model) and not any(
        row[0] == settings.reprice_model for row in rows
    )
    return PricingResult(unpriced, unknown_runs, reprice_missing)


def pricing_warnings(result: PricingResult, settings: CostSettings) -> list[str]:
    """One line per problem: which models have no price and how to give them one."""
    lines = []
    if result.unpriced_models:
        names = ", ".join(result.unpriced_models)
        example = result.unpriced_models[0]
        lines.append(
            f"no price for model(s) {names}: their cost is NULL (not $0); add "
            f'[pricing."{example}"] input = ..., output = ... (USD per million tokens) to '
            "perstack.toml or a file given with --prices"
        )
    if result.unknown_model_runs:
        lines.append(
            f"{result.unknown_model_runs:,} run(s) name no model (no run-setting.json, no "
            "model in perstack.toml): their cost is NULL; give --model MODEL"
        )
    if result.unpriced_reprice:
        lines.append(
            f"no price for --reprice {settings.reprice_model}: add "
            f'[pricing."{settings.reprice_model}"] to perstack.toml or a --prices file'
        )
    return lines
