-- 06_replace_listing for the jobs a listing found changed (_sync_jobs) only; _sync_listing
-- holds their files alone (05_unchanged_dirs with $job_ids). The other jobs' rows of _listing
-- and _listing_rewritten stay as they are: the listing found their directories unchanged and
-- their rewritten files as listed.
DELETE FROM _listing AS l
WHERE l.job_id IN (SELECT job_id FROM _sync_jobs)
    AND NOT EXISTS (
        SELECT 1 FROM _sync_listing AS s
        WHERE s.key = l.key AND s.size = l.size AND s.version = l.version
    );
INSERT INTO _listing
SELECT s.* FROM _sync_listing AS s ANTI JOIN _listing AS l ON l.key = s.key;
DELETE FROM _listing_rewritten AS r
WHERE split_part(r.key, '/', 2) IN (SELECT job_id FROM _sync_jobs)
    AND NOT EXISTS (
        SELECT 1 FROM _sync_listing AS s
        WHERE s.key = r.key AND s.size = r.size AND s.version = r.version
    );
INSERT INTO _listing_rewritten
SELECT s.key, s.size, s.version
FROM _sync_listing AS s ANTI JOIN _listing_rewritten AS r ON r.key = s.key
WHERE s.kind IN ('job', 'run_setting');
