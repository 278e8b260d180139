-- Tool usage and error rate per tool: calls, answered results, errors, share of results that failed
-- param: since = NULL  only calls made at or after this time (e.g. 2026-11-01)
-- param: until = NULL  only calls made before this time
-- param: expert = NULL  only calls made by this expert key
-- A call counts once even when it appears in several events (a delegation or interactive
-- call is in callTools and again in callDelegate / callInteractiveTool).
WITH calls AS (
    SELECT
        job_id,
        tool_call_id,
        arg_min(skill_name, position) AS skill_name,
        arg_min(tool_name, position) AS tool_name,
        bool_or(kind = 'callDelegate') AS is_delegation,
        bool_or(kind = 'callInteractiveTool') AS is_interactive
    FROM tool_calls
    WHERE ($since IS NULL OR event_time >= CAST($since AS TIMESTAMP))
      AND ($until IS NULL OR event_time < CAST($until AS TIMESTAMP))
      AND ($expert IS NULL OR expert_key = CAST($expert AS VARCHAR))
    GROUP BY job_id, tool_call_id
),
results AS (
    SELECT job_id, tool_call_id, bool_or(is_error) AS is_error
    FROM tool_results
    GROUP BY job_id, tool_call_id
)
SELECT
    c.skill_name,
    c.tool_name,
    CASE
        WHEN bool_or(c.is_delegation) THEN 'delegation'
        WHEN bool_or(c.is_interactive) THEN 'interactive'
        ELSE 'tool'
    END AS kind,
    count(*) AS calls,
    count(r.tool_call_id) AS results,
    count(*) FILTER (WHERE r.is_error) AS errors,
    round(count(*) FILTER (WHERE r.is_error) / nullif(count(r.tool_call_id), 0), 4)
        AS error_rate,
    count(DISTINCT c.job_id) AS jobs
FROM calls AS c
LEFT JOIN results AS r USING (job_id, tool_call_id)
GROUP BY c.skill_name, c.tool_name
ORDER BY calls DESC, errors DESC, c.skill_name, c.tool_name
