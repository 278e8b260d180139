-- Objects of the listing that the cache does not hold in this exact version (new or changed),
-- limited to the kinds this sync reads.
CREATE OR REPLACE TABLE _sync_pending AS
SELECT l.key, l.job_id, l.kind, l.size, l.version
FROM _sync_listing AS l
ANTI JOIN _objects AS o
    ON o.key = l.key AND o.size = l.size AND o.version = l.version
WHERE $kinds IS NULL OR list_contains($kinds, l.kind)
ORDER BY l.key;
