-- The most expensive steps in a time range: job, run, step, expert, model and cost.
-- param: since = NULL  steps at or after this time
-- param: until = NULL  steps before this time
-- param: limit = 20  at most this many steps
SELECT
    job_id,
    run_id,
    step_number,
    event_time,
    expert_key,
    model,
    model_source,
    input_tokens,
    cached_input_tokens,
    output_tokens,
    round(input_cost_usd, 6) AS input_cost_usd,
    round(cache_read_cost_usd, 6) AS cache_read_cost_usd,
    round(output_cost_usd, 6) AS output_cost_usd,
    round(cost_usd, 6) AS cost_usd,
    round(reprice_cost_usd, 6) AS reprice_cost_usd
FROM step_costs
WHERE
    ($since IS NULL OR event_time >= CAST($since AS TIMESTAMP))
    AND ($until IS NULL OR event_time < CAST($until AS TIMESTAMP))
ORDER BY cost_usd DESC NULLS LAST, job_id, step_number
LIMIT CAST($limit AS BIGINT);
