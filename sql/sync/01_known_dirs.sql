-- What the last full listing knew of each directory: its mtime, if settled enough to trust.
SELECT key, CASE WHEN settled THEN mtime_ns END AS trusted_mtime_ns
FROM _dirs;
