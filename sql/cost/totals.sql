-- Cost totals of the steps in a time range, grouped by day, week, month, expert, model or job.
-- One unpriced step makes its group's cost NULL; `unpriced_steps` counts them.
-- param: by = day  day, week, month, expert, model or job
-- param: since = NULL  steps at or after this time
-- param: until = NULL  steps before this time
-- Costs are summed as DECIMAL: a sum of doubles depends on the order DuckDB's threads add
-- them in, which moved the sixth decimal between two runs of the same query.
WITH chosen AS (
    SELECT
        CASE $by
            WHEN 'day' THEN strftime(event_time, '%Y-%m-%d')
            WHEN 'week' THEN strftime(date_trunc('week', event_time), '%Y-%m-%d')
            WHEN 'month' THEN strftime(event_time, '%Y-%m')
            WHEN 'expert' THEN expert_key
            WHEN 'model' THEN coalesce(model, '(unknown)')
            WHEN 'job' THEN job_id
        END AS grouping_key,
        *
    FROM step_costs
    WHERE
        ($since IS NULL OR event_time >= CAST($since AS TIMESTAMP))
        AND ($until IS NULL OR event_time < CAST($until AS TIMESTAMP))
),
totals AS (
    SELECT
        grouping_key,
        count(DISTINCT job_id) AS jobs,
        count(*) AS steps,
        count(*) FILTER (WHERE cost_usd IS NULL) AS unpriced_steps,
        TRY_CAST(sum(input_tokens) AS BIGINT) AS input_tokens,
        TRY_CAST(sum(cached_input_tokens) AS BIGINT) AS cached_input_tokens,
        TRY_CAST(sum(output_tokens) AS BIGINT) AS output_tokens,
        CAST(sum(CAST(input_cost_usd AS DECIMAL(38, 12))) AS DOUBLE) AS input_cost_usd,
        CAST(sum(CAST(cache_read_cost_usd AS DECIMAL(38, 12))) AS DOUBLE) AS cache_read_cost_usd,
        CAST(sum(CAST(output_cost_usd AS DECIMAL(38, 12))) AS DOUBLE) AS output_cost_usd,
        CAST(sum(CAST(cost_usd AS DECIMAL(38, 12))) AS DOUBLE) AS cost_usd,
        count(*) FILTER (WHERE reprice_cost_usd IS NULL) AS unrepriced_steps,
        CAST(sum(CAST(reprice_cost_usd AS DECIMAL(38, 12))) AS DOUBLE) AS reprice_cost_usd
    FROM chosen
    GROUP BY grouping_key
)
SELECT
    grouping_key,
    jobs,
    steps,
    unpriced_steps,
    input_tokens,
    cached_input_tokens,
    output_tokens,
    round(CASE WHEN unpriced_steps = 0 THEN input_cost_usd END, 6) AS input_cost_usd,
    round(CASE WHEN unpriced_steps = 0 THEN cache_read_cost_usd END, 6) AS cache_read_cost_usd,
    round(CASE WHEN unpriced_steps = 0 THEN output_cost_usd END, 6) AS output_cost_usd,
    round(CASE WHEN unpriced_steps = 0 THEN cost_usd END, 6) AS cost_usd,
    round(CASE WHEN unrepriced_steps = 0 THEN reprice_cost_usd END, 6) AS reprice_cost_usd
FROM totals
ORDER BY
    CASE WHEN $by IN ('day', 'week', 'month') THEN grouping_key END,
    cost_usd DESC NULLS LAST,
    grouping_key;
