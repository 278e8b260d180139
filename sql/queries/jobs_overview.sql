-- Jobs overview: status, expert, runs, steps, tokens, tool calls, errors and delegations per job
-- param: status = NULL  only jobs with this status (completed, stoppedByError, running, ...)
-- param: since = NULL  only jobs started at or after this time (e.g. 2026-11-01 or 2026-11-01 12:00)
-- param: until = NULL  only jobs started before this time
-- param: limit = NULL  at most this many jobs (newest first)
WITH event_counts AS (
    SELECT
        job_id,
        count(*) FILTER (WHERE type = 'stopRunByError') AS errors,
        count(*) FILTER (WHERE type = 'retry') AS retries,
        count(*) FILTER (WHERE type = 'callDelegate') AS delegations
    FROM events
    GROUP BY job_id
),
call_counts AS (
    -- A delegation or interactive call also appears in the callTools event before it.
    SELECT job_id, count(DISTINCT tool_call_id) AS tool_calls
    FROM tool_calls
    GROUP BY job_id
),
result_counts AS (
    SELECT job_id, count(*) FILTER (WHERE is_error) AS tool_errors
    FROM tool_results
    GROUP BY job_id
)
SELECT
    j.job_id,
    j.status,
    j.coordinator_expert_key,
    j.started_at,
    j.finished_at,
    date_diff('millisecond', j.started_at, j.finished_at) AS duration_ms,
    j.run_count,
    j.total_steps,
    j.input_tokens,
    j.output_tokens,
    j.total_tokens,
    coalesce(c.tool_calls, 0) AS tool_calls,
    coalesce(r.tool_errors, 0) AS tool_errors,
    coalesce(e.errors, 0) AS errors,
    coalesce(e.retries, 0) AS retries,
    coalesce(e.delegations, 0) AS delegations,
    j.has_job_file
FROM jobs AS j
LEFT JOIN event_counts AS e USING (job_id)
LEFT JOIN call_counts AS c USING (job_id)
LEFT JOIN result_counts AS r USING (job_id)
WHERE ($status IS NULL OR j.status = CAST($status AS VARCHAR))
  AND ($since IS NULL OR j.started_at >= CAST($since AS TIMESTAMP))
  AND ($until IS NULL OR j.started_at < CAST($until AS TIMESTAMP))
ORDER BY j.started_at DESC NULLS LAST, j.job_id
LIMIT CAST($limit AS BIGINT)
