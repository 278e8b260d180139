-- How many runs of the selected jobs stopped early, per reason (all of them, not only those listed)
SELECT
    CASE e.type
        WHEN 'stopRunByExceededMaxSteps' THEN 'max steps'
        WHEN 'stopRunByError' THEN 'error'
        WHEN 'stopRunByInteractiveTool' THEN 'interactive'
    END AS reason,
    count(*) AS runs
FROM events AS e
JOIN _report_jobs USING (job_id)
WHERE e.type IN ('stopRunByExceededMaxSteps', 'stopRunByError', 'stopRunByInteractiveTool')
GROUP BY ALL
ORDER BY runs DESC, reason
