-- OTLP export: every tool call of some jobs once (a delegation or an interactive call is listed
-- in its callTools event too), with the result that answered it: one execute_tool span each,
-- from the call's event to the result's.
-- param: job_ids  the jobs (a list of ids)
WITH calls AS (
    SELECT
        job_id,
        tool_call_id,
        arg_min(run_id, event_time) AS run_id,
        arg_min(step_number, event_time) AS step_number,
        arg_min(skill_name, event_time) AS skill_name,
        arg_min(tool_name, event_time) AS tool_name,
        max(kind) FILTER (kind <> 'callTools') AS special_kind,
        min(event_time) AS called_at
    FROM tool_calls
    WHERE job_id IN (SELECT unnest($job_ids))
    GROUP BY ALL
),
results AS (
    SELECT
        job_id,
        tool_call_id,
        arg_min(is_error, event_time) AS is_error,
        arg_min(result_text, event_time) AS result_text,
        min(event_time) AS answered_at
    FROM tool_results
    WHERE job_id IN (SELECT unnest($job_ids))
    GROUP BY ALL
)
SELECT
    c.job_id,
    c.run_id,
    c.step_number,
    c.tool_call_id,
    c.skill_name,
    c.tool_name,
    coalesce(c.special_kind, 'callTools') AS kind,
    epoch_ns(c.called_at) AS start_ns,
    epoch_ns(greatest(coalesce(r.answered_at, c.called_at), c.called_at)) AS end_ns,
    r.is_error,
    r.result_text
FROM calls AS c
LEFT JOIN results AS r USING (job_id, tool_call_id)
ORDER BY c.job_id, c.called_at, c.tool_call_id;
