"""Where the store is: ``[storage]`` in perstack.toml, a ``--storage`` location, or the default.

Precedence, highest first (the first source that says something wins; lower ones are not read):

1. ``--storage LOCATION`` (``storage=``): a path, ``file:///abs/path``, ``s3://bucket[/prefix]``
   or ``r2://accountId/bucket[/prefix]``. perstack.toml is then not parsed at all, so a broken
   file can be bypassed.
2. ``[storage]`` in perstack.toml (``--config PATH``, else ``perstack.toml`` in the current
   directory or its nearest parent). For ``type = "filesystem"`` the ``PERSTACK_STORAGE_PATH``
   environment variable still overrides ``[storage.filesystem] path``, as the runtime does.
3. ``PERSTACK_STORAGE_PATH``.
4. ``./perstack`` under the current directory (the runtime's default).

Choices made where the spec is silent (kept here so the README can quote them):

- ``[storage]`` without ``type`` means ``"filesystem"`` (the runtime's default backend).
- A relative ``[storage.filesystem] path`` is resolved against the directory holding
  perstack.toml, so running from a subdirectory finds the same store; ``path`` left out means
  ``perstack`` next to perstack.toml. Relative paths from ``--storage`` and
  ``PERSTACK_STORAGE_PATH`` are resolved against the current directory; ``~`` is expanded.
- Every ``[storage.*]`` table present is checked for unknown keys, wrong types and credentials,
  even the ones the selected ``type`` does not use (a typo there is still a typo); required keys
  are only required for the selected type.
- ``jurisdiction`` (R2) accepts ``"eu"`` and ``"fedramp"``, Cloudflare's two jurisdictional
  endpoints (``{accountId}.{jurisdiction}.r2.cloudflarestorage.com``).
- An empty ``PERSTACK_STORAGE_PATH`` counts as unset.
- For an ``s3://`` location given with ``--storage``, an S3-compatible server is reached through
  boto3's own ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL`` environment variables.

Credentials never come from this module: a key in perstack.toml that looks like one is refused.
Other sections of perstack.toml (experts, provider, ...) belong to the runtime; only cost reports
read its top-level `model`, `[provider] providerName` and `[pricing]` (perstack_logq.cost).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from perstack_logq.errors import ConfigError

if TYPE_CHECKING:
    import tomllib

CONFIG_FILE_NAME = "perstack.toml"
STORAGE_PATH_ENV = "PERSTACK_STORAGE_PATH"
DEFAULT_STORAGE_DIR = "perstack"
STORAGE_TYPES = ("filesystem", "s3", "r2")
R2_JURISDICTIONS = ("eu", "fedramp")

_URL_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
_LOCATION_FORMS = "a path, file:///abs/path, s3://bucket[/prefix] or r2://accountId/bucket[/prefix]"
_CREDENTIALS_HELP = (
    "credentials come from the environment (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "
    "AWS_PROFILE or R2_ACCESS_KEY_ID/R2_SECRET_ACCESS_KEY)"
)
# Fragments of a key name (lowercased, without "_" and "-") that mark it as a credential.
_CREDENTIAL_FRAGMENTS = (
    "accesskey",
    "secret",
    "token",
    "password",
    "passwd",
    "apikey",
    "credential",
    "privatekey",
)


@dataclass(frozen=True)
class FileSystemConfig:
    path: Path  # absolute


@dataclass(frozen=True)
class S3Config:
    bucket: str
    region: str | None = None
    prefix: str = ""  # normalised: "" or ending with "/"
    endpoint: str | None = None
    force_path_style: bool = False
    profile: str | None = None


@dataclass(frozen=True)
class R2Config:
    account_id: str
    bucket: str
    prefix: str = ""  # normalised: "" or ending with "/"
    jurisdiction: str | None = None  # "eu" -> {accountId}.eu.r2.cloudflarestorage.com
    endpoint: str | None = None  # overrides the computed endpoint
    profile: str | None = None


StorageConfig = FileSystemConfig | S3Config | R2Config


def number_from_environment(
    name: str, *, most: float, problem: str, env: Mapping[str, str] | None = None
) -> float | None:
    """The number the environment variable ``name`` holds, above 0 and at most ``most``; None
    when it is unset or blank. Anything else (not a number, NaN, out of range) is one line,
    ``{name}={value!r}{problem}``."""
    text = ((os.environ if env is None else env).get(name) or "").strip()
    if not text:
        return None
    try:
        number = float(text)
    except ValueError:
        number = float("nan")
    if not (0 < number <= most):  # NaN and infinities fail too
        raise ConfigError(f"{name}={text!r}{problem}")
    return number


def normalize_prefix(prefix: str) -> str:
    """Spec §1: "" stays "", anything else ends with exactly one "/"; a leading "/" goes.

    ``perstack`` -> ``perstack/``, ``perstack/`` and ``/perstack//`` -> ``perstack/``,
    ``/`` -> ``""``. Inner ``//`` are kept: in a bucket they are part of real keys.
    """
    stripped = prefix.lstrip("/").rstrip("/")
    return f"{stripped}/" if stripped else ""


def find_config_file(start: Path) -> Path | None:
    """``perstack.toml`` in ``start`` or its nearest parent, as Perstack itself finds it."""
    directory = Path(os.path.abspath(start))
    for candidate_dir in (directory, *directory.parents):
        candidate = candidate_dir / CONFIG_FILE_NAME
        if candidate.is_file():
            return candidate
    return None


def load_storage_config(
    config_path: Path | None = None,
    storage: str | None = None,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> StorageConfig:
    """The store to read, by the precedence in this module's docstring.

    ``config_path`` is ``--config`` (must exist); ``storage`` is ``--storage``; ``cwd`` and
    ``env`` default to the process's, and are parameters so that tests need not touch either.
    """
    cwd = Path(os.path.abspath(cwd if cwd is not None else Path.cwd()))
    env = os.environ if env is None else env

    if config_path is not None:
        config_path = Path(os.path.abspath(cwd / Path(config_path).expanduser()))
        if not config_path.is_file():
            problem = "is not a file" if config_path.exists() else "not found"
            raise ConfigError(f"--config: {_display_path(config_path, cwd)} {problem}")

    if storage is not None:
        return parse_location(storage, cwd)

    env_path = env.get(STORAGE_PATH_ENV) or None
    if config_path is None:
        config_path = find_config_file(cwd)
    if config_path is not None:
        from_file = _storage_from_file(config_path, cwd)
        if isinstance(from_file, FileSystemConfig) and env_path is not None:
            return FileSystemConfig(_absolute_path(env_path, cwd, STORAGE_PATH_ENV))
        if from_file is not None:
            return from_file

    if env_path is not None:
        return FileSystemConfig(_absolute_path(env_path, cwd, STORAGE_PATH_ENV))
    return FileSystemConfig(cwd / DEFAULT_STORAGE_DIR)


def parse_location(location: str, cwd: Path) -> StorageConfig:
    """A ``--storage`` location: a path, ``file:///abs``, ``s3://bucket[/p]``, ``r2://acct/bucket[/p]``."""
    if not location.strip():
        raise ConfigError(f"--storage must not be empty (use {_LOCATION_FORMS})")
    scheme, sep, rest = location.strip().partition("://")
    if not sep or not _URL_SCHEME.fullmatch(scheme):  # "./a://b" is a (strange) path
        return FileSystemConfig(_absolute_path(location, cwd, "--storage"))
    location = location.strip()  # " s3://b/" pasted with a space is still a URL
    scheme = scheme.lower()
    if "@" in rest.split("?", 1)[0] and scheme in ("s3", "r2"):
        # s3://user:PASSWORD@bucket/: refused, and the password is never echoed.
        raise ConfigError(
            f"--storage: {hide_userinfo(location)!r} must not hold credentials "
            f"(user:password@): {_CREDENTIALS_HELP}"
        )
    location = hide_userinfo(location)

    if scheme == "file":
        # file:///abs/path has an empty host; file://localhost/abs/path is the same thing.
        host, slash, path = rest.partition("/")
        if host not in ("", "localhost") or not slash:
            raise ConfigError(
                f"--storage: {location!r} is not a local file URL (use file:///absolute/path)"
            )
        return FileSystemConfig(Path(os.path.abspath("/" + unquote(path))))

    if scheme == "s3":
        bucket, _, prefix = rest.partition("/")
        if not bucket:
            raise ConfigError(f"--storage: {location!r} has no bucket (use s3://bucket[/prefix])")
        _check_name("--storage", location, "bucket", bucket)
        return S3Config(bucket=bucket, prefix=normalize_prefix(prefix))

    if scheme == "r2":
        account_id, _, after_account = rest.partition("/")
        bucket, _, prefix = after_account.partition("/")
        if not account_id:
            raise ConfigError(
                f"--storage: {location!r} has no account id (use r2://accountId/bucket[/prefix])"
            )
        if not bucket:
            raise ConfigError(
                f"--storage: {location!r} has no bucket (use r2://accountId/bucket[/prefix])"
            )
        _check_name("--storage", location, "account id", account_id)
        _check_name("--storage", location, "bucket", bucket)
        return R2Config(account_id=account_id, bucket=bucket, prefix=normalize_prefix(prefix))

    raise ConfigError(
        f'--storage: unsupported scheme "{scheme}://" in {location!r} (use {_LOCATION_FORMS})'
    )


