-- Token usage by expert and model per day (UTC), summed over finished steps
-- param: since = NULL  only steps finished at or after this time (e.g. 2026-11-01)
-- param: until = NULL  only steps finished before this time
-- param: expert = NULL  only this expert key
-- Steps carry their own usage (they add up to the job's usage), so this works on stores
-- without job.json. The model comes from the run's run-setting.json; without one it is
-- 'unknown'.
SELECT
    CAST(coalesce(s.finished_at, s.event_time) AS DATE) AS day,
    s.expert_key,
    coalesce(rs.model, 'unknown') AS model,
    count(DISTINCT s.job_id) AS jobs,
    count(DISTINCT s.job_id || '/' || s.run_id) AS runs,
    count(*) AS steps,
    TRY_CAST(sum(s.input_tokens) AS BIGINT) AS input_tokens,
    TRY_CAST(sum(s.output_tokens) AS BIGINT) AS output_tokens,
    TRY_CAST(sum(s.reasoning_tokens) AS BIGINT) AS reasoning_tokens,
    TRY_CAST(sum(s.cached_input_tokens) AS BIGINT) AS cached_input_tokens,
    TRY_CAST(sum(s.total_tokens) AS BIGINT) AS total_tokens
FROM steps AS s
LEFT JOIN run_settings AS rs USING (job_id, run_id)
WHERE ($since IS NULL OR coalesce(s.finished_at, s.event_time) >= CAST($since AS TIMESTAMP))
  AND ($until IS NULL OR coalesce(s.finished_at, s.event_time) < CAST($until AS TIMESTAMP))
  AND ($expert IS NULL OR s.expert_key = CAST($expert AS VARCHAR))
GROUP BY ALL
ORDER BY day, total_tokens DESC, s.expert_key, model
