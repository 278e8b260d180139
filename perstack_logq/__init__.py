"""perstack_logq: query Perstack execution history on the filesystem, S3 and R2."""

__version__ = "0.1.0"
