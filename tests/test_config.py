"""perstack.toml [storage], --storage locations, PERSTACK_STORAGE_PATH and their precedence."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perstack_logq.config import (
    FileSystemConfig,
    R2Config,
    S3Config,
    find_config_file,
    load_storage_config,
    normalize_prefix,
    parse_location,
)
from perstack_logq.errors import ConfigError, UsageError

CREDENTIALS_HELP = (
    "credentials come from the environment (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
    "AWS_PROFILE or R2_ACCESS_KEY_ID/R2_SECRET_ACCESS_KEY)"
)


def write_config(directory: Path, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "perstack.toml"
    path.write_text(text, encoding="utf-8")
    return path


def load(cwd: Path, text: str | None = None, **kwargs: object) -> object:
    """Load with an explicit, empty environment unless one is given."""
    if text is not None:
        write_config(cwd, text)
    kwargs.setdefault("env", {})
    return load_storage_config(cwd=cwd, **kwargs)  # type: ignore[arg-type]


# --- prefix normalisation (spec §1) -----------------------------------------------------------


@pytest.mark.parametrize(
    ("given_prefix", "expected"),
    [
        ("", ""),
        ("/", ""),
        ("//", ""),
        ("perstack", "perstack/"),
        ("perstack/", "perstack/"),
        ("perstack//", "perstack/"),
        ("/perstack", "perstack/"),
        ("/perstack/", "perstack/"),
        ("team/a/perstack", "team/a/perstack/"),
        ("team//perstack", "team//perstack/"),  # inner "//" are real key characters
    ],
)
def test_normalize_prefix(given_prefix: str, expected: str) -> None:
    assert normalize_prefix(given_prefix) == expected


@given(st.text(alphabet="ab/", max_size=12))
def test_normalize_prefix_is_idempotent_and_well_formed(prefix: str) -> None:
    normalized = normalize_prefix(prefix)
    assert normalize_prefix(normalized) == normalized
    assert not normalized.startswith("/")
    assert normalized == "" or (normalized.endswith("/") and not normalized.endswith("//"))


# --- --storage locations ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("store", FileSystemConfig(Path("/work/dir/store"))),
        ("./perstack", FileSystemConfig(Path("/work/dir/perstack"))),
        ("../other/perstack", FileSystemConfig(Path("/work/other/perstack"))),
        ("/data/perstack", FileSystemConfig(Path("/data/perstack"))),
        ("/data/perstack/", FileSystemConfig(Path("/data/perstack"))),
        ("file:///data/perstack", FileSystemConfig(Path("/data/perstack"))),
        ("file://localhost/data/perstack", FileSystemConfig(Path("/data/perstack"))),
        ("file:///data/my%20store", FileSystemConfig(Path("/data/my store"))),
        ("./odd://name", FileSystemConfig(Path("/work/dir/odd:/name"))),
        ("s3://bucket", S3Config(bucket="bucket")),
        ("s3://bucket/", S3Config(bucket="bucket")),
        ("s3://bucket/perstack", S3Config(bucket="bucket", prefix="perstack/")),
        ("s3://bucket/perstack/", S3Config(bucket="bucket", prefix="perstack/")),
        ("S3://bucket//team/perstack", S3Config(bucket="bucket", prefix="team/perstack/")),
        ("r2://acct/bucket", R2Config(account_id="acct", bucket="bucket")),
        ("r2://acct/bucket/p", R2Config(account_id="acct", bucket="bucket", prefix="p/")),
        ("r2://acct/bucket/a/b/", R2Config(account_id="acct", bucket="bucket", prefix="a/b/")),
    ],
)
def test_parse_location(location: str, expected: object) -> None:
    assert parse_location(location, Path("/work/dir")) == expected


def test_parse_location_expands_home(isolated_environment: Path) -> None:
    assert parse_location("~/perstack", Path("/work")) == FileSystemConfig(
        isolated_environment / "perstack"
    )


@pytest.mark.parametrize(
    ("location", "message"),
    [
        ("", "--storage must not be empty (use a path, file:///abs/path, s3://bucket[/prefix] "
         "or r2://accountId/bucket[/prefix])"),
        ("s3://", "--storage: 's3://' has no bucket (use s3://bucket[/prefix])"),
        ("s3:///perstack", "--storage: 's3:///perstack' has no bucket (use s3://bucket[/prefix])"),
        ("r2://", "--storage: 'r2://' has no account id (use r2://accountId/bucket[/prefix])"),
        ("r2://acct", "--storage: 'r2://acct' has no bucket (use r2://accountId/bucket[/prefix])"),
        ("r2://acct/", "--storage: 'r2://acct/' has no bucket (use r2://accountId/bucket[/prefix])"),
        ("gs://x", '--storage: unsupported scheme "gs://" in \'gs://x\' (use a path, '
         "file:///abs/path, s3://bucket[/prefix] or r2://accountId/bucket[/prefix])"),
        ("file://host/x", "--storage: 'file://host/x' is not a local file URL "
         "(use file:///absolute/path)"),
        ("file://relative", "--storage: 'file://relative' is not a local file URL "
         "(use file:///absolute/path)"),
    ],
)  # fmt: skip
def test_bad_locations(location: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_location(location, Path("/work"))
    assert str(caught.value) == message
    assert isinstance(caught.value, UsageError)  # exit code 2


@given(
    bucket=st.from_regex(r"[a-z0-9][a-z0-9.-]{2,20}", fullmatch=True),
    prefix=st.text(alphabet="abc/_-", max_size=15),
)
def test_s3_location_round_trip(bucket: str, prefix: str) -> None:
    config = parse_location(f"s3://{bucket}/{prefix}", Path("/"))
    assert config == S3Config(bucket=bucket, prefix=normalize_prefix(prefix))


# --- finding perstack.toml --------------------------------------------------------------------


def test_find_config_file_here_and_in_parents(tmp_path: Path) -> None:
    config = write_config(tmp_path / "project", "")
    deep = tmp_path / "project" / "a" / "b"
    deep.mkdir(parents=True)
    assert find_config_file(tmp_path / "project") == config
    assert find_config_file(deep) == config
    nearer = write_config(tmp_path / "project" / "a", "")
    assert find_config_file(deep) == nearer


def test_find_config_file_ignores_a_directory_named_perstack_toml(tmp_path: Path) -> None:
    (tmp_path / "perstack.toml").mkdir()
    found = find_config_file(tmp_path)
    assert found is None or tmp_path not in found.parents


# --- precedence -------------------------------------------------------------------------------


def test_default_is_perstack_under_cwd(tmp_path: Path) -> None:
    assert load(tmp_path) == FileSystemConfig(tmp_path / "perstack")


def test_env_path_when_no_file(tmp_path: Path) -> None:
    env = {"PERSTACK_STORAGE_PATH": "data/store"}
    assert load(tmp_path, env=env) == FileSystemConfig(tmp_path / "data" / "store")
    env = {"PERSTACK_STORAGE_PATH": "/abs/store"}
    assert load(tmp_path, env=env) == FileSystemConfig(Path("/abs/store"))
    assert load(tmp_path, env={"PERSTACK_STORAGE_PATH": ""}) == FileSystemConfig(
        tmp_path / "perstack"
    )


def test_env_defaults_to_the_process_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PERSTACK_STORAGE_PATH", "/from/env")
    assert load_storage_config(cwd=tmp_path) == FileSystemConfig(Path("/from/env"))


def test_cwd_defaults_to_the_process_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert load_storage_config(env={}) == FileSystemConfig(tmp_path / "perstack")


def test_file_without_storage_section_falls_through(tmp_path: Path) -> None:
    text = '[provider]\nproviderName = "anthropic"\n'
    assert load(tmp_path, text) == FileSystemConfig(tmp_path / "perstack")
    env = {"PERSTACK_STORAGE_PATH": "/abs/store"}
    assert load(tmp_path, env=env) == FileSystemConfig(Path("/abs/store"))


def test_file_s3_beats_env(tmp_path: Path) -> None:
    text = '[storage]\ntype = "s3"\n[storage.s3]\nbucket = "b"\n'
    env = {"PERSTACK_STORAGE_PATH": "/abs/store"}
    assert load(tmp_path, text, env=env) == S3Config(bucket="b")


def test_env_overrides_file_filesystem_path(tmp_path: Path) -> None:
    text = '[storage]\ntype = "filesystem"\n[storage.filesystem]\npath = "from-file"\n'
    assert load(tmp_path, text) == FileSystemConfig(tmp_path / "from-file")
    env = {"PERSTACK_STORAGE_PATH": "/abs/store"}
    assert load(tmp_path, env=env) == FileSystemConfig(Path("/abs/store"))


def test_storage_option_beats_everything(tmp_path: Path) -> None:
    text = '[storage]\ntype = "s3"\n[storage.s3]\nbucket = "b"\n'
    env = {"PERSTACK_STORAGE_PATH": "/abs/store"}
    assert load(tmp_path, text, env=env, storage="s3://other/p") == S3Config(
        bucket="other", prefix="p/"
    )
    assert load(tmp_path, env=env, storage="local") == FileSystemConfig(tmp_path / "local")


def test_storage_option_skips_a_broken_file(tmp_path: Path) -> None:
    assert load(tmp_path, "[storage\n", storage="/x") == FileSystemConfig(Path("/x"))


def test_relative_file_path_is_relative_to_the_file(tmp_path: Path) -> None:
    write_config(tmp_path, '[storage.filesystem]\npath = "store"\n')
    sub = tmp_path / "sub" / "dir"
    sub.mkdir(parents=True)
    assert load(sub) == FileSystemConfig(tmp_path / "store")


def test_storage_without_type_is_filesystem_next_to_the_file(tmp_path: Path) -> None:
    write_config(tmp_path, "[storage]\n")
    sub = tmp_path / "sub"
    sub.mkdir()
    assert load(sub) == FileSystemConfig(tmp_path / "perstack")


def test_file_path_expands_home(tmp_path: Path, isolated_environment: Path) -> None:
    text = '[storage.filesystem]\npath = "~/perstack"\n'
    assert load(tmp_path, text) == FileSystemConfig(isolated_environment / "perstack")


def test_explicit_config_path_wins_over_the_found_one(tmp_path: Path) -> None:
    write_config(tmp_path, '[storage]\ntype = "s3"\n[storage.s3]\nbucket = "found"\n')
    explicit = write_config(
        tmp_path / "elsewhere", '[storage]\ntype = "s3"\n[storage.s3]\nbucket = "explicit"\n'
    )
    assert load(tmp_path, config_path=explicit) == S3Config(bucket="explicit")
    relative = Path("elsewhere/perstack.toml")
    assert load(tmp_path, config_path=relative) == S3Config(bucket="explicit")


def test_explicit_config_path_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^--config: nope\.toml not found$"):
        load(tmp_path, config_path=Path("nope.toml"))
    (tmp_path / "adir").mkdir()
    with pytest.raises(ConfigError, match=r"^--config: adir is not a file$"):
        load(tmp_path, config_path=Path("adir"))


def test_full_s3_and_r2_sections(tmp_path: Path) -> None:
    text = """