# Bucket names and R2 account ids: what S3 and S3-compatible stores accept (no ":" for a port,
# no "@", no spaces), so a malformed location fails here as a usage error, not at the store.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}")
_USERINFO = re.compile(r"(?<=://)[^?#]*@")
# Region names as AWS and S3-compatible stores spell them (us-east-1, auto, garage).
REGION = re.compile(r"[a-z0-9][a-z0-9-]{0,62}", re.IGNORECASE)


def hide_userinfo(location: str) -> str:
    """``s3://user:pa/ss@bucket/p`` -> ``s3://<redacted>@bucket/p``, whatever the password holds."""
    return _USERINFO.sub("<redacted>@", location, count=1) if "@" in location else location


def _check_name(where: str, location: str, what: str, name: str) -> None:
    if not _NAME.fullmatch(name):
        raise ConfigError(
            f"{where}: {location!r}: invalid {what} {name!r} (letters, digits, '.', '-' and '_'; "
            "no port, user or spaces)"
        )


def check_endpoint(where: str, url: str) -> str:
    """An endpoint URL that an HTTP client can use: http(s), a host, a port up to 65535."""
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"{where} must be a URL starting with http:// or https:// (got {url!r})")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range or not a number
    except ValueError as error:
        raise ConfigError(f"{where}: invalid URL {url!r} ({error})") from None
    if not parts.hostname:
        raise ConfigError(f"{where}: invalid URL {url!r} (no host)")
    return url


