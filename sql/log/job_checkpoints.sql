-- The checkpoints of a job ordered by stepNumber, ties by file name (the original's order).
-- param: job_id  the job
SELECT record, source_key
FROM checkpoints
WHERE job_id = $job_id
ORDER BY step_number, checkpoint_id;
