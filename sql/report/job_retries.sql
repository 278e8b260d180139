-- The retries of the reported jobs: when, in which run and step, and why
-- Made once per report as the temporary table _report_job_retries; job views read it in batches.
-- param: limit = 2000  only the newest jobs, as many as the jobs table lists
-- param: reason_limit = 160  characters of the reason kept per retry
CREATE OR REPLACE TEMP TABLE _report_job_retries AS
WITH _chosen AS (
    SELECT job_id FROM _report_jobs WHERE job_order <= CAST($limit AS BIGINT)
)
SELECT
    job_id,
    run_id,
    step_number,
    event_time,
    left(record ->> '$.reason', CAST($reason_limit AS BIGINT)) AS reason
FROM events
JOIN _chosen USING (job_id)
WHERE type = 'retry'