def check_region(where: str, region: str) -> str:
    if not REGION.fullmatch(region):
        raise ConfigError(f"{where}: invalid region {region!r} (e.g. us-east-1)")
    return region


# --- perstack.toml ------------------------------------------------------------------------


def _storage_from_file(path: Path, cwd: Path) -> StorageConfig | None:
    """The ``[storage]`` section of one perstack.toml; None when the file has none."""
    shown = _display_path(path, cwd)
    document = _read_toml(path, shown)
    if "storage" not in document:
        return None
    return _FileValidator(shown, path.name, path.parent).storage(document["storage"])


def read_config_document(path: Path, cwd: Path) -> tuple[dict[str, Any], str]:
    """A whole perstack.toml, parsed, and its name as shown in messages (for sections other
    than [storage]: the model and prices that cost reports read)."""
    shown = _display_path(path, cwd)
    return _read_toml(path, shown), shown


def _read_toml(path: Path, shown: str) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{shown}: cannot read: {exc.strerror or exc}") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{shown}: invalid TOML: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset "
            f"{exc.start})"
        ) from exc
    import tomllib  # here: a command given --storage reads no perstack.toml (1 ms to import)

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{shown}: {_describe_toml_error(exc)}") from exc
    except RecursionError:
        raise ConfigError(f"{shown}: invalid TOML: arrays or tables nested too deeply") from None


