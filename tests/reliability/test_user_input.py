"""Bad input from the user: one ``Error: ...`` line, no traceback, a documented exit code.

Exit codes (perstack_logq/errors.py): 2 usage (options, identifiers, perstack.toml), 3 storage,
4 query. Every command here also proves it left the store untouched.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from reliability_support import Result, cli, copy_fixture_store

from perstack_logq.errors import UsageError
from perstack_logq.storage.layout import validate_identifier
from perstack_logq.views.log import LogRequest

USAGE, STORAGE, QUERY = 2, 3, 4


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One copy for the module: every command checks it is left as it was."""
    return copy_fixture_store(tmp_path_factory.mktemp("user-input") / "store")


def _one_error_line(result: Result, code: int, *fragments: str) -> str:
    assert result.returncode == code, (result.args, result.returncode, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


@pytest.mark.parametrize(
    ("option", "value", "problem"),
    [
        ("--job", "../../etc", "contains '/'"),
        ("--job", "..", "contains '..'"),
        ("--job", "a/b", "contains '/'"),
        ("--run", "a\\b", "contains '\\\\'"),
        ("--run", "..", "contains '..'"),
        ("--checkpoint", "x/../../y", "contains '/'"),
        ("--checkpoint", "..\\x", "contains '\\\\'"),
        ("--job", " ", "is empty"),
    ],
)
def test_identifiers_that_could_escape_are_refused(
    store: Path, option: str, value: str, problem: str
) -> None:
    result = cli("--storage", str(store), "--no-cache", option, value, store=store)
    _one_error_line(result, USAGE, f"Invalid value for {option}", problem)


def test_nul_in_identifiers_is_refused() -> None:
    """A NUL byte cannot reach argv (execve refuses it), so the API is where it can arrive."""
    for option in ("--job", "--run", "--checkpoint"):
        with pytest.raises(UsageError, match="a NUL byte"):
            validate_identifier(option, "abc\x00def")
    with pytest.raises(UsageError, match="NUL"):
        LogRequest(job="job\x00")


@pytest.mark.parametrize(
    ("toml", "fragments"),
    [
        ('[storage\ntype = "s3"\n', ("invalid TOML at line 1, column",)),
        ('[storage]\ntype = "s3"\n[storage.s3]\nbucket = "b\n', ("invalid TOML at line 4",)),
        ("[storage]\ntype = 3\n", ("storage.type must be one of",)),
        ('[storage]\ntype = "gcs"\n', ('(got "gcs")',)),
        ('[storage]\ntype = "s3"\n[storage.s3]\nbucket = 7\n', ("storage.s3.bucket must be",)),
        ('[storage]\ntype = "s3"\n[storage.s3]\n', ("storage.s3.bucket is required",)),
        (
            '[storage]\ntype = "s3"\n[storage.s3]\nbucket = "b"\nforcePathStyle = "yes"\n',
            ("storage.s3.forcePathStyle must be true or false",),
        ),
        ('[storage.s3]\nbucket = "b"\nbuckit = "x"\n', ("unknown key storage.s3.buckit",)),
        ('[storage]\ntypo = "s3"\n', ("unknown key storage.typo",)),
        ('[storage.filesystem]\npath = ""\n', ("storage.filesystem.path must not be empty",)),
    ],
)
def test_malformed_perstack_toml(tmp_path: Path, toml: str, fragments: tuple[str, ...]) -> None:
    config = tmp_path / "perstack.toml"
    config.write_text(toml)
    result = cli("--config", str(config), "--no-cache")
    _one_error_line(result, USAGE, "perstack.toml: ", *fragments)


@pytest.mark.parametrize(
    "key", ["secretAccessKey", "accessKeyId", "sessionToken", "apiKey", "password"]
)
def test_credentials_in_perstack_toml_are_refused_without_echoing_them(
    tmp_path: Path, key: str
) -> None:
    secret = "AKIAREALLOOKINGSECRET0123456789"
    config = tmp_path / "perstack.toml"
    config.write_text(f'[storage]\ntype = "s3"\n[storage.s3]\nbucket = "b"\n{key} = "{secret}"\n')
    result = cli("--config", str(config), "--no-cache", "--debug")
    assert result.returncode == USAGE
    assert f"storage.s3.{key} must not be in perstack.toml" in result.stderr
    assert secret not in result.stderr + result.stdout


@pytest.mark.parametrize(
    "toml",
    [
        '[storage.filesystem]\npath = "a\\u0000b"\n',
        '[storage.filesystem]\npath = "~nosuchuser0/x"\n',
    ],
)
def test_unusable_path_in_perstack_toml(tmp_path: Path, toml: str) -> None:
    config = tmp_path / "perstack.toml"
    config.write_text(toml)
    _one_error_line(cli("--config", str(config), "--no-cache"), USAGE, "perstack.toml: ")


def test_storage_path_of_an_unknown_user() -> None:
    _one_error_line(cli("--storage", "~nosuchuser0/perstack", "--no-cache"), USAGE, "--storage")


def test_missing_config_file(tmp_path: Path) -> None:
    result = cli("--config", str(tmp_path / "nope.toml"), "--no-cache")
    _one_error_line(result, USAGE, "--config:", "not found")


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (("--take", "x"), ('Invalid value for --take: "x" is not a valid number',)),
        (("--offset", "-3"), ('Invalid value for --offset: "-3" must be non-negative',)),
        (("--context", "many"), ("Invalid value for --context",)),
        (("--step", "5-2"), ("Invalid step range: 5-2",)),
        (("--step", ">>1"), ("Invalid step filter: >>1",)),
        (("--filter", "type == x"), ("Invalid filter expression: type == x",)),
        (("--bogus",), ("No such option: --bogus",)),
        (("jobs", "--json", "--format", "csv"), ("contradict each other",)),
        (("jobs", "--format", "xml"), ("Invalid value for --format: 'xml'",)),
        (("jobs", "--since", "yesterday-ish"), ("--since",)),
        (("sync",), ("--no-cache and sync contradict each other",)),
        (("query", "SELECT 1", "--name", "jobs_overview"), ("Give either SQL or --name",)),
        (("query",), ("Give either SQL or --name",)),
        (("query", "--param", "a=b", "SELECT 1"), ("--param goes with --name",)),
        (("query", "--name", "no_such_query"), ("Unknown query 'no_such_query' (known: ",)),
        (("query", "--name", "jobs_overview", "--param", "novalue"), ("--param: 'novalue'",)),
        (
            ("query", "--name", "jobs_overview", "--param", "nosuchparam=1"),
            ("Unknown parameter 'nosuchparam' for query 'jobs_overview'",),
        ),
    ],
)
def test_bad_options_are_usage_errors(
    store: Path, args: tuple[str, ...], fragments: tuple[str, ...]
) -> None:
    result = cli("--storage", str(store), "--no-cache", *args, store=store)
    _one_error_line(result, USAGE, *fragments)


