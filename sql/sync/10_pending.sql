-- Objects of the listing that the cache does not hold in this exact version (new or changed),
-- limited to the kinds this sync reads. The manifest is read for the sync's jobs only, when it
-- has some: every listed key is of one of them, and the job list as a constant filter skips
-- the other rows in the scan (12 against 22 ms on the 342,000 keys of 10,000 jobs).
-- param: kinds    the kinds this sync reads, or NULL for all
-- param: job_ids  a JSON list of the sync's jobs (engine/database.py json_param), or NULL
CREATE OR REPLACE TABLE _sync_pending AS
SELECT l.key, l.job_id, l.kind, l.size, l.version
FROM _sync_listing AS l
ANTI JOIN (
    SELECT key, size, version
    FROM _objects
    WHERE $job_ids IS NULL OR list_contains(from_json($job_ids, '["VARCHAR"]'), job_id)
) AS o
    ON o.key = l.key AND o.size = l.size AND o.version = l.version
WHERE $kinds IS NULL OR list_contains($kinds, l.kind)
ORDER BY l.key;
