"""Prices per million tokens: the user's own (``[pricing]``, ``--prices FILE``) over those of
the ``genai-prices`` package, which ships its price data and is never asked to update it.

A user price file is TOML with one table per model, USD per million tokens::

    [pricing."claude-sonnet-4-5"]
    input = 3.0
    output = 15.0
    cache_read = 0.3      # optional: defaults to input
    cache_write = 3.75    # optional: defaults to input

``perstack.toml`` takes the same ``[pricing]`` tables.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from perstack_logq.errors import ConfigError

SHIPPED_PACKAGE = "genai-prices"
_PRICE_KEYS = ("input", "output", "cache_read", "cache_write")


@dataclass(frozen=True)
class Price:
    """USD per million tokens of each kind, valid from ``valid_from`` until ``valid_until``
    (None: without bound), and where it comes from."""

    input: float
    output: float
    cache_read: float
    cache_write: float
    source: str
    valid_from: dt.datetime | None = None
    valid_until: dt.datetime | None = None


def parse_user_prices(document: Mapping[str, Any], shown: str) -> dict[str, Price]:
    """The ``[pricing]`` tables of a parsed TOML document, by model name."""
    section = document.get("pricing", {})
    if not isinstance(section, dict):
        raise ConfigError(f"{shown}: [pricing] must be a table of models")
    prices: dict[str, Price] = {}
    for model, table in section.items():
        where = f'{shown}: [pricing."{model}"]'
        if not isinstance(table, dict):
            raise ConfigError(f"{where} must be a table (input = ..., output = ...)")
        unknown = sorted(set(table) - set(_PRICE_KEYS))
        if unknown:
            raise ConfigError(
                f"{where}: unknown key {unknown[0]!r} (keys: {', '.join(_PRICE_KEYS)})"
            )
        for key in ("input", "output"):
            if key not in table:
                raise ConfigError(f"{where} needs {key} (USD per million tokens)")
        values = {}
        for key in _PRICE_KEYS:
            value = table.get(key, table["input"])
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ConfigError(f"{where}: {key} must be a number >= 0 (USD per million tokens)")
            values[key] = float(value)
        prices[model] = Price(**values, source=shown)
    return prices


def load_price_file(path: Path) -> dict[str, Price]:
    """``--prices FILE``: the same ``[pricing]`` tables as perstack.toml."""
    shown = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"--prices {shown}: cannot read: {error}") from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"--prices {shown}: invalid TOML: {error}") from None
    if "pricing" not in document:
        raise ConfigError(f'--prices {shown}: no [pricing."MODEL"] table')
    return parse_user_prices(document, f"--prices {shown}")


def shipped_version() -> str | None:
    """The installed genai-prices version (None without it: only the user's prices apply)."""
    try:
        return metadata.version(SHIPPED_PACKAGE)
    except metadata.PackageNotFoundError:
        return None


@cache
def _snapshot() -> Any:
    try:
        from genai_prices import data_snapshot
    except ImportError:
        return None
    return data_snapshot.get_snapshot()


def _all_price_dates(snapshot: Any) -> Iterator[dt.date]:
    for provider in snapshot.providers:
        for model in provider.models:
            conditions = model.prices if isinstance(model.prices, list) else []
            for item in (*conditions, *(model.price_variants or ())):
                start = getattr(item.constraint, "start_date", None)
                if isinstance(start, dt.date):
                    yield start


@cache
def price_data_label(today: dt.date | None = None) -> str:
    """``genai-prices 0.2.3 (newest price change 2026-10-14)``: what ships the prices, and how
    recent they are (the package dates each price change; later ones are announced changes)."""
    version = shipped_version()
    snapshot = _snapshot() if version else None
    if snapshot is None:
        return f"{SHIPPED_PACKAGE} not installed: only [pricing] and --prices apply"
    today = today or dt.datetime.now(dt.UTC).date()
    past = [day for day in _all_price_dates(snapshot) if day <= today]
    newest = f" (newest price change {max(past).isoformat()})" if past else ""
    return f"{SHIPPED_PACKAGE} {version}{newest}"


def _base(value: Any) -> float | None:
    """A price per million tokens; a tiered price's base tier (the store records no
    per-request prompt size to pick a higher tier with)."""
    if value is None:
        return None
    base = getattr(value, "base", value)
    return float(Decimal(base))


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day)


def shipped_prices(model: str, provider: str | None) -> list[Price]:
    """The package's prices of a model over time (empty when it does not know the model)."""
    snapshot = _snapshot()
    if snapshot is None:
        return []
    try:
        found, info = snapshot.find_provider_model(model, None, provider, None)
    except LookupError:
        try:  # an unknown provider name (e.g. a gateway): match on the model alone
            found, info = snapshot.find_provider_model(model, None, None, None)
        except LookupError:
            return []
    source = f"{SHIPPED_PACKAGE} {shipped_version()} {found.id}/{info.id}"
    periods: list[tuple[dt.datetime | None, Any]]
    if isinstance(info.prices, list):
        periods = []
        for condition in info.prices:
            start = getattr(condition.constraint, "start_date", None)
            periods.append((_midnight(start) if start else None, condition.prices))
        periods.sort(key=lambda item: item[0] or dt.datetime.min)
    else:
        periods = [(None, info.prices)]
    prices = []
    for index, (start, price) in enumerate(periods):
        until = periods[index + 1][0] if index + 1 < len(periods) else None
        input_price = _base(price.input_mtok)
        output_price = _base(price.output_mtok)
        if input_price is None or output_price is None:
            continue
        cache_read = _base(getattr(price, "cache_read_mtok", None))
        cache_write = _base(getattr(price, "cache_write_mtok", None))
        prices.append(
            Price(
                input=input_price,
                output=output_price,
                # No cache rate published: cached tokens cost what input costs.
                cache_read=input_price if cache_read is None else cache_read,
                cache_write=input_price if cache_write is None else cache_write,
                source=source,
                valid_from=None if index == 0 else start,
                valid_until=until,
            )
        )
    return prices
