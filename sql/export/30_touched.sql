-- export touched batches: the batches this run rewrites whole (their old files are replaced or
-- removed): those of the selected jobs, and the batch a selected job was exported in before
-- (a job whose start date changed moves out of it).
CREATE OR REPLACE TEMP TABLE _export_touched AS
SELECT batch FROM _export_selected
UNION
SELECT p.batch FROM _export_previous AS p SEMI JOIN _export_selected USING (job_id);
