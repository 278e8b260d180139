-- job_costs: every job with finished steps, the models its runs used and the cost of its
-- steps. One unpriced step makes the job's cost NULL (a partial sum would pass for the whole).
-- Costs are summed as DECIMAL: a sum of doubles depends on the order DuckDB's threads add
-- them in, which moved the sixth decimal between two runs of the same query.
CREATE OR REPLACE VIEW job_costs AS
WITH step_sums AS (
    SELECT
        job_id,
        list(DISTINCT model ORDER BY model) FILTER (WHERE model IS NOT NULL) AS models,
        min(event_time) AS first_step_at,
        count(*) AS step_count,
        count(*) FILTER (WHERE cost_usd IS NULL) AS unpriced_steps,
        CAST(sum(input_tokens) AS BIGINT) AS input_tokens,
        CAST(sum(cached_input_tokens) AS BIGINT) AS cached_input_tokens,
        CAST(sum(output_tokens) AS BIGINT) AS output_tokens,
        CAST(sum(reasoning_tokens) AS BIGINT) AS reasoning_tokens,
        CAST(sum(CAST(input_cost_usd AS DECIMAL(38, 12))) AS DOUBLE) AS input_cost_usd,
        CAST(sum(CAST(cache_read_cost_usd AS DECIMAL(38, 12))) AS DOUBLE) AS cache_read_cost_usd,
        CAST(sum(CAST(output_cost_usd AS DECIMAL(38, 12))) AS DOUBLE) AS output_cost_usd,
        CAST(sum(CAST(cost_usd AS DECIMAL(38, 12))) AS DOUBLE) AS cost_usd,
        any_value(reprice_model) AS reprice_model,
        count(*) FILTER (WHERE reprice_cost_usd IS NULL) AS unrepriced_steps,
        CAST(sum(CAST(reprice_cost_usd AS DECIMAL(38, 12))) AS DOUBLE) AS reprice_cost_usd
    FROM step_costs
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
FROM step_sums;
