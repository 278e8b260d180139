-- run_costs: every run with its model, where the model was found, and the cost of its steps.
-- One unpriced step makes the run's cost NULL (a partial sum would pass for the whole).
CREATE OR REPLACE VIEW run_costs AS
SELECT
    m.job_id,
    m.run_id,
    s.expert_key,
    m.model,
    m.provider_name,
    m.model_source,
    coalesce(s.step_count, 0) AS step_count,
    coalesce(s.unpriced_steps, 0) AS unpriced_steps,
    TRY_CAST(s.input_tokens AS BIGINT) AS input_tokens,
    TRY_CAST(s.cached_input_tokens AS BIGINT) AS cached_input_tokens,
    TRY_CAST(s.output_tokens AS BIGINT) AS output_tokens,
    TRY_CAST(s.reasoning_tokens AS BIGINT) AS reasoning_tokens,
    CASE WHEN s.unpriced_steps = 0 THEN CAST(s.input_cost_usd AS DOUBLE) END AS input_cost_usd,
    CASE WHEN s.unpriced_steps = 0 THEN CAST(s.cache_read_cost_usd AS DOUBLE) END
        AS cache_read_cost_usd,
    CASE WHEN s.unpriced_steps = 0 THEN CAST(s.output_cost_usd AS DOUBLE) END AS output_cost_usd,
    CASE WHEN s.unpriced_steps = 0 THEN CAST(s.cost_usd AS DOUBLE) END AS cost_usd,
    m.reprice_model,
    CASE WHEN s.unrepriced_steps = 0 THEN CAST(s.reprice_cost_usd AS DOUBLE) END
        AS reprice_cost_usd
FROM _run_models AS m
LEFT JOIN _run_step_sums AS s USING (job_id, run_id);
