-- Files to stat again even in an unchanged directory, with their size and version in the last
-- full listing: those the runtime rewrites in place (job.json, run-setting.json, picked out of
-- the listing by 06_replace_listing), and those that were skipped or unreadable (perhaps
-- half-written then: a write does not change the directory's mtime). Only the skipped ones
-- are joined to the listing: a join of all of it took twice as long on a fresh connection
-- (this runs in every warm command). A key found twice has the same values both times.
SELECT key, size, version
FROM _listing_rewritten
UNION ALL
SELECT s.source_key AS key, l.size, l.version
FROM skipped_files AS s
LEFT JOIN _listing AS l ON l.key = s.source_key
WHERE s.reason <> 'unknown_layout';
