-- Whether a sync of a scope (some kinds, some jobs) has nothing to do: the cache holds every
-- object of the sync's listing (_sync_listing, of that scope) in its listed version, and no
-- object, or file it could not read, of that scope that the listing lacks. It only reads: it
-- also runs on a read-only connection (Database.report_if_current). 03_manifest_complete is
-- the test for the whole last listing, binding no value.
-- param: kinds    the kinds of the scope, or NULL for all
-- param: job_ids  a JSON list of the jobs of the scope (engine/database.py json_param), or NULL
-- The job list is a constant filter of the manifest's scan (as in 10_pending): the other jobs'
-- rows are skipped there, not joined.
WITH scope_objects AS (
    SELECT key, kind, size, version
    FROM _objects
    WHERE $job_ids IS NULL OR list_contains(from_json($job_ids, '["VARCHAR"]'), job_id)
)
SELECT NOT EXISTS (
    SELECT 1
    FROM _sync_listing AS l
    ANTI JOIN scope_objects AS o
        ON o.key = l.key AND o.size = l.size AND o.version = l.version
    WHERE $kinds IS NULL OR list_contains($kinds, l.kind)
) AND NOT EXISTS (
    SELECT 1
    FROM scope_objects AS o
    ANTI JOIN _sync_listing AS l ON l.key = o.key
    WHERE $kinds IS NULL OR list_contains($kinds, o.kind)
) AND NOT EXISTS (
    SELECT 1
    FROM skipped_files AS s
    WHERE s.reason = 'unreadable'
        AND $kinds IS NULL
        AND (
            $job_ids IS NULL
            OR list_contains(from_json($job_ids, '["VARCHAR"]'), split_part(s.source_key, '/', 2))
        )
        AND s.source_key NOT IN (SELECT key FROM _sync_listing)
);
