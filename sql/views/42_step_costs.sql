-- step_costs: every row of `steps` priced in USD at query time, from the step's own usage and
-- the price of its run's model at the time of the step (docs/schema.md says how each token
-- kind is billed). No price for the model: NULL costs, never 0.
CREATE OR REPLACE VIEW step_costs AS
WITH billed AS (
    SELECT
        s.job_id,
        s.run_id,
        s.event_id,
        s.step_number,
        s.event_time,
        s.expert_key,
        m.model,
        m.provider_name,
        m.model_source,
        m.reprice_model,
        m.reprice_provider,
        s.input_tokens,
        s.cached_input_tokens,
        s.output_tokens,
        s.reasoning_tokens,
        coalesce(s.cached_input_tokens, 0) AS cache_read_tokens,
        -- Cached input is part of the input count (the AI SDK's usage contract); a count
        -- above the input can only be one reported beside it. HUGEINT: counts that fit BIGINT
        -- can still overflow it when added (a broken or hostile store), which must not fail.
        CASE
            WHEN coalesce(s.cached_input_tokens, 0) <= coalesce(s.input_tokens, 0)
                THEN CAST(coalesce(s.input_tokens, 0) AS HUGEINT)
                    - coalesce(s.cached_input_tokens, 0)
            ELSE coalesce(s.input_tokens, 0)
        END AS uncached_input_tokens,
        -- Reasoning is billed as output. Most providers count it inside the output tokens;
        -- when the total shows it was counted beside them (Google), it is added.
        CAST(coalesce(s.output_tokens, 0) AS HUGEINT) + CASE
            WHEN coalesce(s.reasoning_tokens, 0) > 0
                AND s.total_tokens >= CAST(coalesce(s.input_tokens, 0) AS HUGEINT)
                    + coalesce(s.output_tokens, 0) + s.reasoning_tokens
                THEN s.reasoning_tokens
            ELSE 0
        END AS billed_output_tokens,
        coalesce(s.finished_at, s.event_time) AS priced_at
    FROM steps AS s
    LEFT JOIN _run_models AS m USING (job_id, run_id)
),
priced AS (
    SELECT
        b.*,
        p.input_per_mtok,
        p.output_per_mtok,
        p.cache_read_per_mtok,
        p.price_source,
        (
            b.uncached_input_tokens * rp.input_per_mtok
            + b.cache_read_tokens * rp.cache_read_per_mtok
            + b.billed_output_tokens * rp.output_per_mtok
        ) / 1e6 AS reprice_cost_usd
    FROM billed AS b
    LEFT JOIN _prices AS p
        ON p.model = b.model
        AND p.provider_name IS NOT DISTINCT FROM b.provider_name
        AND (p.valid_from IS NULL OR b.priced_at >= p.valid_from)
        AND (p.valid_until IS NULL OR b.priced_at < p.valid_until)
    LEFT JOIN _prices AS rp
        ON rp.model = b.reprice_model
        AND rp.provider_name IS NOT DISTINCT FROM b.reprice_provider
        AND (rp.valid_from IS NULL OR b.priced_at >= rp.valid_from)
        AND (rp.valid_until IS NULL OR b.priced_at < rp.valid_until)
)
SELECT
    job_id,
    run_id,
    event_id,
    step_number,
    event_time,
    expert_key,
    model,
    provider_name,
    model_source,
    input_tokens,
    cached_input_tokens,
    output_tokens,
    reasoning_tokens,
    uncached_input_tokens * input_per_mtok / 1e6 AS input_cost_usd,
    cache_read_tokens * cache_read_per_mtok / 1e6 AS cache_read_cost_usd,
    billed_output_tokens * output_per_mtok / 1e6 AS output_cost_usd,
    (
        uncached_input_tokens * input_per_mtok
        + cache_read_tokens * cache_read_per_mtok
        + billed_output_tokens * output_per_mtok
    ) / 1e6 AS cost_usd,
    price_source,
    reprice_model,
    reprice_cost_usd
FROM priced;
