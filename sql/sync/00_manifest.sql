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
-- The files of the last full listing that the runtime rewrites in place (job.json,
-- run-setting.json), kept apart by 06_replace_listing: every warm command stats them again
-- (02_recheck), and picking them out of the whole listing cost 8 ms of its 0.19 s (950 jobs).
CREATE TABLE IF NOT EXISTS _listing_rewritten (
    key VARCHAR NOT NULL,
    size BIGINT NOT NULL,
    version VARCHAR NOT NULL
);
-- The directories of the last full filesystem listing and their mtimes then. A settled one's
-- mtime was old enough to trust: while it stays the same, the directory holds the same entries.
CREATE TABLE IF NOT EXISTS _dirs (
    key VARCHAR NOT NULL,
    mtime_ns BIGINT NOT NULL,
    settled BOOLEAN NOT NULL
);
-- Whether the cache holds every object of the last full listing (03_manifest_complete), as
-- the last full sync found it; false while a sync writes, and when not known. A warm command
-- reads it instead of joining the whole listing to the manifest (10 ms on 950 jobs, 40 ms on
-- 10,000), in every command that reads the store.
CREATE TABLE IF NOT EXISTS _listing_held (held BOOLEAN NOT NULL);
INSERT INTO _listing_held SELECT false WHERE NOT EXISTS (SELECT 1 FROM _listing_held);
