-- The objects the cache holds, with the size and version (mtime or ETag) they had when read.
CREATE TABLE IF NOT EXISTS _objects (
    key VARCHAR NOT NULL,
    job_id VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    size BIGINT NOT NULL,
    version VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS _listing (
    key VARCHAR NOT NULL,
    job_id VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,
    size BIGINT NOT NULL,
    version VARCHAR NOT NULL,
    event_ms BIGINT
);
