-- Which files of the store were not decoded, and why: one row per key (an unreadable key may
-- have been tried by several syncs), for the warning line and --show-skipped.
-- param: job_ids  only the files of these jobs, or NULL for the whole store
SELECT source_key, min(reason) AS reason, min(detail) AS detail
FROM skipped_files
WHERE $job_ids IS NULL OR list_contains($job_ids, split_part(source_key, '/', 2))
GROUP BY source_key
ORDER BY source_key;
