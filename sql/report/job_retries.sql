-- The retries of a batch of jobs: when, in which run and step, and why
-- param: job_ids  the jobs of the batch (a list of job ids)
-- param: reason_limit = 240  characters of the reason kept per retry
SELECT
    job_id,
    run_id,
    step_number,
    event_time,
    left(record ->> '$.reason', CAST($reason_limit AS BIGINT)) AS reason
FROM events
WHERE list_contains(CAST($job_ids AS VARCHAR[]), job_id) AND type = 'retry'
ORDER BY job_id, event_time
