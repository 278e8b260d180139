-- Errors and retries over time: runs stopped by an error, retries and failed tool results per period
-- param: bucket = day  period length: hour, day, week or month
-- param: since = NULL  only events at or after this time (e.g. 2026-11-01)
-- param: until = NULL  only events before this time
WITH facts AS (
    SELECT
        event_time,
        job_id,
        CASE WHEN type = 'startRun' THEN 1 ELSE 0 END AS run_started,
        CASE WHEN type = 'stopRunByError' THEN 1 ELSE 0 END AS run_error,
        CASE WHEN type = 'retry' THEN 1 ELSE 0 END AS retry,
        0 AS tool_result,
        0 AS tool_error,
        CASE WHEN type = 'stopRunByError' THEN record ->> '$.error.name' END AS error_name
    FROM events
    WHERE type IN ('startRun', 'stopRunByError', 'retry')
    UNION ALL
    SELECT event_time, job_id, 0, 0, 0, 1, CASE WHEN is_error THEN 1 ELSE 0 END, NULL
    FROM tool_results
)
SELECT
    date_trunc(CAST($bucket AS VARCHAR), event_time) AS period,
    sum(run_started) AS runs_started,
    sum(run_error) AS runs_stopped_by_error,
    sum(retry) AS retries,
    sum(tool_result) AS tool_results,
    sum(tool_error) AS tool_errors,
    round(sum(run_error) / nullif(sum(run_started), 0), 4) AS run_error_rate,
    count(DISTINCT job_id) FILTER (WHERE run_error + retry + tool_error > 0) AS jobs_with_errors,
    list_sort(list_distinct(list(error_name))) AS error_names
FROM facts
WHERE ($since IS NULL OR event_time >= CAST($since AS TIMESTAMP))
  AND ($until IS NULL OR event_time < CAST($until AS TIMESTAMP))
GROUP BY period
ORDER BY period
