-- The selected jobs' finished steps that have no price, by their run's model, for the note
-- under the cost chart: a model without a price, or (model NULL) runs that name no model.
SELECT
    c.model,
    count(*) AS steps,
    count(DISTINCT (c.job_id, c.run_id)) AS runs
FROM step_costs AS c
JOIN _report_jobs USING (job_id)
WHERE c.cost_usd IS NULL
GROUP BY c.model
ORDER BY c.model NULLS FIRST
