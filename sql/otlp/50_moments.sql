-- OTLP export: moments that become span events: retries (on the step they retried) and stops
-- to wait for a user's answer to an interactive tool (on the run).
-- param: job_ids  the jobs (a list of ids)
SELECT
    job_id,
    run_id,
    step_number,
    type,
    epoch_ns(event_time) AS at_ns,
    CASE WHEN type = 'retry' THEN record ->> 'reason' END AS reason
FROM events
WHERE job_id IN (SELECT unnest($job_ids))
    AND type IN ('retry', 'stopRunByInteractiveTool')
ORDER BY job_id, event_time;
