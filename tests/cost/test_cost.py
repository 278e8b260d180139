"""Cost in USD: the shipped prices, the user's, the model of every run, and NULL for the
unknown, each checked against a hand computation with list prices written here."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import FIXTURE_STORE
from support.cli import run_cli, write_config

from perstack_logq.api import History, connect
from perstack_logq.cost.pricing import CostSettings

# Published list prices, USD per million tokens: (input, output, cached input read).
LIST_PRICES = {
    ("anthropic", "claude-sonnet-4-5"): (3.0, 15.0, 0.30),
    ("anthropic", "claude-haiku-4-5"): (1.0, 5.0, 0.10),
    ("openai", "gpt-5"): (1.25, 10.0, 0.125),
    ("openai", "gpt-4o"): (2.50, 10.0, 1.25),
}


def hand_cost(steps: list[tuple[int, int, int]], prices: tuple[float, float, float]) -> float:
    """Cached input is part of the input and billed at the cache-read rate; output at output."""
    input_price, output_price, cache_price = prices
    return (
        sum(
            (inp - cached) * input_price + cached * cache_price + out * output_price
            for inp, out, cached in steps
        )
        / 1e6
    )


def copy_store(tmp_path: Path) -> Path:
    store = tmp_path / "perstack"
    shutil.copytree(FIXTURE_STORE, store)
    return store


def set_models(store: Path, models: dict[str, tuple[str, str]]) -> None:
    """Rewrite the run settings of some jobs: job id -> (provider, model)."""
    for job_id, (provider, model) in models.items():
        for setting in (store / "jobs" / job_id / "runs").glob("*/run-setting.json"):
            record = json.loads(setting.read_text())
            record["model"] = model
            record["providerConfig"]["providerName"] = provider
            setting.write_text(json.dumps(record))


def job_steps(history: History, job_id: str) -> list[tuple[int, int, int]]:
    return history.sql(
        "SELECT input_tokens, output_tokens, cached_input_tokens FROM steps WHERE job_id = $j",
        {"j": job_id},
    ).fetchall()


def job_cost(history: History, job_id: str) -> float | None:
    return history.sql(
        "SELECT cost_usd FROM job_costs WHERE job_id = $j", {"j": job_id}
    ).fetchone()[0]


@pytest.fixture(scope="module")
def models_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """The reference store with its jobs spread over four models of two providers."""
    store = copy_store(tmp_path_factory.mktemp("models"))
    job_ids = sorted(p.name for p in (store / "jobs").iterdir())
    chosen = {}
    for job_id, key in zip(job_ids, list(LIST_PRICES) * 3, strict=False):
        chosen[job_id] = key
    set_models(store, chosen)
    return store, chosen


@pytest.fixture()
def history(models_store: tuple[Path, dict], tmp_path: Path) -> Iterator[History]:
    with connect(str(models_store[0]), cache=False, cwd=tmp_path) as opened:
        yield opened


def test_shipped_prices_match_the_list_prices_for_four_models_of_two_providers(
    history: History, models_store: tuple[Path, dict]
) -> None:
    history.price(CostSettings())
    priced_jobs_with_cache = 0
    for job_id, key in models_store[1].items():
        steps = job_steps(history, job_id)
        if not steps:
            continue
        expected = hand_cost(steps, LIST_PRICES[key])
        assert job_cost(history, job_id) == pytest.approx(expected, rel=1e-9), (job_id, key)
        priced_jobs_with_cache += any(cached for _, _, cached in steps)
    assert priced_jobs_with_cache >= 4  # the check covered cached input, not only fresh input
    sources = {
        row[0] for row in history.sql("SELECT DISTINCT model_source FROM run_costs").fetchall()
    }
    assert sources == {"run_setting"}


def test_cost_parts_add_up_and_runs_add_up_to_jobs(history: History) -> None:
    history.price(CostSettings())
    mismatched = history.sql(
        "SELECT count(*) FROM step_costs "
        "WHERE abs(input_cost_usd + cache_read_cost_usd + output_cost_usd - cost_usd) > 1e-12"
    ).fetchone()[0]
    assert mismatched == 0
    by_job = history.sql(
        "SELECT j.job_id, j.cost_usd, sum(r.cost_usd) FROM job_costs j "
        "JOIN run_costs r USING (job_id) GROUP BY ALL"
    ).fetchall()
    assert by_job
    for _, job_total, run_total in by_job:
        assert job_total == pytest.approx(run_total)


def test_a_user_price_overrides_the_shipped_one(
    history: History, models_store: tuple[Path, dict], tmp_path: Path
) -> None:
    prices = tmp_path / "prices.toml"
    prices.write_text(
        '[pricing."gpt-5"]\ninput = 7.0\noutput = 11.0\ncache_read = 0.5\ncache_write = 9.0\n'
    )
    history.price(prices_file=prices)
    for job_id, (_, model) in models_store[1].items():
        steps = job_steps(history, job_id)
        if steps and model == "gpt-5":
            assert job_cost(history, job_id) == pytest.approx(hand_cost(steps, (7.0, 11.0, 0.5)))
        elif steps:
            key = models_store[1][job_id]
            assert job_cost(history, job_id) == pytest.approx(hand_cost(steps, LIST_PRICES[key]))


def test_reprice_shows_what_it_would_have_cost_on_another_model(history: History) -> None:
    history.price(reprice="claude-haiku-4-5")
    rows = history.sql("SELECT job_id, reprice_model, reprice_cost_usd FROM job_costs").fetchall()
    assert rows
    for job_id, model, repriced in rows:
        assert model == "claude-haiku-4-5"
        expected = hand_cost(job_steps(history, job_id), LIST_PRICES[("anthropic", model)])
        assert repriced == pytest.approx(expected)


@pytest.fixture(scope="module")
def bare_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference store as today's runtime writes it: no run-setting.json at all."""
    store = copy_store(tmp_path_factory.mktemp("bare"))
    for setting in store.glob("jobs/*/runs/*/run-setting.json"):
        setting.unlink()
    return store


