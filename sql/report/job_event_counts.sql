-- Events per type for the reported jobs
-- Made once per report as the temporary table _report_job_event_counts; job views read it in batches.
-- param: limit = 2000  only the newest jobs, as many as the jobs table lists
CREATE OR REPLACE TEMP TABLE _report_job_event_counts AS
WITH _chosen AS (
    SELECT job_id FROM _report_jobs WHERE job_order <= CAST($limit AS BIGINT)
)
SELECT job_id, type, count(*) AS events
FROM events
JOIN _chosen USING (job_id)
GROUP BY job_id, type
