-- Runs that stopped early: by the step limit, by an error or waiting on an interactive tool
-- param: reason = NULL  only this reason: max_steps, error or interactive
-- param: since = NULL  only runs that stopped at or after this time (e.g. 2026-11-01)
-- resumed_by_run_id is the job's next run after this one, if any (an answer to an
-- interactive tool or --continue-job resumes a job in a new run).
WITH stops AS (
    SELECT
        job_id,
        run_id,
        CASE type
            WHEN 'stopRunByExceededMaxSteps' THEN 'max_steps'
            WHEN 'stopRunByError' THEN 'error'
            WHEN 'stopRunByInteractiveTool' THEN 'interactive'
        END AS reason,
        event_time AS stopped_at,
        step_number,
        expert_key,
        CASE type
            WHEN 'stopRunByError' THEN
                concat_ws(': ', error_name, error_message)
            WHEN 'stopRunByInteractiveTool' THEN
                'waiting on ' || (record ->> '$.checkpoint.pendingToolCalls[0].toolName')
            WHEN 'stopRunByExceededMaxSteps' THEN 'reached step ' || CAST(step_number AS VARCHAR)
        END AS detail,
        error_is_retryable
    FROM events
    WHERE type IN ('stopRunByExceededMaxSteps', 'stopRunByError', 'stopRunByInteractiveTool')
),
next_runs AS (
    SELECT
        job_id,
        run_id,
        lead(run_id) OVER (PARTITION BY job_id ORDER BY started_at, run_id) AS next_run_id
    FROM runs
    WHERE parent_run_id IS NULL
)
SELECT
    s.job_id,
    s.run_id,
    s.expert_key,
    s.reason,
    s.detail,
    s.error_is_retryable,
    s.stopped_at,
    s.step_number,
    r.max_steps,
    j.status AS job_status,
    n.next_run_id AS resumed_by_run_id
FROM stops AS s
LEFT JOIN runs AS r USING (job_id, run_id)
LEFT JOIN jobs AS j USING (job_id)
LEFT JOIN next_runs AS n USING (job_id, run_id)
WHERE ($reason IS NULL OR s.reason = CAST($reason AS VARCHAR))
  AND ($since IS NULL OR s.stopped_at >= CAST($since AS TIMESTAMP))
ORDER BY s.stopped_at DESC, s.job_id, s.run_id