[storage]
type = "s3"

[storage.s3]
bucket = "my-perstack-bucket"
region = "eu-west-1"
prefix = "perstack"
endpoint = "http://127.0.0.1:9000/"
forcePathStyle = true
profile = "work"

[storage.r2]
accountId = "acct"
bucket = "r2-bucket"
prefix = "/team/perstack/"
jurisdiction = "eu"
endpoint = "https://example.test"
profile = "r2"
"""
    assert load(tmp_path, text) == S3Config(
        bucket="my-perstack-bucket",
        region="eu-west-1",
        prefix="perstack/",
        endpoint="http://127.0.0.1:9000",
        force_path_style=True,
        profile="work",
    )
    write_config(tmp_path, text.replace('type = "s3"', 'type = "r2"'))
    assert load(tmp_path) == R2Config(
        account_id="acct",
        bucket="r2-bucket",
        prefix="team/perstack/",
        jurisdiction="eu",
        endpoint="https://example.test",
        profile="r2",
    )


def test_other_sections_are_never_validated(tmp_path: Path) -> None:
    text = """
model = 42
[provider]
providerName = "anthropic"
apiKey = "not ours to judge"
[experts."a@1.0.0"]
whatever = [1, 2]
[storage]
type = "r2"
[storage.r2]
accountId = "acct"
bucket = "b"
"""
    assert load(tmp_path, text) == R2Config(account_id="acct", bucket="b")


# --- perstack.toml errors: one line, naming file, key, what was found and what is allowed ------

S3_KEYS = "bucket, region, prefix, endpoint, forcePathStyle, profile"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[storage]\ntype = "gcs"\n',
         'perstack.toml: storage.type must be one of "filesystem", "s3", "r2" (got "gcs")'),
        ("[storage]\ntype = 3\n",
         'perstack.toml: storage.type must be one of "filesystem", "s3", "r2" (got 3)'),
        ('[storage]\ntype = "s3"\n',
         "perstack.toml: storage.s3.bucket is required"),
        ('[storage]\ntype = "s3"\n[storage.s3]\nregion = "us-east-1"\n',
         "perstack.toml: storage.s3.bucket is required"),
        ('[storage]\ntype = "r2"\n[storage.r2]\nbucket = "b"\n',
         "perstack.toml: storage.r2.accountId is required"),
        ('[storage]\ntype = "r2"\n[storage.r2]\naccountId = "a"\n',
         "perstack.toml: storage.r2.bucket is required"),
        ('[storage]\ntype = "s3"\n[storage.s3]\nbucket = "b"\nregion = 42\n',
         "perstack.toml: storage.s3.region must be a string (got 42)"),
        ('[storage.s3]\nbucket = "b"\nforcePathStyle = "yes"\n',
         'perstack.toml: storage.s3.forcePathStyle must be true or false (got "yes")'),
        ('[storage.s3]\nbucket = ""\n',
         "perstack.toml: storage.s3.bucket must not be empty"),
        ('[storage.s3]\nbucket = "b"\nprefix = 1\n',
         "perstack.toml: storage.s3.prefix must be a string (got 1)"),
        ('[storage.s3]\nbucket = "b/perstack"\n',
         'perstack.toml: storage.s3.bucket must be a plain name without "/" '
         '(got "b/perstack"); put the folder part in prefix'),
        ('[storage.s3]\nbucket = "b"\nendpoint = "127.0.0.1:9000"\n',
         "perstack.toml: storage.s3.endpoint must be a URL starting with http:// or https:// "
         '(got "127.0.0.1:9000")'),
        ('[storage.s3]\nbucket = "b"\nendpoint = "https://user:pw@minio.local"\n',
         "perstack.toml: storage.s3.endpoint must not hold credentials (user:password@): "
         + CREDENTIALS_HELP),
        ('[storage.s3]\nbukcet = "b"\n',
         f"perstack.toml: unknown key storage.s3.bukcet (allowed: {S3_KEYS})"),
        ('[storage.r2]\naccountId = "a"\nbucket = "b"\njurisdiction = "us"\n',
         'perstack.toml: storage.r2.jurisdiction must be one of "eu", "fedramp" (got "us")'),
        ('[storage.r2]\naccount_id = "a"\n',
         "perstack.toml: unknown key storage.r2.account_id "
         "(allowed: accountId, bucket, prefix, jurisdiction, endpoint, profile)"),
        ('[storage.filesystem]\npath = ["a"]\n',
         "perstack.toml: storage.filesystem.path must be a string (got an array)"),
        ('[storage.filesystem]\ndir = "a"\n',
         "perstack.toml: unknown key storage.filesystem.dir (allowed: path)"),
        ('[storage]\nkind = "s3"\n',
         "perstack.toml: unknown key storage.kind (allowed: type, filesystem, s3, r2)"),
        ('storage = "s3"\n',
         'perstack.toml: storage must be a table (got "s3")'),
        ('[storage]\ns3 = "b"\n',
         'perstack.toml: storage.s3 must be a table (got "b")'),
        ('[storage.s3.extra]\nx = 1\n',
         f"perstack.toml: unknown key storage.s3.extra (allowed: {S3_KEYS})"),
        # An unused section is still checked for typos (but not for required keys).
        ('[storage]\ntype = "filesystem"\n[storage.s3]\nregoin = "x"\n',
         f"perstack.toml: unknown key storage.s3.regoin (allowed: {S3_KEYS})"),
        # Syntax errors: position and what tomllib found.
        ("[storage\ntype = 1\n",
         "perstack.toml: invalid TOML at line 1, column 9: "
         "Expected ']' at the end of a table declaration"),
        ('[storage]\ntype = "s3\n',
         "perstack.toml: invalid TOML at line 2, column 11: Illegal character '\\n'"),
        ('[storage]\ntype = "s3',
         "perstack.toml: invalid TOML at end of file: Unterminated string"),
    ],
)  # fmt: skip
def test_config_errors(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    "key",
    [
        "accessKeyId",
        "secretAccessKey",
        "sessionToken",
        "apiKey",
        "token",
        "password",
        "secret",
        "aws_secret_access_key",
        "access_key_id",
        "R2_SECRET_ACCESS_KEY",
        "clientSecret",
        "credentials",
    ],
)
@pytest.mark.parametrize("section", ["s3", "r2"])
def test_credentials_in_the_file_are_refused(tmp_path: Path, section: str, key: str) -> None:
    text = f'[storage]\ntype = "{section}"\n[storage.{section}]\nbucket = "b"\n{key} = "x"\n'
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    assert str(caught.value) == (
        f"perstack.toml: storage.{section}.{key} must not be in perstack.toml: {CREDENTIALS_HELP}"
    )


def test_credentials_message_exact_example(tmp_path: Path) -> None:
    text = '[storage.s3]\nbucket = "b"\nsecretAccessKey = "abc"\n'
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    assert str(caught.value) == (
        "perstack.toml: storage.s3.secretAccessKey must not be in perstack.toml: credentials "
        "come from the environment (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or "
        "R2_ACCESS_KEY_ID/R2_SECRET_ACCESS_KEY)"
    )
    assert "abc" not in str(caught.value)  # the secret itself is never echoed


def test_credentials_directly_under_storage(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^perstack\.toml: storage\.token must not be in "):
        load(tmp_path, '[storage]\ntoken = "x"\n')


def test_error_names_a_file_found_in_a_parent_by_its_absolute_path(tmp_path: Path) -> None:
    config = write_config(tmp_path, '[storage]\ntype = "gcs"\n')
    sub = tmp_path / "sub"
    sub.mkdir()
    with pytest.raises(ConfigError, match=rf"^{config}: storage\.type must be one of"):
        load(sub)


def test_error_names_a_file_under_cwd_relatively(tmp_path: Path) -> None:
    config = write_config(tmp_path / "conf", '[storage]\ntype = "gcs"\n')
    config = config.rename(tmp_path / "conf" / "custom.toml")
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, config_path=config)
    assert str(caught.value).startswith("conf/custom.toml: storage.type must be one of")
    write_config(tmp_path / "conf", '[storage.s3]\nbucket = "b"\napiKey = "x"\n').rename(config)
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, config_path=config)
    assert str(caught.value).startswith(
        "conf/custom.toml: storage.s3.apiKey must not be in custom.toml: credentials come"
    )


def test_non_utf8_file(tmp_path: Path) -> None:
    (tmp_path / "perstack.toml").write_bytes(b'[storage]\ntype = "\xff"\n')
    with pytest.raises(ConfigError) as caught:
        load(tmp_path)
    assert str(caught.value) == (
        "perstack.toml: invalid TOML: not UTF-8 text (byte 0xff at offset 18)"
    )


def test_every_error_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, '[storage]\ntype = "s3\n')
    assert "\n" not in str(caught.value)
