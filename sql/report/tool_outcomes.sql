-- Calls per tool and how they ended (succeeded, failed, no result), with the error rate
-- param: limit = 20  at most this many tools, the most called first
-- A call counts once even when it appears in several events (a delegation or interactive
-- call is in callTools and again in callDelegate / callInteractiveTool).
WITH calls AS (
    SELECT
        job_id,
        tool_call_id,
        arg_min(skill_name, position) AS skill_name,
        arg_min(tool_name, position) AS tool_name
    FROM tool_calls
    JOIN _report_jobs USING (job_id)
    GROUP BY job_id, tool_call_id
),
results AS (
    SELECT job_id, tool_call_id, bool_or(is_error) AS is_error
    FROM tool_results
    JOIN _report_jobs USING (job_id)
    GROUP BY job_id, tool_call_id
)
SELECT
    c.skill_name,
    c.tool_name,
    count(*) AS calls,
    count(*) FILTER (WHERE r.is_error = false) AS succeeded,
    count(*) FILTER (WHERE r.is_error) AS failed,
    count(*) FILTER (WHERE r.tool_call_id IS NULL) AS no_result,
    round(count(*) FILTER (WHERE r.is_error) / nullif(count(r.tool_call_id), 0), 4)
        AS error_rate
FROM calls AS c
LEFT JOIN results AS r USING (job_id, tool_call_id)
GROUP BY c.skill_name, c.tool_name
ORDER BY calls DESC, failed DESC, c.skill_name, c.tool_name
LIMIT CAST($limit AS BIGINT)
