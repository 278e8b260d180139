-- The jobs of the store, newest first, for `perstack log jobs`.
-- param: status = NULL  only jobs with this status (`stale`: running jobs with no recent event)
-- param: expert = NULL  only jobs whose coordinator expert key is this
-- param: since = NULL  only jobs started at or after this UTC time
-- param: until = NULL  only jobs started before this UTC time
-- param: limit = NULL  at most this many jobs
-- duration_ms is wall time (start to finish, or to the latest event while running), active_ms
-- the time the job's steps ran: the difference is time spent waiting, e.g. for a user's answer.
SELECT
    job_id,
    status,
    is_stale AS stale,
    coordinator_expert_key AS expert,
    total_steps AS steps,
    total_tokens,
    started_at,
    finished_at,
    last_event_at,
    duration_ms,
    active_ms,
    run_count AS runs,
    event_count AS events
FROM jobs
WHERE ($status IS NULL OR status = $status OR ($status = 'stale' AND is_stale))
    AND ($expert IS NULL OR coordinator_expert_key = $expert)
    AND ($since IS NULL OR started_at >= $since)
    AND ($until IS NULL OR started_at < $until)
ORDER BY started_at DESC NULLS LAST, job_id
LIMIT coalesce($limit, 9223372036854775807);
