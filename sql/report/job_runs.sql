-- The runs of a batch of jobs, with how each ended: final result text or the error that stopped it
-- param: job_ids  the jobs of the batch (a list of job ids)
-- param: text_limit = 4000  characters of the final result text kept per run
WITH final_events AS (
    SELECT
        job_id,
        run_id,
        arg_max(record ->> '$.text', timestamp_ms)
            FILTER (WHERE type IN ('completeRun', 'completeStreamingRunResult')) AS result_text,
        arg_max(
            concat_ws(': ', record ->> '$.error.name', record ->> '$.error.message'), timestamp_ms
        ) FILTER (WHERE type = 'stopRunByError') AS error_text,
        arg_max(record ->> '$.checkpoint.pendingToolCalls[0].toolName', timestamp_ms)
            FILTER (WHERE type = 'stopRunByInteractiveTool') AS waiting_on
    FROM events
    WHERE list_contains(CAST($job_ids AS VARCHAR[]), job_id)
      AND type IN (
          'completeRun', 'completeStreamingRunResult', 'stopRunByError', 'stopRunByInteractiveTool'
      )
    GROUP BY job_id, run_id
)
SELECT
    r.job_id,
    r.run_id,
    r.parent_run_id,
    r.expert_key,
    coalesce(r.model, 'unknown') AS model,
    r.status,
    r.started_at,
    r.last_event_at,
    r.duration_ms,
    r.step_count,
    r.first_step,
    r.last_step,
    r.total_tokens,
    left(f.result_text, CAST($text_limit AS BIGINT)) AS result_text,
    length(f.result_text) AS result_length,
    f.error_text,
    f.waiting_on
FROM runs AS r
LEFT JOIN final_events AS f USING (job_id, run_id)
WHERE list_contains(CAST($job_ids AS VARCHAR[]), r.job_id)
ORDER BY r.job_id, r.started_at NULLS LAST, r.run_id
