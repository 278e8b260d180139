-- Files to stat again even in an unchanged directory, with their size and version in the last
-- full listing: those the runtime rewrites in place (job.json, run-setting.json), and those
-- that were skipped or unreadable (perhaps half-written then: a write does not change the
-- directory's mtime).
WITH recheck AS (
    SELECT key FROM _listing WHERE kind IN ('job', 'run_setting')
    UNION
    SELECT source_key FROM skipped_files WHERE reason <> 'unknown_layout'
)
SELECT r.key, l.size, l.version
FROM recheck AS r
LEFT JOIN _listing AS l USING (key);
