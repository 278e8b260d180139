-- Whether the cache holds every object of the last full listing within a scope (some kinds,
-- some jobs) in its listed version, and no object of that scope the listing lacks: when the
-- store is as that listing saw it, a sync of the scope has nothing to do (03_manifest_complete
-- is the same test for the whole listing, binding no value).
-- param: kinds    the kinds of the scope, or NULL for all
-- param: job_ids  a JSON list of the jobs of the scope (engine/database.py json_param), or NULL
WITH scope_jobs AS (
    SELECT unnest(from_json($job_ids, '["VARCHAR"]')) AS job_id
)
SELECT NOT EXISTS (
    SELECT 1
    FROM _listing AS l
    ANTI JOIN _objects AS o
        ON o.key = l.key AND o.size = l.size AND o.version = l.version
    WHERE ($kinds IS NULL OR list_contains($kinds, l.kind))
        AND ($job_ids IS NULL OR l.job_id IN (SELECT job_id FROM scope_jobs))
) AND NOT EXISTS (
    SELECT 1
    FROM _objects AS o
    ANTI JOIN _listing AS l ON l.key = o.key
    WHERE ($kinds IS NULL OR list_contains($kinds, o.kind))
        AND ($job_ids IS NULL OR o.job_id IN (SELECT job_id FROM scope_jobs))
);
