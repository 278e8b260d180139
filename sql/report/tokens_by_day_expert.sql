-- Tokens per day (UTC) by the expert that ran the step, summed over finished steps
-- Steps carry their own usage and add up to the job's usage (docs/schema.md).
SELECT
    CAST(coalesce(s.finished_at, s.event_time) AS DATE) AS day,
    s.expert_key,
    TRY_CAST(sum(s.total_tokens) AS BIGINT) AS total_tokens
FROM steps AS s
JOIN _report_jobs USING (job_id)
GROUP BY ALL
ORDER BY day, s.expert_key
