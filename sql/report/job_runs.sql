-- The runs of the reported jobs, with how each ended: final result text or the error that stopped it
-- Made once per report as the temporary table _report_job_runs; job views read it in batches.
-- param: limit = 2000  only the newest jobs, as many as the jobs table lists
-- param: text_limit = 4000  characters of the final result text kept per run
CREATE OR REPLACE TEMP TABLE _report_job_runs AS
WITH _chosen AS (
    SELECT job_id FROM _report_jobs WHERE job_order <= CAST($limit AS BIGINT)
),
final_events AS (
    SELECT
        job_id,
        run_id,
        arg_max(record ->> '$.text', timestamp_ms)
            FILTER (WHERE type IN ('completeRun', 'completeStreamingRunResult')) AS result_text,
        arg_max(
            concat_ws(': ', error_name, error_message), timestamp_ms
        ) FILTER (WHERE type = 'stopRunByError') AS error_text,
        arg_max(record ->> '$.checkpoint.pendingToolCalls[0].toolName', timestamp_ms)
            FILTER (WHERE type = 'stopRunByInteractiveTool') AS waiting_on
    FROM events
    JOIN _chosen USING (job_id)
    WHERE type IN (
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
JOIN _chosen AS c USING (job_id)