@pytest.mark.parametrize(
    ("sql", "fragments"),
    [
        ("SELEC 1", ("Parser Error",)),
        ("SELECT * FROM no_such_table", ("Catalog Error",)),
        ("SELECT 1; SELECT 2", ("exactly one SQL statement",)),
        ("DELETE FROM events", ("Only read-only queries are allowed: DELETE",)),
        ("DROP TABLE events", ("Only read-only queries are allowed",)),
        ("COPY events TO 'x.csv'", ("Only read-only queries are allowed",)),
        ("SELECT * FROM read_text('/etc/hostname')", ("Permission Error",)),
        ("SELECT CAST('abc' AS INTEGER)", ("Conversion Error",)),
    ],
)
def test_bad_sql_is_a_query_error(store: Path, sql: str, fragments: tuple[str, ...]) -> None:
    result = cli("--storage", str(store), "--no-cache", "query", sql, store=store)
    _one_error_line(result, QUERY, *fragments)
    assert not (store / "x.csv").exists()


@pytest.mark.parametrize(
    ("location", "fragments"),
    [
        ("/nonexistent/perstack", ("Storage directory not found: /nonexistent/perstack",)),
        ("/etc/hostname", ("Storage path is not a directory",)),
    ],
)
def test_unusable_store_is_a_storage_error(location: str, fragments: tuple[str, ...]) -> None:
    _one_error_line(cli("--storage", location, "--no-cache"), STORAGE, *fragments)


@pytest.mark.parametrize(
    ("location", "fragments"),
    [
        ("gs://bucket/x", ('unsupported scheme "gs://"',)),
        ("s3://", ("has no bucket",)),
        ("r2://account", ("has no bucket",)),
        ("", ("--storage must not be empty",)),
    ],
)
def test_malformed_storage_location_is_a_usage_error(
    location: str, fragments: tuple[str, ...]
) -> None:
    _one_error_line(cli("--storage", location, "--no-cache"), USAGE, *fragments)


def test_exit_codes_through_the_installed_script(store: Path) -> None:
    """The same codes from the console script a user runs (not only from main())."""
    usage = cli("--storage", str(store), "--no-cache", "--job", "../x", process=True)
    storage = cli("--storage", str(store / "missing"), "--no-cache", process=True)
    query = cli("--storage", str(store), "--no-cache", "query", "SELEC", process=True)
    for result, code in ((usage, USAGE), (storage, STORAGE), (query, QUERY)):
        _one_error_line(result, code)
