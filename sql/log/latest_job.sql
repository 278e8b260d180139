-- Which job is the latest? The newest startedAt from job.json; jobs without job.json count
-- from their earliest event file name (spec §4), so finding it reads only job.json files and
-- listings. Ties go to the first job id, like the original's stable sort over a sorted readdir.
WITH started AS (
    SELECT job_id, epoch_ms(started_at) AS started_ms FROM job_files
    UNION ALL
    SELECT job_id, min(event_ms) AS started_ms
    FROM _listing
    WHERE job_id NOT IN (SELECT job_id FROM job_files)
    GROUP BY job_id
    HAVING min(event_ms) IS NOT NULL
)
SELECT job_id
FROM started
ORDER BY started_ms DESC NULLS LAST, job_id
LIMIT 1;
