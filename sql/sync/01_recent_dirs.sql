-- The 64 directories the last full listing saw changed most recently, with their mtime if
-- settled enough to trust (as 01_known_dirs): a live store's next change is nearly always in
-- one of them, so Database.report_if_current looks at them before reading the whole listing.
-- The number is written here, not bound: DuckDB imports pandas, where installed, for the
-- first value bound in a process (0.3 to 0.7 s of a warm History.sync()).
SELECT key, CASE WHEN settled THEN mtime_ns END AS trusted_mtime_ns
FROM _dirs
ORDER BY mtime_ns DESC
LIMIT 64;
