-- OTLP export: the jobs to send, each with a fingerprint of the stored objects it was decoded
-- from (it changes whenever one of its files is added, changed or removed), oldest first.
-- param: since  jobs started at or after (naive UTC; NULL: no bound)
-- param: until  jobs started before (naive UTC; NULL: no bound)
-- param: job_id  one job only (NULL: every job)
WITH fingerprints AS (
    SELECT
        job_id,
        md5(string_agg(key || '|' || size || '|' || version, chr(10) ORDER BY key)) AS fingerprint
    FROM _objects
    GROUP BY job_id
)
SELECT j.job_id, j.status, f.fingerprint
FROM jobs AS j
LEFT JOIN fingerprints AS f USING (job_id)
WHERE ($since IS NULL OR j.started_at >= $since)
    AND ($until IS NULL OR j.started_at < $until)
    AND ($job_id IS NULL OR j.job_id = $job_id)
ORDER BY j.started_at NULLS LAST, j.job_id;