_TOML_POSITION = re.compile(r"^(?P<what>.*) \(at line (?P<line>\d+), column (?P<col>\d+)\)$")


def _describe_toml_error(exc: tomllib.TOMLDecodeError) -> str:
    # Python 3.11's TOMLDecodeError has no lineno/colno attributes: the position only lives at
    # the end of the message, as "(at line L, column C)" or "(at end of document)".
    message = str(exc)
    match = _TOML_POSITION.match(message)
    if match:
        return f"invalid TOML at line {match['line']}, column {match['col']}: {match['what']}"
    what = message.removesuffix(" (at end of document)")
    if what != message:
        return f"invalid TOML at end of file: {what}"
    return f"invalid TOML: {message}"


@dataclass(frozen=True)
class _Field:
    """One allowed key of a ``[storage.*]`` table: its TOML name, check, and config name."""

    name: str
    check: Callable[[str, Any], Any]
    attribute: str
    required: bool = False


class _FileValidator:
    """Checks ``[storage]`` and builds the config, with one-line errors naming file and key."""

    def __init__(self, shown: str, file_name: str, base_dir: Path) -> None:
        self.shown = shown
        self.file_name = file_name
        self.base_dir = base_dir
        self.sections: dict[str, tuple[_Field, ...]] = {
            "filesystem": (_Field("path", self._path, "path"),),
            "s3": (
                _Field("bucket", self._bucket, "bucket", required=True),
                _Field("region", self._region, "region"),
                _Field("prefix", self._prefix, "prefix"),
                _Field("endpoint", self._endpoint, "endpoint"),
                _Field("forcePathStyle", self._bool, "force_path_style"),
                _Field("profile", self._string, "profile"),
            ),
            "r2": (
                _Field("accountId", self._bucket, "account_id", required=True),
                _Field("bucket", self._bucket, "bucket", required=True),
                _Field("prefix", self._prefix, "prefix"),
                _Field("jurisdiction", self._jurisdiction, "jurisdiction"),
                _Field("endpoint", self._endpoint, "endpoint"),
                _Field("profile", self._string, "profile"),
            ),
        }

    def error(self, message: str) -> ConfigError:
        return ConfigError(f"{self.shown}: {message}")

    def storage(self, table: Any) -> StorageConfig:
        if not isinstance(table, dict):
            raise self.error(f"storage must be a table (got {_show(table)})")
        self._check_keys("storage", table, ("type", *self.sections))

        storage_type = table.get("type", "filesystem")
        if storage_type not in STORAGE_TYPES:
            allowed = ", ".join(f'"{name}"' for name in STORAGE_TYPES)
            raise self.error(f"storage.type must be one of {allowed} (got {_show(storage_type)})")

        values: dict[str, dict[str, Any]] = {}
        for section, fields in self.sections.items():
            sub = table.get(section, {})
            name = f"storage.{section}"
            if not isinstance(sub, dict):
                raise self.error(f"{name} must be a table (got {_show(sub)})")
            self._check_keys(name, sub, tuple(field.name for field in fields))
            values[section] = {
                field.attribute: field.check(f"{name}.{field.name}", sub[field.name])
                for field in fields
                if field.name in sub
            }

        chosen = values[storage_type]
        for field in self.sections[storage_type]:
            if field.required and field.attribute not in chosen:
                raise self.error(f"storage.{storage_type}.{field.name} is required")
        if storage_type == "s3":
            return S3Config(**chosen)
        if storage_type == "r2":
            return R2Config(**chosen)
        return FileSystemConfig(chosen.get("path", self.base_dir / DEFAULT_STORAGE_DIR))

    def _check_keys(self, name: str, table: dict[str, Any], allowed: tuple[str, ...]) -> None:
        # Credentials first: "unknown key secretAccessKey" would hide the real problem.
        for key in table:
            if _looks_like_credential(key):
                raise self.error(
                    f"{name}.{key} must not be in {self.file_name}: {_CREDENTIALS_HELP}"
                )
        for key in table:
            if key not in allowed:
                raise self.error(f"unknown key {name}.{key} (allowed: {', '.join(allowed)})")

    # Value checks: each takes the dotted key name and the raw TOML value.

    def _string(self, name: str, value: Any) -> str:
        if not isinstance(value, str):
            raise self.error(f"{name} must be a string (got {_show(value)})")
        if not value.strip():
            raise self.error(f"{name} must not be empty")
        return value

    def _bool(self, name: str, value: Any) -> bool:
        if not isinstance(value, bool):
            raise self.error(f"{name} must be true or false (got {_show(value)})")
        return value

    def _bucket(self, name: str, value: Any) -> str:
        value = self._string(name, value)
        if "/" in value:
            raise self.error(
                f'{name} must be a plain name without "/" (got {_show(value)}); '
                "put the folder part in prefix"
            )
        return value

    def _prefix(self, name: str, value: Any) -> str:
        if not isinstance(value, str):
            raise self.error(f"{name} must be a string (got {_show(value)})")
        return normalize_prefix(value)

    def _endpoint(self, name: str, value: Any) -> str:
        value = self._string(name, value)
        if "@" in value:  # https://user:password@host: refused without echoing it
            raise self.error(
                f"{name} must not hold credentials (user:password@): {_CREDENTIALS_HELP}"
            )
        if not value.startswith(("http://", "https://")):
            raise self.error(
                f"{name} must be a URL starting with http:// or https:// (got {_show(value)})"
            )
        try:
            check_endpoint(name, value)
        except ConfigError as error:
            raise self.error(str(error)) from None
        return value.rstrip("/")

    def _region(self, name: str, value: Any) -> str:
        value = self._string(name, value)
        if not REGION.fullmatch(value):
            raise self.error(f"{name} must be a region name such as us-east-1 (got {_show(value)})")
        return value

    def _jurisdiction(self, name: str, value: Any) -> str:
        if value not in R2_JURISDICTIONS:
            allowed = ", ".join(f'"{name}"' for name in R2_JURISDICTIONS)
            raise self.error(f"{name} must be one of {allowed} (got {_show(value)})")
        return value

    def _path(self, name: str, value: Any) -> Path:
        text = self._string(name, value)
        try:
            return _absolute_path(text, self.base_dir, name)
        except ConfigError as error:
            raise self.error(str(error)) from None


def _looks_like_credential(key: str) -> bool:
    squashed = key.lower().replace("_", "").replace("-", "")
    return any(fragment in squashed for fragment in _CREDENTIAL_FRAGMENTS)


def _show(value: Any) -> str:
    """A TOML value as the user wrote it: ``"gcs"``, ``42``, ``true``, ``a table``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "an array"
    return str(value)


def _absolute_path(path: str, base: Path, where: str) -> Path:
    """``path`` made absolute against ``base``, ``~`` expanded; ConfigError naming ``where``
    for a path no filesystem call could take (a NUL byte, the home of an unknown user)."""
    if "\x00" in path:
        raise ConfigError(f"{where}: a path must not contain a NUL byte (got {path!r})")
    try:
        expanded = Path(path).expanduser()
    except RuntimeError:
        user = path[1:].split("/", 1)[0]
        raise ConfigError(f"{where}: {path!r} names the home of an unknown user {user!r}") from None
    return Path(os.path.abspath(base / expanded))


def _display_path(path: Path, cwd: Path) -> str:
    """The path relative to cwd when it is under cwd (what the user typed), else absolute."""
    try:
        return str(path.relative_to(cwd))
    except ValueError:
        return str(path)
