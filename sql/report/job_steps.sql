-- The steps of a batch of jobs, each inside its run: duration, tokens, tool calls, retries
-- param: job_ids  the jobs of the batch (a list of job ids)
-- A step's span is step.startedAt -> step.finishedAt from the event that closed it; a step
-- that never closed (a live or interrupted run) spans its first to its last event.
WITH event_spans AS (
    SELECT
        job_id,
        run_id,
        step_number,
        min(event_time) AS first_event_at,
        max(event_time) AS last_event_at,
        count(*) FILTER (WHERE type = 'retry') AS retries
    FROM events
    WHERE list_contains(CAST($job_ids AS VARCHAR[]), job_id) AND step_number IS NOT NULL
    GROUP BY job_id, run_id, step_number
)
SELECT
    e.job_id,
    e.run_id,
    e.step_number,
    coalesce(s.started_at, e.first_event_at) AS started_at,
    coalesce(s.finished_at, e.last_event_at) AS finished_at,
    s.event_id IS NOT NULL AS finished,
    s.type AS closed_by,
    s.total_tokens,
    s.tool_call_count,
    e.retries
FROM event_spans AS e
LEFT JOIN steps AS s USING (job_id, run_id, step_number)
ORDER BY e.job_id, e.run_id, e.step_number
