-- job_costs: every job with finished steps, the models its runs used and the cost of its
-- steps. One unpriced step makes the job's cost NULL (a partial sum would pass for the whole).
-- Its sums add up its runs' exact (DECIMAL) sums: the same as summing its steps.
CREATE OR REPLACE VIEW job_costs AS
WITH run_sums AS (
    SELECT
        job_id,
        list(DISTINCT model ORDER BY model) FILTER (WHERE model IS NOT NULL) AS models,
        min(first_step_at) AS first_step_at,
        TRY_CAST(sum(step_count) AS BIGINT) AS step_count,
        TRY_CAST(sum(unpriced_steps) AS BIGINT) AS unpriced_steps,
        TRY_CAST(sum(input_tokens) AS BIGINT) AS input_tokens,
        TRY_CAST(sum(cached_input_tokens) AS BIGINT) AS cached_input_tokens,
        TRY_CAST(sum(output_tokens) AS BIGINT) AS output_tokens,
        TRY_CAST(sum(reasoning_tokens) AS BIGINT) AS reasoning_tokens,
        CAST(sum(input_cost_usd) AS DOUBLE) AS input_cost_usd,
        CAST(sum(cache_read_cost_usd) AS DOUBLE) AS cache_read_cost_usd,
        CAST(sum(output_cost_usd) AS DOUBLE) AS output_cost_usd,
        CAST(sum(cost_usd) AS DOUBLE) AS cost_usd,
        any_value(reprice_model) AS reprice_model,
        TRY_CAST(sum(unrepriced_steps) AS BIGINT) AS unrepriced_steps,
        CAST(sum(reprice_cost_usd) AS DOUBLE) AS reprice_cost_usd
    FROM _run_step_sums
    GROUP BY job_id
)
SELECT
    job_id,
    models,
    first_step_at,
    step_count,
    unpriced_steps,
    input_tokens,
    cached_input_tokens,
    output_tokens,
    reasoning_tokens,
    CASE WHEN unpriced_steps = 0 THEN input_cost_usd END AS input_cost_usd,
    CASE WHEN unpriced_steps = 0 THEN cache_read_cost_usd END AS cache_read_cost_usd,
    CASE WHEN unpriced_steps = 0 THEN output_cost_usd END AS output_cost_usd,
    CASE WHEN unpriced_steps = 0 THEN cost_usd END AS cost_usd,
    reprice_model,
    CASE WHEN unrepriced_steps = 0 THEN reprice_cost_usd END AS reprice_cost_usd
FROM run_sums;
