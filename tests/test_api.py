"""The Python API: connect(...) on any backend, .sql() relations, every table as Polars."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import orjson
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from support import FIXTURE_BUCKET, FIXTURE_PREFIX, FIXTURE_STORE, R2_ACCOUNT_ID
from support.moto_server import DUMMY_KEY_ID, DUMMY_SECRET, REGION

from perstack_logq.api import TABLES, VIEWS, History, connect
from perstack_logq.config import R2Config
from perstack_logq.decode.schema import TABLES_BY_NAME
from perstack_logq.errors import UsageError

ROWS = {
    "jobs": 11,
    "runs": 18,
    "messages": None,  # checked below: each message of a run once
    "step_costs": 30,
    "run_costs": 18,
    "job_costs": 11,
    "job_files": 11,
    "checkpoints": 30,
    "run_settings": 18,
    "events": 145,
    "steps": 30,
    "tool_calls": 23,
    "tool_results": 11,
    "skipped_files": 0,
    "masked_secrets": 18,  # the fake sk-ant-... key of its run settings, as a key would be
}


@pytest.fixture(scope="module", params=["filesystem", "s3", "r2"])
def history(
    request: pytest.FixtureRequest,
    moto_fixture_store: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[History]:
    """The fixture store opened the way a notebook would: a path, an s3:// URL, an R2Config.

    Read once per module; the credentials are in the environment only while it is read.
    """
    with pytest.MonkeyPatch.context() as env:
        home = tmp_path_factory.mktemp("aws")
        env.setenv("AWS_CONFIG_FILE", str(home / "aws-config"))
        env.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / "aws-credentials"))
        env.setenv("AWS_EC2_METADATA_DISABLED", "true")
        if request.param == "filesystem":
            opened = connect(str(FIXTURE_STORE), cache=False)
        elif request.param == "s3":
            env.setenv("AWS_ACCESS_KEY_ID", DUMMY_KEY_ID)
            env.setenv("AWS_SECRET_ACCESS_KEY", DUMMY_SECRET)
            env.setenv("AWS_DEFAULT_REGION", REGION)
            env.setenv("AWS_ENDPOINT_URL_S3", moto_fixture_store)
            opened = connect(f"s3://{FIXTURE_BUCKET}/{FIXTURE_PREFIX}", cache=False)
        else:
            env.setenv("R2_ACCESS_KEY_ID", DUMMY_KEY_ID)
            env.setenv("R2_SECRET_ACCESS_KEY", DUMMY_SECRET)
            opened = connect(
                R2Config(
                    account_id=R2_ACCOUNT_ID,
                    bucket=FIXTURE_BUCKET,
                    prefix=FIXTURE_PREFIX,
                    endpoint=moto_fixture_store,
                ),
                cache=False,
            )
        opened.sync()
    with opened:
        yield opened


def test_sql_gives_a_duckdb_relation_in_every_form(history: History) -> None:
    relation = history.sql(
        "SELECT type, count(*) AS n FROM events WHERE type LIKE $pattern "
        "GROUP BY type ORDER BY n, type",
        {"pattern": "stopRunBy%"},
    )
    expected = [
        ("stopRunByExceededMaxSteps", 1),
        ("stopRunByInteractiveTool", 1),
        ("stopRunByDelegate", 2),
        ("stopRunByError", 3),
    ]
    assert relation.fetchall() == expected
    frame = relation.pl()
    assert isinstance(frame, pl.DataFrame)
    assert frame.rows() == expected
    arrow = relation.arrow()
    assert isinstance(arrow, pa.Table | pa.RecordBatchReader)
    arrow_table = arrow if isinstance(arrow, pa.Table) else arrow.read_all()
    assert arrow_table.column_names == ["type", "n"]
    assert arrow_table.num_rows == 4
    pandas_frame = relation.df()
    assert isinstance(pandas_frame, pd.DataFrame)
    assert pandas_frame["n"].sum() == 7


def test_every_table_is_a_polars_frame(history: History) -> None:
    assert set(TABLES) == {*VIEWS, *TABLES_BY_NAME}
    for name in TABLES:
        frame = getattr(history, name)
        assert isinstance(frame, pl.DataFrame), name
        assert frame.columns == history.sql(f"SELECT * FROM {name} LIMIT 0").columns, name
        if ROWS[name] is not None:
            assert frame.height == ROWS[name], name
        assert history.table(name).shape == frame.shape
    # Columns of the data tables are exactly the schema's, in its order.
    for name, table in TABLES_BY_NAME.items():
        assert getattr(history, name).columns == table.column_names
    # Each message of a job once, however many checkpoints and events held it: counted
    # here from the files themselves.
    assert history.messages.height == len(_distinct_messages(FIXTURE_STORE))


def _distinct_messages(store: Path) -> set[tuple[str, str]]:
    found = set()
    for path in store.glob("jobs/*/**/*.json"):
        record = orjson.loads(path.read_bytes())
        job_id = path.relative_to(store).parts[1]
        holders = [record.get(key) for key in ("initialCheckpoint", "checkpoint", "nextCheckpoint")]
        for holder in [record, *holders]:
            if isinstance(holder, dict) and isinstance(holder.get("messages"), list):
                found |= {(job_id, message["id"]) for message in holder["messages"]}
    return found


def test_frames_hold_the_values(history: History) -> None:
    jobs = history.jobs
    failing = jobs.filter(pl.col("status") == "stoppedByError")
    assert failing.height == 3
    assert failing["total_tokens"].to_list() == [0, 0, 0]
    assert jobs["total_tokens"].sum() == 4212
    tools = history.tool_calls.group_by("tool_name").len().sort("tool_name")
    assert dict(tools.rows())["readTextFile"] == 7
    assert history.steps["total_tokens"].sum() == 4212


def test_unknown_names_are_refused(history: History) -> None:
    with pytest.raises(AttributeError):
        _ = history.no_such_table
    with pytest.raises(KeyError, match="no table 'nope'"):
        history.table("nope")


def test_cache_persists_between_connections(tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    with connect(str(FIXTURE_STORE), cache_dir=cache_dir) as first:
        assert first.sql("SELECT count(*) FROM events").fetchone() == (145,)
    assert list(cache_dir.glob("*.duckdb"))
    # sync=False answers from the cache as it is, without reading the store.
    with connect(str(FIXTURE_STORE), cache_dir=cache_dir, sync=False) as second:
        assert second.sql("SELECT count(*) FROM events").fetchone() == (145,)
        assert second.jobs.height == 11
    # Without a cache and without a sync there is nothing to answer from.
    with connect(str(FIXTURE_STORE), cache=False, sync=False) as empty:
        assert empty.sql("SELECT count(*) FROM events").fetchone() == (0,)


def test_paths_may_be_given_as_text(tmp_path: Path) -> None:
    # A notebook writes connect("store", cache_dir="cache") as often as it passes Path objects.
    store_copy = tmp_path / "store"
    shutil.copytree(FIXTURE_STORE, store_copy)
    (tmp_path / "perstack.toml").write_text(
        '[storage]\ntype = "filesystem"\n\n[storage.filesystem]\npath = "store"\n'
    )
    with connect(cache_dir=str(tmp_path / "cache"), cwd=str(tmp_path)) as history:
        assert history.sql("SELECT count(*) FROM events").fetchone() == (145,)
    assert list((tmp_path / "cache").glob("*.duckdb"))
    config = str(tmp_path / "perstack.toml")
    with connect(config=config, cache_dir=str(tmp_path / "cache"), sync=False) as again:
        assert again.sql("SELECT count(*) FROM jobs").fetchone() == (11,)


def test_sync_reports_what_it_read() -> None:
    with connect(str(FIXTURE_STORE), cache=False, sync=False) as history:
        report = history.sync()
        assert report.read == report.listed == 11 + 30 + 18 + 145
        assert report.unreadable == []
        again = history.sync()
        assert again.read == 0


# -- canned queries, repr and dir: the API without internals ----------------------------------


def test_canned_queries_run_from_the_api() -> None:
    with connect(str(FIXTURE_STORE), cache=False) as history:
        catalog = history.queries()
        assert catalog.columns == ["name", "answers", "params"]
        assert "tool_error_rates" in catalog["name"].to_list()
        everything = history.query("tool_error_rates").pl()
        assert everything.height > 0
        # The reference store was written days ago: nothing in the last hour, all since 2020.
        assert history.query("tool_error_rates", since="1h").pl().height == 0
        assert history.query("tool_error_rates", since="5200w").pl().equals(everything)
        assert history.query("tool_error_rates", since="2020-01-01").pl().equals(everything)
        assert history.query("slowest_steps", limit=2).pl().height == 2
        with pytest.raises(UsageError, match=r"^Invalid value for since: 'soon'"):
            history.query("tool_error_rates", since="soon")
        with pytest.raises(UsageError, match=r"^Invalid value for limit: '0'"):
            history.query("slowest_steps", limit=0)


def test_history_says_what_it_is_and_lists_its_tables() -> None:
    with connect(str(FIXTURE_STORE), cache=False, sync=False) as history:
        text = repr(history)
        assert text.startswith(f"<History of filesystem {FIXTURE_STORE}, no cache; tables: jobs")
        listed = dir(history)
        for table in TABLES:
            assert table in listed
        assert {"query", "queries", "sql"} <= set(listed)


def test_a_sync_with_nothing_new_imports_no_pandas(tmp_path: Path) -> None:
    """pandas is installed here (the test extras), as in many notebooks' environments; DuckDB
    imports it for the first Python value bound in a process, and pyarrow for its first
    conversion. A History.sync() that finds nothing new does neither: it took 1.26 s of which
    about 1 s was that import, for one bound LIMIT."""
    import subprocess
    import sys

    script = (
        "import sys; import perstack_logq; "
        "h = perstack_logq.connect(sys.argv[1], cache_dir=sys.argv[2]); h.sync(); h.close(); "
        "print('pandas' in sys.modules)"
    )
    store = shutil.copytree(FIXTURE_STORE, tmp_path / "store")
    runs = [
        subprocess.run(
            [sys.executable, "-c", script, str(store), str(tmp_path / "cache")],
            capture_output=True, text=True, timeout=120, check=True,
        ).stdout.strip()
        for _ in range(2)
    ]  # fmt: skip
    assert runs[1] == "False"  # the first sync filled the cache; the second finds nothing new
