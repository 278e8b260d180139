-- Slowest steps: each step's duration from its recorded start and finish (else its events' span)
-- param: limit = 20  how many steps
-- param: job_id = NULL  only steps of this job
-- param: expert = NULL  only steps run by this expert key
-- A step's duration is step.startedAt -> step.finishedAt as recorded in the event that closed
-- it; a step that never closed (a live or interrupted run) spans its first to its last event.
WITH event_spans AS (
    SELECT
        job_id,
        run_id,
        step_number,
        arg_min(expert_key, timestamp_ms) AS expert_key,
        min(event_time) AS first_event_at,
        max(event_time) AS last_event_at,
        count(*) AS event_count,
        arg_max(type, timestamp_ms) AS last_event_type
    FROM events
    WHERE step_number IS NOT NULL
    GROUP BY job_id, run_id, step_number
)
SELECT
    e.job_id,
    e.run_id,
    e.step_number,
    coalesce(s.expert_key, e.expert_key) AS expert_key,
    coalesce(s.started_at, e.first_event_at) AS started_at,
    coalesce(s.finished_at, e.last_event_at) AS finished_at,
    coalesce(s.duration_ms, date_diff('millisecond', e.first_event_at, e.last_event_at))
        AS duration_ms,
    s.event_id IS NOT NULL AS finished,
    coalesce(s.type, e.last_event_type) AS last_event_type,
    e.event_count,
    s.tool_call_count,
    s.total_tokens
FROM event_spans AS e
LEFT JOIN steps AS s USING (job_id, run_id, step_number)
WHERE ($job_id IS NULL OR e.job_id = CAST($job_id AS VARCHAR))
  AND ($expert IS NULL OR coalesce(s.expert_key, e.expert_key) = CAST($expert AS VARCHAR))
ORDER BY duration_ms DESC NULLS LAST, e.job_id, e.run_id, e.step_number
LIMIT CAST($limit AS BIGINT)
