-- Keys whose rows must go before this sync adds new ones: objects that changed, and objects of
-- the synced scope (jobs and kinds) that are no longer in the store. An object that could not
-- be read is not in the manifest (so the next sync retries it): once it has left the store,
-- its skipped_files row goes too. $job_ids is a JSON list (engine/database.py json_param).
CREATE OR REPLACE TEMP TABLE _sync_stale AS
-- A pending key has rows only if an earlier sync read it (or found it unreadable): a new file's
-- key would cost each table a DELETE that finds nothing (25 ms of a sync that adds 9 jobs).
-- The manifest is read for the sync's jobs only (every pending key is of one of them), the job
-- list a constant filter of its scan (as in 10_pending).
SELECT p.key
FROM _sync_pending AS p
WHERE p.key IN (
        SELECT key
        FROM _objects
        WHERE $job_ids IS NULL OR list_contains(from_json($job_ids, '["VARCHAR"]'), job_id)
    )
    OR p.key IN (SELECT source_key FROM skipped_files WHERE reason = 'unreadable')
UNION
SELECT o.key
FROM _objects AS o
WHERE ($job_ids IS NULL OR list_contains(from_json($job_ids, '["VARCHAR"]'), o.job_id))
    AND ($kinds IS NULL OR list_contains($kinds, o.kind))
    AND o.key NOT IN (SELECT key FROM _sync_listing)
UNION
SELECT s.source_key
FROM skipped_files AS s
WHERE s.reason = 'unreadable'
    AND $kinds IS NULL
    AND (
        $job_ids IS NULL
        OR list_contains(from_json($job_ids, '["VARCHAR"]'), split_part(s.source_key, '/', 2))
    )
    AND s.source_key NOT IN (SELECT key FROM _sync_listing);
