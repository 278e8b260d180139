-- _run_step_sums (internal): the steps of each run counted and summed once, for run_costs
-- and job_costs (a job's sums are the sums of its runs'). Costs stay DECIMAL here, an exact
-- sum whatever order DuckDB's threads add them in (a sum of doubles moved the sixth decimal
-- between two runs of the same query), so a job's total is the same as summing its steps;
-- the views turn them into DOUBLE. Token sums stay HUGEINT likewise.
CREATE OR REPLACE VIEW _run_step_sums AS
SELECT
    job_id,
    run_id,
    arg_min(expert_key, step_number) AS expert_key,
    any_value(model) AS model,  -- one model per run: step_costs takes it from _run_models
    min(event_time) AS first_step_at,
    count(*) AS step_count,
    count(*) FILTER (WHERE cost_usd IS NULL) AS unpriced_steps,
    sum(input_tokens) AS input_tokens,
    sum(cached_input_tokens) AS cached_input_tokens,
    sum(output_tokens) AS output_tokens,
    sum(reasoning_tokens) AS reasoning_tokens,
    sum(CAST(input_cost_usd AS DECIMAL(38, 12))) AS input_cost_usd,
    sum(CAST(cache_read_cost_usd AS DECIMAL(38, 12))) AS cache_read_cost_usd,
    sum(CAST(output_cost_usd AS DECIMAL(38, 12))) AS output_cost_usd,
    sum(CAST(cost_usd AS DECIMAL(38, 12))) AS cost_usd,
    any_value(reprice_model) AS reprice_model,
    count(*) FILTER (WHERE reprice_cost_usd IS NULL) AS unrepriced_steps,
    sum(CAST(reprice_cost_usd AS DECIMAL(38, 12))) AS reprice_cost_usd
FROM step_costs
GROUP BY job_id, run_id;
