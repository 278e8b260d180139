-- export selection: the jobs in scope that this run must (re)write. A full export selects every
-- job in scope; an incremental one only those its shard's manifest does not list, or lists with
-- another fingerprint (files added or changed since: a job that was still running) or batch.
-- _export_previous (job_id, batch, fingerprint) holds the jobs the shard's manifest lists.
-- param: incremental = false  keep what the manifest lists and add only new or changed jobs
CREATE OR REPLACE TEMP TABLE _export_selected AS
SELECT j.job_id, j.batch
FROM _export_jobs AS j
LEFT JOIN _export_previous AS p USING (job_id)
WHERE j.in_scope
    AND (
        NOT $incremental
        OR p.job_id IS NULL
        OR p.fingerprint IS DISTINCT FROM j.fingerprint
        OR p.batch <> j.batch
    );
