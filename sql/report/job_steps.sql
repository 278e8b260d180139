-- The steps of the reported jobs, each inside its run: duration, tokens, tool calls, retries
-- Made once per report as the temporary table _report_job_steps; job views read it in batches.
-- param: limit = 2000  only the newest jobs, as many as the jobs table lists
-- A step's span is step.startedAt -> step.finishedAt from the event that closed it; a step
-- that never closed (a live or interrupted run) spans its first to its last event.
CREATE OR REPLACE TEMP TABLE _report_job_steps AS
WITH _chosen AS (
    SELECT job_id FROM _report_jobs WHERE job_order <= CAST($limit AS BIGINT)
),
event_spans AS (
    SELECT
        job_id,
        run_id,
        step_number,
        min(event_time) AS first_event_at,
        max(event_time) AS last_event_at,
        count(*) FILTER (WHERE type = 'retry') AS retries
    FROM events
    JOIN _chosen USING (job_id)
    WHERE step_number IS NOT NULL
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
