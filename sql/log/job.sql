-- One job as the log view shows it: its job.json record when it has one, else the facts
-- derived from its data (spec §4).
-- param: job_id  the job
SELECT
    job_id,
    status,
    coordinator_expert_key,
    total_steps,
    max_steps,
    input_tokens,
    output_tokens,
    reasoning_tokens,
    total_tokens,
    cached_input_tokens,
    epoch_ms(started_at) AS started_at_ms,
    epoch_ms(finished_at) AS finished_at_ms,
    record
FROM jobs
WHERE job_id = $job_id;
