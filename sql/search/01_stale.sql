-- Indexed event files that left the store or changed since they were indexed: their texts go.
CREATE OR REPLACE TEMP TABLE _search_stale AS
SELECT s.source_key
FROM _search_sources AS s
LEFT JOIN _objects AS o ON o.key = s.source_key
WHERE o.key IS NULL OR o.version IS DISTINCT FROM s.version;
