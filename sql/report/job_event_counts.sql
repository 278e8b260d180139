-- Events per type for a batch of jobs
-- param: job_ids  the jobs of the batch (a list of job ids)
SELECT job_id, type, count(*) AS events
FROM events
WHERE list_contains(CAST($job_ids AS VARCHAR[]), job_id)
GROUP BY job_id, type
ORDER BY job_id, events DESC, type
