-- What the report covers: counts and the time range (UTC) of the selected jobs
SELECT
    count(DISTINCT j.job_id) AS jobs,
    coalesce(sum(j.run_count), 0) AS runs,
    coalesce(sum(j.event_count), 0) AS events,
    coalesce(sum(j.total_tokens), 0) AS total_tokens,
    min(j.started_at) AS first_started_at,
    max(coalesce(j.finished_at, j.started_at)) AS last_activity_at,
    count(*) FILTER (WHERE j.status = 'completed') AS completed_jobs
FROM jobs AS j
JOIN _report_jobs USING (job_id)
