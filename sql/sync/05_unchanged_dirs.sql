-- The files of the directories that did not change since the last full listing: the same
-- entries, so they come from that listing (save those stat'ed again, already listed). With
-- $job_ids, of the jobs a listing found changed only: when the cache holds the whole last
-- listing, the other jobs' files are as it saw them and as the cache holds them, so copying
-- them (342,000 rows on 10,000 jobs, 0.12 s) would change nothing. The job list is a constant
-- filter of the listing's scan (as in 10_pending).
-- param: job_ids  a JSON list of the changed jobs (engine/database.py json_param), or NULL
INSERT INTO _sync_listing
SELECT l.*
FROM _listing AS l
SEMI JOIN _sync_dirs AS d
    ON d.unchanged AND d.key = left(l.key, length(l.key) - strpos(reverse(l.key), '/') + 1)
ANTI JOIN _sync_listing AS listed
    ON listed.key = l.key
WHERE $job_ids IS NULL OR list_contains(from_json($job_ids, '["VARCHAR"]'), l.job_id);
