-- One row per selected job for the overview's jobs table, newest first
-- cost_usd is NULL when a step has no price (unpriced_steps says how many) or there is none.
-- param: limit = 2000  at most this many rows (the page stays bounded in size)
WITH event_counts AS (
    SELECT
        job_id,
        count(*) FILTER (WHERE type = 'stopRunByError') AS errors,
        count(*) FILTER (WHERE type = 'retry') AS retries,
        count(*) FILTER (WHERE type = 'callDelegate') AS delegations
    FROM events
    JOIN _report_jobs USING (job_id)
    GROUP BY job_id
),
call_counts AS (
    SELECT job_id, count(DISTINCT tool_call_id) AS tool_calls
    FROM tool_calls
    JOIN _report_jobs USING (job_id)
    GROUP BY job_id
),
result_counts AS (
    SELECT job_id, count(*) FILTER (WHERE is_error) AS tool_errors
    FROM tool_results
    JOIN _report_jobs USING (job_id)
    GROUP BY job_id
)
SELECT
    j.job_id,
    j.status,
    j.coordinator_expert_key,
    j.started_at,
    date_diff('millisecond', j.started_at, j.finished_at) AS duration_ms,
    j.run_count,
    j.total_steps,
    j.total_tokens,
    k.cost_usd,
    coalesce(k.unpriced_steps, 0) AS unpriced_steps,
    coalesce(c.tool_calls, 0) AS tool_calls,
    coalesce(r.tool_errors, 0) AS tool_errors,
    coalesce(e.errors, 0) AS errors,
    coalesce(e.retries, 0) AS retries,
    coalesce(e.delegations, 0) AS delegations
FROM _report_jobs AS p
JOIN jobs AS j USING (job_id)
LEFT JOIN event_counts AS e USING (job_id)
LEFT JOIN call_counts AS c USING (job_id)
LEFT JOIN result_counts AS r USING (job_id)
LEFT JOIN job_costs AS k USING (job_id)
WHERE p.job_order <= CAST($limit AS BIGINT)
ORDER BY p.job_order
