-- 05_unchanged_dirs for the jobs a listing found changed (_sync_jobs) only: when the cache
-- holds the whole last listing, the other jobs' files are as it saw them and as the cache
-- holds them, so copying them (342,000 rows on 10,000 jobs, 0.12 s) would change nothing.
INSERT INTO _sync_listing
SELECT l.*
FROM _listing AS l
SEMI JOIN _sync_jobs AS j
    ON j.job_id = l.job_id
SEMI JOIN _sync_dirs AS d
    ON d.unchanged AND d.key = left(l.key, length(l.key) - strpos(reverse(l.key), '/') + 1)
ANTI JOIN _sync_listing AS listed
    ON listed.key = l.key;
