-- Final results of runs: how each run ended and what it answered (or the error that stopped it)
-- param: job_id = NULL  only runs of this job
-- param: status = NULL  only runs with this status (completed, stoppedByError, running, ...)
-- param: limit = NULL  at most this many runs (latest first)
WITH final_events AS (
    SELECT
        job_id,
        run_id,
        arg_max(
            CASE type
                WHEN 'completeRun' THEN record ->> '$.text'
                WHEN 'completeStreamingRunResult' THEN record ->> '$.text'
            END,
            timestamp_ms
        ) FILTER (WHERE type IN ('completeRun', 'completeStreamingRunResult')) AS result_text,
        arg_max(error_name, timestamp_ms) FILTER (WHERE type = 'stopRunByError')
            AS error_name,
        arg_max(error_message, timestamp_ms)
            FILTER (WHERE type = 'stopRunByError') AS error_message
    FROM events
    WHERE type IN ('completeRun', 'completeStreamingRunResult', 'stopRunByError')
    GROUP BY job_id, run_id
)
SELECT
    r.job_id,
    r.run_id,
    r.expert_key,
    coalesce(r.model, 'unknown') AS model,
    r.status,
    r.started_at,
    r.last_event_at AS ended_at,
    r.duration_ms,
    r.step_count,
    TRY_CAST(r.total_tokens AS BIGINT) AS total_tokens,
    f.result_text,
    f.error_name,
    f.error_message
FROM runs AS r
LEFT JOIN final_events AS f USING (job_id, run_id)
WHERE ($job_id IS NULL OR r.job_id = CAST($job_id AS VARCHAR))
  AND ($status IS NULL OR r.status = CAST($status AS VARCHAR))
ORDER BY r.last_event_at DESC NULLS LAST, r.job_id, r.run_id
LIMIT CAST($limit AS BIGINT)
