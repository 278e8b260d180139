-- OTLP export: the runs of some jobs, one invoke_agent span each: times in epoch ns, the run
-- that delegated to it, usage, and how it ended (the error of stopRunByError, the result text
-- of completeRun).
-- param: job_ids  the jobs (a list of ids)
WITH endings AS (
    SELECT
        job_id,
        run_id,
        arg_max(error_name, event_time) FILTER (type = 'stopRunByError')
            AS error_name,
        arg_max(error_message, event_time) FILTER (type = 'stopRunByError')
            AS error_message,
        arg_max(record ->> 'text', event_time) FILTER (type = 'completeRun') AS result_text
    FROM events
    WHERE job_id IN (SELECT unnest($job_ids))
        AND type IN ('stopRunByError', 'completeRun')
    GROUP BY ALL
)
SELECT
    r.job_id,
    r.run_id,
    r.parent_run_id,
    r.expert_key,
    r.model,
    r.provider_name,
    r.status,
    epoch_ns(r.started_at) AS start_ns,
    epoch_ns(r.last_event_at) AS end_ns,
    r.input_tokens,
    r.output_tokens,
    r.reasoning_tokens,
    r.cached_input_tokens,
    r.step_count,
    e.error_name,
    e.error_message,
    e.result_text
FROM runs AS r
LEFT JOIN endings AS e USING (job_id, run_id)
WHERE r.job_id IN (SELECT unnest($job_ids))
ORDER BY r.job_id, r.started_at, r.run_id;
