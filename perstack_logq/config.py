"""Where the store is: ``[storage]`` in perstack.toml, a ``--storage`` location, or the default.

(Implementation pending: see the storage-layer helper's task.)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


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
