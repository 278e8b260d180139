-- Errors and retries over time: runs stopped by an error, retries and failed tool results per period
-- param: bucket = day  period length: minute, hour, day, week or month
-- param: since = NULL  only events at or after this time (e.g. 2026-11-01)
-- param: until = NULL  only events before this time
WITH facts AS (
    SELECT
        event_time,
        job_id,
        type AS fact,
        CASE WHEN type = 'stopRunByError' THEN error_name END AS error_name
    FROM events
    WHERE type IN ('startRun', 'stopRunByError', 'retry')
    UNION ALL
    SELECT
        event_time,
        job_id,
        CASE WHEN is_error THEN 'toolError' ELSE 'toolResult' END,
        NULL
    FROM tool_results
)
SELECT
    date_trunc(CAST($bucket AS VARCHAR), event_time) AS period,
    count(*) FILTER (WHERE fact = 'startRun') AS runs_started,
    count(*) FILTER (WHERE fact = 'stopRunByError') AS runs_stopped_by_error,
    count(*) FILTER (WHERE fact = 'retry') AS retries,
    count(*) FILTER (WHERE fact IN ('toolResult', 'toolError')) AS tool_results,
    count(*) FILTER (WHERE fact = 'toolError') AS tool_errors,
    round(
        count(*) FILTER (WHERE fact = 'stopRunByError')
        / nullif(count(*) FILTER (WHERE fact = 'startRun'), 0),
        4
    ) AS run_error_rate,
    count(DISTINCT job_id) FILTER (WHERE fact IN ('stopRunByError', 'retry', 'toolError'))
        AS jobs_with_errors,
    list_sort(list_distinct(list(error_name))) AS error_names
FROM facts
WHERE ($since IS NULL OR event_time >= CAST($since AS TIMESTAMP))
  AND ($until IS NULL OR event_time < CAST($until AS TIMESTAMP))
GROUP BY period
ORDER BY period
