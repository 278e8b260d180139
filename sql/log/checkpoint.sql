-- One checkpoint of a job, with the run whose events it belongs to, and its file.
-- param: job_id  the job
-- param: checkpoint_id  the checkpoint
SELECT record, run_id, source_key
FROM checkpoints
WHERE job_id = $job_id AND checkpoint_id = $checkpoint_id;