def test_a_store_without_run_settings_is_priced_through_perstack_toml(
    bare_store: Path, tmp_path: Path
) -> None:
    write_config(tmp_path, 'model = "gpt-4o"\n\n[provider]\nproviderName = "openai"\n')
    with connect(str(bare_store), cache=False, cwd=tmp_path) as history:
        total = history.sql("SELECT sum(cost_usd) FROM job_costs").fetchone()[0]
        steps = history.sql(
            "SELECT input_tokens, output_tokens, cached_input_tokens FROM steps"
        ).fetchall()
        assert total == pytest.approx(hand_cost(steps, LIST_PRICES[("openai", "gpt-4o")]))
        sources = history.sql("SELECT DISTINCT model_source, model FROM run_costs").fetchall()
        assert sources == [("config", "gpt-4o")]


def test_unknown_and_unpriced_models_cost_null_with_one_warning(
    bare_store: Path, tmp_path: Path
) -> None:
    # No perstack.toml, no --model: the model is unknown.
    result = run_cli(
        "log", "cost", "--storage", str(bare_store), "--no-cache", "--by", "job", "--json"
    )
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert rows and all(row["cost_usd"] is None for row in rows)
    warnings = result.stderr.strip().splitlines()
    assert len(warnings) == 1 and "--model" in warnings[0]

    # A model nobody prices: named once, with how to price it; still NULL, never 0.
    result = run_cli(
        "log",
        "cost",
        "--storage",
        str(bare_store),
        "--no-cache",
        "--model",
        "acme-private-7",
        "--by",
        "model",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [
        {
            "model": "acme-private-7",
            "jobs": 11,
            "steps": 30,
            "unpriced_steps": 30,
            "input_tokens": 3120,
            "output_tokens": 1092,
            "cost_usd": None,
        }
    ]
    warnings = result.stderr.strip().splitlines()
    assert len(warnings) == 1
    assert "acme-private-7" in warnings[0] and '[pricing."acme-private-7"]' in warnings[0]


def test_model_option_prices_runs_that_name_none(bare_store: Path, tmp_path: Path) -> None:
    prices = tmp_path / "prices.toml"
    prices.write_text('[pricing."acme-private-7"]\ninput = 2\noutput = 4\n')
    result = run_cli(
        "log",
        "cost",
        "--storage",
        str(bare_store),
        "--no-cache",
        "--model",
        "acme-private-7",
        "--prices",
        str(prices),
        "--by",
        "month",
        "--breakdown",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    (row,) = json.loads(result.stdout)
    with connect(str(bare_store), cache=False) as history:
        steps = history.sql(
            "SELECT input_tokens, output_tokens, cached_input_tokens FROM steps"
        ).fetchall()
    # Without a cache_read rate, cached input costs the input rate.
    assert row["cost_usd"] == pytest.approx(hand_cost(steps, (2.0, 4.0, 2.0)), abs=1e-6)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[pricing."m"]\ninput = 1\n', "needs output"),
        ('[pricing."m"]\ninput = 1\noutput = "x"\n', "output must be a number"),
        ('[pricing."m"]\ninput = 1\noutput = 2\nbatch = 1\n', "unknown key 'batch'"),
        ("[pricing\n", "invalid TOML"),
    ],
)
def test_a_bad_price_file_is_one_usage_error(tmp_path: Path, body: str, message: str) -> None:
    prices = tmp_path / "prices.toml"
    prices.write_text(body)
    result = run_cli(
        "log", "cost", "--storage", str(FIXTURE_STORE), "--no-cache", "--prices", str(prices)
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr


def test_cost_help_and_info_name_the_price_data(tmp_path: Path) -> None:
    helped = run_cli("log", "cost", "--help", check=True)
    assert "Shipped prices: genai-prices " in helped.stdout
    info = run_cli("log", "info", "--storage", str(FIXTURE_STORE), "--no-cache", check=True)
    assert "Prices:                 genai-prices " in info.stdout
