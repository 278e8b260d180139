-- The cost of all steps in a time range (NULL when one has no price), and how many there are.
SELECT
    CASE WHEN count(*) FILTER (WHERE cost_usd IS NULL) = 0 THEN sum(cost_usd) END AS cost_usd,
    count(*) AS steps
FROM step_costs
WHERE
    ($since IS NULL OR event_time >= CAST($since AS TIMESTAMP))
    AND ($until IS NULL OR event_time < CAST($until AS TIMESTAMP));
