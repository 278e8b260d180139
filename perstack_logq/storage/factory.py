"""Build the Storage a StorageConfig describes.

The S3/R2 module (and with it boto3, ~0.2 s to import) is imported only for an S3 or R2
store, so a filesystem user neither waits for nor needs boto3.
"""

from __future__ import annotations

from perstack_logq.config import FileSystemConfig, R2Config, S3Config, StorageConfig
from perstack_logq.errors import StorageError
from perstack_logq.storage.base import Storage
from perstack_logq.storage.filesystem import FileSystemStorage

_BOTO_MODULES = ("boto3", "botocore")


def create_storage_from_config(config: StorageConfig, *, concurrency: int | None = None) -> Storage:
    """The store for ``config``; ``concurrency`` (parallel GETs) applies to S3/R2 only."""
    if isinstance(config, FileSystemConfig):
        return FileSystemStorage(config.path)
    try:
        from perstack_logq.storage import s3
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in _BOTO_MODULES:
            raise
        raise StorageError("S3/R2 storage needs boto3: pip install 'perstack-logq[s3]'") from exc
    options = {} if concurrency is None else {"concurrency": concurrency}
    if isinstance(config, S3Config):
        return s3.S3Storage(config, **options)
    if isinstance(config, R2Config):
        return s3.R2Storage(config, **options)
    raise TypeError(f"not a storage config: {config!r}")
