-- Runs of the selected jobs that stopped early (step limit, error, interactive tool), and why
-- param: limit = 50  at most this many runs, the latest first
SELECT
    e.job_id,
    e.run_id,
    e.expert_key,
    CASE e.type
        WHEN 'stopRunByExceededMaxSteps' THEN 'max steps'
        WHEN 'stopRunByError' THEN 'error'
        WHEN 'stopRunByInteractiveTool' THEN 'interactive'
    END AS reason,
    CASE e.type
        WHEN 'stopRunByError' THEN
            concat_ws(': ', e.error_name, e.error_message)
        WHEN 'stopRunByInteractiveTool' THEN
            'waiting on ' || (e.record ->> '$.checkpoint.pendingToolCalls[0].toolName')
        WHEN 'stopRunByExceededMaxSteps' THEN 'reached step ' || CAST(e.step_number AS VARCHAR)
    END AS detail,
    e.event_time AS stopped_at,
    e.step_number
FROM events AS e
JOIN _report_jobs USING (job_id)
WHERE e.type IN ('stopRunByExceededMaxSteps', 'stopRunByError', 'stopRunByInteractiveTool')
ORDER BY e.event_time DESC, e.job_id, e.run_id
LIMIT CAST($limit AS BIGINT)
