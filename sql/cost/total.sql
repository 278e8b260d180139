-- The cost of all steps in a time range (NULL when one has no price), and how many there are.
-- Costs are summed as DECIMAL: a sum of doubles depends on the order DuckDB's threads add
-- them in, which moved the sixth decimal between two runs of the same query.
SELECT
    CASE WHEN count(*) FILTER (WHERE cost_usd IS NULL) = 0 THEN CAST(sum(CAST(cost_usd AS DECIMAL(38, 12))) AS DOUBLE) END AS cost_usd,
    count(*) AS steps
FROM step_costs
WHERE
    ($since IS NULL OR event_time >= CAST($since AS TIMESTAMP))
    AND ($until IS NULL OR event_time < CAST($until AS TIMESTAMP));
