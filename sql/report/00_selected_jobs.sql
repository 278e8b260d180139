-- The jobs a report covers, newest first: a temporary table every other report query joins
-- param: since = NULL  only jobs started at or after this time
-- param: until = NULL  only jobs started before this time
-- param: job_id = NULL  only this job
-- param: expert = NULL  only jobs whose coordinator is this expert key
-- Temporary (this connection only): the report never writes into the cache's tables.
CREATE OR REPLACE TEMP TABLE _report_jobs AS
SELECT
    job_id,
    row_number() OVER (ORDER BY started_at DESC NULLS LAST, job_id) AS job_order
FROM jobs
WHERE ($since IS NULL OR started_at >= CAST($since AS TIMESTAMP))
  AND ($until IS NULL OR started_at < CAST($until AS TIMESTAMP))
  AND ($job_id IS NULL OR job_id = CAST($job_id AS VARCHAR))
  AND ($expert IS NULL OR coordinator_expert_key = CAST($expert AS VARCHAR))
