-- The tool calls of the reported jobs with their outcome and the start of their result
-- Made once per report as the temporary table _report_job_calls; job views read it in batches.
-- param: limit = 2000  only the newest jobs, as many as the jobs table lists
-- param: preview_limit = 160  characters of the result text kept per call
-- A delegation or interactive call is also listed in the callTools event before it: each
-- call appears once, at its first event.
CREATE OR REPLACE TEMP TABLE _report_job_calls AS
WITH _chosen AS (
    SELECT job_id FROM _report_jobs WHERE job_order <= CAST($limit AS BIGINT)
),
calls AS (
    SELECT
        job_id,
        tool_call_id,
        arg_min(run_id, (event_time, position)) AS run_id,
        arg_min(step_number, (event_time, position)) AS step_number,
        min(event_time) AS called_at,
        arg_min(skill_name, (event_time, position)) AS skill_name,
        arg_min(tool_name, (event_time, position)) AS tool_name,
        bool_or(kind = 'callDelegate') AS is_delegation,
        bool_or(kind = 'callInteractiveTool') AS is_interactive
    FROM tool_calls
    JOIN _chosen USING (job_id)
    GROUP BY job_id, tool_call_id
),
results AS (
    SELECT
        job_id,
        tool_call_id,
        bool_or(is_error) AS is_error,
        arg_min(left(result_text, CAST($preview_limit AS BIGINT)), event_time) AS preview,
        arg_min(length(result_text), event_time) AS result_length,
        min(event_time) AS answered_at
    FROM tool_results
    JOIN _chosen USING (job_id)
    GROUP BY job_id, tool_call_id
)
SELECT
    c.job_id,
    c.run_id,
    c.step_number,
    c.tool_call_id,
    c.called_at,
    c.skill_name,
    c.tool_name,
    CASE
        WHEN c.is_delegation THEN 'delegation'
        WHEN c.is_interactive THEN 'interactive'
        ELSE 'tool'
    END AS kind,
    r.tool_call_id IS NOT NULL AS answered,
    coalesce(r.is_error, false) AS is_error,
    r.preview,
    r.result_length,
    r.answered_at
FROM calls AS c
LEFT JOIN results AS r USING (job_id, tool_call_id)
