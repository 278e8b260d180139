-- What a store holds, from its last full listing and its job.json files (no other file is
-- read): counts of jobs, runs, checkpoints and events, bytes, and the oldest and newest job;
-- and the secrets masked in the files read so far.
WITH listing AS (
    SELECT * FROM _listing
),
started AS (
    SELECT job_id, epoch_ms(started_at) AS started_ms FROM job_files
    UNION ALL
    SELECT job_id, min(event_ms)
    FROM listing
    WHERE job_id NOT IN (SELECT job_id FROM job_files)
    GROUP BY job_id
    HAVING min(event_ms) IS NOT NULL
)
SELECT
    (SELECT count(DISTINCT job_id) FILTER (WHERE job_id <> '') FROM listing) AS jobs,
    (
        SELECT count(DISTINCT job_id || '/' || split_part(key, '/', 4))
        FROM listing
        WHERE kind IN ('event', 'run_setting')
    ) AS runs,
    (SELECT count(*) FROM listing WHERE kind = 'checkpoint') AS checkpoints,
    (SELECT count(*) FROM listing WHERE kind = 'event') AS events,
    (SELECT count(*) FROM listing WHERE kind = 'job') AS job_files,
    (SELECT count(*) FROM listing WHERE kind = 'run_setting') AS run_settings,
    (SELECT count(*) FROM listing WHERE kind = 'unknown') AS other_files,
    (SELECT coalesce(sum(size), 0) FROM listing) AS total_bytes,
    -- Counted in the files read so far (all of them after a sync or any query).
    (SELECT coalesce(sum(count), 0) FROM masked_secrets) AS masked_secrets,
    (SELECT arg_min(job_id, started_ms) FROM started) AS oldest_job,
    (SELECT make_timestamp_ms(min(started_ms)) FROM started) AS oldest_started_at,
    (SELECT arg_max(job_id, started_ms) FROM started) AS newest_job,
    (SELECT make_timestamp_ms(max(started_ms)) FROM started) AS newest_started_at;
