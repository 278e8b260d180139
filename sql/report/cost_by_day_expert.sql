-- Cost in USD per day (UTC) by the expert that ran the step, of the steps that have a price
-- A step's day is its event time, as `perstack log cost --by day` counts it. Steps without a
-- price are left out here, never summed as $0: unpriced_steps.sql counts them for the note.
-- Summed as DECIMAL, as the cost views do: a sum of doubles depends on the order DuckDB's
-- threads add them in.
SELECT
    CAST(c.event_time AS DATE) AS day,
    c.expert_key,
    count(*) AS steps,
    CAST(sum(CAST(c.cost_usd AS DECIMAL(38, 12))) AS DOUBLE) AS cost_usd
FROM step_costs AS c
JOIN _report_jobs USING (job_id)
WHERE c.cost_usd IS NOT NULL
GROUP BY ALL
ORDER BY day, c.expert_key
