-- export write set: the jobs whose rows this run writes. A batch is always written whole, so
-- its files are replaced under the same names: every selected job, plus (incremental) every job
-- of a touched batch that the manifest lists and the store still holds.
-- param: incremental = false  keep what the manifest lists and add only new or changed jobs
CREATE OR REPLACE TEMP TABLE _export_write AS
SELECT j.job_id, j.status, j.job_date, j.batch, j.fingerprint
FROM _export_jobs AS j
WHERE j.batch IN (SELECT batch FROM _export_touched)
    AND (
        j.job_id IN (SELECT job_id FROM _export_selected)
        OR ($incremental AND j.job_id IN (SELECT job_id FROM _export_previous))
    );
