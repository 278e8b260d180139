-- Which job is the latest? The newest startedAt from job.json; jobs without job.json count
-- from their earliest event file name (spec §4), so finding it reads only job.json files and
-- listings. Ties go to the first job id, like the original's stable sort over a sorted readdir.
-- Each job's earliest event comes from the last full listing, or from $first_events when it is
-- given: a JSON text {"job_id": [...], "first_event_ms": [...]} of the jobs whose events the
-- caller listed itself (views/log.py says when).
WITH given AS (
    SELECT from_json($first_events, '{"job_id": ["VARCHAR"], "first_event_ms": ["BIGINT"]}') AS g
),
first_events AS (
    SELECT job_id, min(event_ms) AS first_event_ms
    FROM _listing
    WHERE $first_events IS NULL
    GROUP BY job_id
    UNION ALL
    SELECT unnest(g.job_id) AS job_id, unnest(g.first_event_ms) AS first_event_ms
    FROM given
),
started AS (
    SELECT job_id, epoch_ms(started_at) AS started_ms FROM job_files
    UNION ALL
    SELECT job_id, first_event_ms AS started_ms
    FROM first_events
    WHERE job_id NOT IN (SELECT job_id FROM job_files) AND first_event_ms IS NOT NULL
)
SELECT job_id
FROM started
ORDER BY started_ms DESC NULLS LAST, job_id
LIMIT 1;
