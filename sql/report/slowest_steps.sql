-- The slowest finished steps of the selected jobs (step.startedAt -> step.finishedAt)
-- param: limit = 15  how many steps
SELECT
    s.job_id,
    s.run_id,
    s.step_number,
    s.expert_key,
    s.type AS closed_by,
    s.started_at,
    s.duration_ms,
    s.tool_call_count,
    s.total_tokens
FROM steps AS s
JOIN _report_jobs USING (job_id)
WHERE s.duration_ms IS NOT NULL
ORDER BY s.duration_ms DESC, s.job_id, s.run_id, s.step_number
LIMIT CAST($limit AS BIGINT)
