-- Files to stat again even in an unchanged directory: those the runtime rewrites in place
-- (job.json, run-setting.json), and those that were skipped or unreadable (perhaps half-written
-- then: a write does not change the directory's mtime).
SELECT key FROM _listing WHERE kind IN ('job', 'run_setting')
UNION
SELECT source_key FROM skipped_files WHERE reason <> 'unknown_layout';
