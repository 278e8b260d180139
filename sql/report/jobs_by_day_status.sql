-- Jobs started per day (UTC) by status, for the "jobs over time" chart
SELECT
    CAST(j.started_at AS DATE) AS day,
    j.status,
    count(*) AS jobs
FROM jobs AS j
JOIN _report_jobs USING (job_id)
WHERE j.started_at IS NOT NULL
GROUP BY ALL
ORDER BY day, j.status
