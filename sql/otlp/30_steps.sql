-- OTLP export: the finished steps of some jobs, one chat span each, with their own usage and
-- their real start and end (the closing event's time where the step has none).
-- param: job_ids  the jobs (a list of ids)
SELECT
    s.job_id,
    s.run_id,
    s.step_number,
    s.expert_key,
    epoch_ns(coalesce(s.started_at, s.event_time)) AS start_ns,
    epoch_ns(coalesce(s.finished_at, s.event_time)) AS end_ns,
    s.input_tokens,
    s.output_tokens,
    s.reasoning_tokens,
    s.total_tokens,
    s.cached_input_tokens,
    s.type AS closed_by
FROM steps AS s
WHERE s.job_id IN (SELECT unnest($job_ids))
ORDER BY s.job_id, s.run_id, s.step_number;
