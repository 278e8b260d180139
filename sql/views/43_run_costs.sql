-- run_costs: every run with its model, where the model was found, and the cost of its steps.
-- One unpriced step makes the run's cost NULL (a partial sum would pass for the whole).
-- Costs are summed as DECIMAL: a sum of doubles depends on the order DuckDB's threads add
-- them in, which moved the sixth decimal between two runs of the same query.
CREATE OR REPLACE VIEW run_costs AS
WITH step_sums AS (
    SELECT
        job_id,
        run_id,
        arg_min(expert_key, step_number) AS expert_key,
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
        count(*) FILTER (WHERE reprice_cost_usd IS NULL) AS unrepriced_steps,
        CAST(sum(CAST(reprice_cost_usd AS DECIMAL(38, 12))) AS DOUBLE) AS reprice_cost_usd
    FROM step_costs
    GROUP BY job_id, run_id
)
SELECT
    m.job_id,
    m.run_id,
    s.expert_key,
    m.model,
    m.provider_name,
    m.model_source,
    coalesce(s.step_count, 0) AS step_count,
    coalesce(s.unpriced_steps, 0) AS unpriced_steps,
    s.input_tokens,
    s.cached_input_tokens,
    s.output_tokens,
    s.reasoning_tokens,
    CASE WHEN s.unpriced_steps = 0 THEN s.input_cost_usd END AS input_cost_usd,
    CASE WHEN s.unpriced_steps = 0 THEN s.cache_read_cost_usd END AS cache_read_cost_usd,
    CASE WHEN s.unpriced_steps = 0 THEN s.output_cost_usd END AS output_cost_usd,
    CASE WHEN s.unpriced_steps = 0 THEN s.cost_usd END AS cost_usd,
    m.reprice_model,
    CASE WHEN s.unrepriced_steps = 0 THEN s.reprice_cost_usd END AS reprice_cost_usd
FROM _run_models AS m
LEFT JOIN step_sums AS s USING (job_id, run_id);
